"""End to end, expansion signals: a message in a partner's shared channel that names one of the partner's
accounts and says a signal phrase gets its author one private Flag as upsell suggestion, at most
`per_account_per_day` per account and day; never off, for other partners' accounts, for bots, edits or threads
the bot started; Slack's retries once.

Signed requests through the sandbox, the real WebClient and the real database (SQLite or PostgreSQL)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from bot.local import local_bot
from storage.models import AccountPartner, CustomerAccount, Partner, Reminder
from tests.e2e_support import clock, dm_messages, register_via_desk, registration_thread, text_of  # noqa: F401
from workflows.normalize import company_key
from workflows.program import Program, SignalRules

SIGNALS_ON = Program(signals=SignalRules(enabled=True))


@pytest.fixture
def program() -> Program:
    return SIGNALS_ON


@pytest.fixture
def bot(engine, clock, program):  # noqa: F811  (the bot on the test's clock and program)
    with local_bot(engine, program, process_before_response=True, clock=clock) as running:
        running.driver.bot_joined("C0NORTH")
        running.driver.bot_joined("C0GLOBEX")
        yield running


def add_account(engine, name: str, domain: str | None, partner: str, *, owner: str = "U0ALEX",
                submitted_by: str | None = None) -> int:
    """A customer account attached to one partner, straight in storage."""
    with Session(engine) as session:
        partner_id = session.exec(select(Partner.id).where(Partner.name == partner)).one()
        account = CustomerAccount(name=name, name_key=company_key(name), domain=domain, owner_slack_id=owner)
        session.add(account)
        session.flush()
        session.add(AccountPartner(account_id=account.id, partner_id=partner_id, submitted_by_slack_id=submitted_by))
        session.commit()
        return account.id


@pytest.fixture
def acme(bot, engine) -> int:  # after the bot: it imports the demo partners
    return add_account(engine, "Acme Inc.", "acme.com", "Northwind Consulting")


def suggestions(bot, user: str | None = None):
    """The suggestions people saw (ephemerals with the Flag as upsell button), oldest first."""
    return [e for e in bot.sandbox.ephemerals(user) if any(b.action_id == "suggest_upsell"
                                                          for b in bot.sandbox.buttons(e))]


def attempted(bot) -> int:
    """How many suggestions the app tried to send, whatever Slack answered."""
    return sum("suggest_upsell" in json.dumps(call.args.get("blocks"))
               for call in bot.sandbox.calls("chat.postEphemeral"))


def button_of(bot, ephemeral):
    [button] = [b for b in bot.sandbox.buttons(ephemeral) if b.action_id == "suggest_upsell"]
    return button


def value_of(bot, ephemeral) -> dict:
    return json.loads(button_of(bot, ephemeral).value)


@pytest.mark.parametrize("program", [Program()])
def test_signals_are_off_by_default(bot, acme):
    assert bot.driver.post("U0DANA", "C0NORTH", "Acme Inc. needs 40 more seats").status == 200
    assert bot.sandbox.calls("chat.postEphemeral") == []


def test_an_external_partner_user_gets_one_suggestion_a_day_per_account(bot, engine, clock, acme):
    text = "Acme Inc. needs 40 more seats &amp; SSO <https://acme.com|acme.com>"  # as Slack sends it
    assert bot.driver.post("U0DANA", "C0NORTH", text).status == 200
    [suggestion] = suggestions(bot)
    assert (suggestion.user, suggestion.channel, suggestion.thread_ts) == ("U0DANA", "C0NORTH", None)
    assert "*Acme Inc.*" in text_of(suggestion) and "more seats or users" in text_of(suggestion)
    button = button_of(bot, suggestion)
    assert button.text == "Flag as upsell"
    assert json.loads(button.value) == {"account": acme, "signal": "more_seats",
                                        "notes": "Acme Inc. needs 40 more seats & SSO acme.com"}
    with Session(engine) as session:  # the day's slot, and nothing of the message
        assert [r.key for r in session.exec(select(Reminder))] == [
            f"signal:{acme}:{clock().date().isoformat()}:1"]
    bot.driver.post("U0DANA", "C0NORTH", "Acme also wants to upgrade to the enterprise plan")
    assert len(suggestions(bot)) == 1  # the same account the same day: none
    clock.offset = timedelta(days=1)
    bot.driver.post("U0DANA", "C0NORTH", "Acme wants to upgrade to the enterprise plan")
    later = suggestions(bot)
    assert len(later) == 2 and value_of(bot, later[-1])["signal"] == "plan_upgrade"


def test_no_suggestion_without_a_phrase_or_an_account_of_this_partner(bot, engine, acme):
    add_account(engine, "Hooli", "hooli.com", "Globex Referrals", submitted_by="U0BOB")
    for text in ("Hooli needs more seats",  # another partner's account, named in Northwind's channel
                 "hooli.com is hitting the limit",
                 "Acme says hello",  # no phrase
                 "Acme upgraded last year",  # the phrase inside another word
                 "Acmeville needs more seats",  # the account's name inside another word
                 "Cheers to the acme.community needing more seats"):  # nor its domain
        assert bot.driver.post("U0DANA", "C0NORTH", text).status == 200
    assert attempted(bot) == 0
    bot.driver.post("U0DANA", "C0NORTH", "The team at jane@ACME.com asked for more licenses")  # by domain
    [suggestion] = suggestions(bot)
    assert value_of(bot, suggestion)["account"] == acme


def test_a_referral_contact_only_for_their_own_accounts_and_never_for_another_organisation(bot, engine):
    add_account(engine, "Hooli", "hooli.com", "Globex Referrals", submitted_by="U0BOB")
    bot.driver.post("U0BETH", "C0GLOBEX", "Hooli needs more seats")  # Bob's account: Beth may not see it
    sandbox = bot.sandbox
    sandbox.add_team("T0CUST", "Customer Co", "customerco")
    sandbox.add_user("U0CUST", "T0CUST", "Casey Customer")
    sandbox.add_channel("C0GLOBEX", "partner-globex", ["U0BOB", "U0BETH", "U0PRIYA", "U0CUST"], is_ext_shared=True)
    bot.driver.post("U0CUST", "C0GLOBEX", "Hooli needs more seats")  # a third organisation in the channel
    # An account both partners work, named by Globex's Bob in Northwind's channel: Northwind's channel, not his.
    shared = add_account(engine, "Umbrella", "umbrella.com", "Northwind Consulting")
    with Session(engine) as session:
        globex = session.exec(select(Partner.id).where(Partner.name == "Globex Referrals")).one()
        session.add(AccountPartner(account_id=shared, partner_id=globex, submitted_by_slack_id="U0BOB"))
        session.commit()
    sandbox.add_channel("C0NORTH", "partner-northwind", [*sandbox.state.channels["C0NORTH"].members, "U0BOB"],
                        is_ext_shared=True)
    bot.driver.post("U0BOB", "C0NORTH", "Umbrella needs more seats")
    assert attempted(bot) == 0
    bot.driver.post("U0BOB", "C0GLOBEX", "Hooli needs more seats")
    assert [s.user for s in suggestions(bot)] == ["U0BOB"]


def test_never_for_bots_edits_deletions_or_threads_the_bot_started(bot, acme):
    sandbox, driver = bot.sandbox, bot.driver
    said = "Acme needs more seats"
    own = sandbox.client().chat_postMessage(channel="C0NORTH", text=said)
    assert driver.echo("C0NORTH", own["ts"]).status == 200  # the bot's own post
    # Northwind's own integration posts in the shared channel: a bot of the partner's organisation.
    sandbox.add_user("U0NWJIRA", "T0NORTH", "Northwind Jira", is_bot=True)
    sandbox.add_channel("C0NORTH", "partner-northwind", [*sandbox.state.channels["C0NORTH"].members, "U0NWJIRA"],
                        is_ext_shared=True)
    integration = {"type": "message", "user": "U0NWJIRA", "bot_id": "B0NWJIRA", "app_id": "A0JIRA", "text": said,
                   "ts": sandbox.state.next_ts(), "team": "T0NORTH", "user_team": "T0NORTH",
                   "source_team": "T0NORTH", "channel": "C0NORTH", "channel_type": "channel"}
    assert driver.event(integration).status == 200
    legacy = {"type": "message", "subtype": "bot_message", "bot_id": "B0ZAPIER", "username": "Zapier",
              "text": said, "ts": sandbox.state.next_ts(), "channel": "C0NORTH", "channel_type": "channel"}
    assert driver.event(legacy).status == 200
    hello = driver.post("U0DANA", "C0NORTH", "Hello all").payload["event"]["ts"]
    assert driver.edit("U0DANA", "C0NORTH", hello, said).status == 200  # an edit
    assert driver.delete("U0DANA", "C0NORTH", hello).status == 200
    desk = next(m for m in sandbox.messages("C0NORTH") if "Partner desk" in text_of(m))
    assert driver.post("U0DANA", "C0NORTH", said, thread_ts=desk.ts).status == 200  # a thread the bot started
    assert driver.mention("U0DANA", "C0NORTH", said).status == 200  # app_mention answers it (with help)
    assert attempted(bot) == 0
    # A thread a person started is theirs: the suggestion goes into it.
    root = driver.post("U0DANA", "C0NORTH", "Customer news").payload["event"]["ts"]
    driver.post("U0DANA", "C0NORTH", said, thread_ts=root)
    [suggestion] = suggestions(bot)
    assert suggestion.thread_ts == root and attempted(bot) == 1


@pytest.mark.parametrize("program", [Program(signals=SignalRules(enabled=True, per_account_per_day=2))])
def test_a_retried_delivery_suggests_once(bot, acme):
    first = bot.driver.post("U0DANA", "C0NORTH", "Acme is hitting the limit")
    retry = bot.driver.event(first.payload["event"], event_id=first.payload["event_id"], retry_num=1)
    assert retry.status == 200
    [suggestion] = suggestions(bot)
    assert value_of(bot, suggestion)["signal"] == "usage_growth"


@pytest.mark.parametrize("program", [Program(signals=SignalRules(enabled=True, per_account_per_day=2))])
def test_per_account_per_day_two_allows_two(bot, engine, acme):
    initrode = add_account(engine, "Initrode", "initrode.com", "Northwind Consulting")
    bot.driver.post("U0DANA", "C0NORTH", "Acme needs more seats")
    bot.driver.post("U0ERIK", "C0NORTH", "Acme wants to expand")  # Northwind's, by its team: not a listed contact
    bot.driver.post("U0PRIYA", "C0NORTH", "Acme needs more licenses")  # the third today: none
    bot.driver.post("U0PRIYA", "C0NORTH", "Initrode needs more licenses")  # another account: its own slots
    assert [(s.user, value_of(bot, s)["account"]) for s in suggestions(bot)] == [
        ("U0DANA", acme), ("U0ERIK", acme), ("U0PRIYA", initrode)]


def test_a_refused_suggestion_gives_its_slot_back(bot, acme):
    bot.sandbox.fail("chat.postEphemeral", error="user_not_in_channel")
    bot.driver.post("U0DANA", "C0NORTH", "Acme needs more seats")
    assert suggestions(bot) == [] and attempted(bot) == 1
    bot.driver.post("U0DANA", "C0NORTH", "Acme needs more seats, really")  # nobody saw the first: this one
    assert len(suggestions(bot)) == 1


@pytest.mark.parametrize("fault", [{"status": 500}, {"error": "internal_error"}])
def test_a_suggestion_that_may_have_been_shown_keeps_its_slot(bot, acme, fault):
    bot.sandbox.fail("chat.postEphemeral", after_effect=True, **fault)  # shown, but Slack's answer is a failure
    bot.driver.post("U0DANA", "C0NORTH", "Acme needs more seats")
    bot.driver.post("U0DANA", "C0NORTH", "Acme needs more seats, really")
    assert len(suggestions(bot)) == 1 and attempted(bot) == 1


def test_a_reply_in_a_registration_thread_is_forwarded_and_not_a_signal(bot, acme):
    register_via_desk(bot, "U0DANA", "C0NORTH")
    root, _ = registration_thread(bot)
    assert bot.driver.post("U0DANA", "C0NORTH", "Acme Inc. wants more seats", thread_ts=root.ts).status == 200
    assert "Acme Inc. wants more seats" in text_of(dm_messages(bot.sandbox, "U0ALEX")[-1])
    assert attempted(bot) == 0


def test_a_long_message_is_cut_to_fit_the_buttons_value(bot, acme):
    text = "Acme needs more seats. " + "“Quoted” words, and more " * 200
    bot.driver.post("U0DANA", "C0NORTH", text)
    [suggestion] = suggestions(bot)
    button = button_of(bot, suggestion)
    assert len(button.value) <= 2000
    notes = json.loads(button.value)["notes"]
    assert notes.endswith("…") and text.startswith(notes[:-1].rstrip())
