"""End to end: flagging an upsell from the desk, /upsell, the message shortcut and a signal's suggestion; the form's
account picker and checks; the thread root in the partner's channel; duplicates (the partner manager's approval:
tests/test_e2e_upsell_approval.py; the Block Kit and the form's checks: tests/test_upsell_blocks.py)."""

from __future__ import annotations

import json
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from sqlmodel import Session, select

from bot.sandbox import SandboxError
from storage.models import (
    AccountPartner,
    AccountProductLine,
    AttributionType,
    CustomerAccount,
    Upsell,
    UpsellEvent,
    UpsellStatus,
)
from storage.slack.models import SlackMessage
from tests.e2e_support import desk_message, dm_messages, text_of

NORTHWIND, GLOBEX = 1, 2  # the demo partners, in import order
FLAG = {"signal": "plan_upgrade", "target": "Enterprise", "expected_value": "2,000", "currency": "USD",
        "recurrence": "monthly", "timeline": "1-3m", "notes": "They are hitting the seat limit <!channel>"}


def add_account(engine, name: str, domain: str, owner: str | None, partners: dict[int, str | None]) -> int:
    """A customer account as a won registration or the import leaves it: its partners (id -> the person whose
    registration brought it) and its landing zone."""
    with Session(engine) as session:
        account = CustomerAccount(name=name, name_key=name.lower(), domain=domain, owner_slack_id=owner,
                                  landing_zone="Platform", currency="USD")
        session.add(account)
        session.flush()
        for partner_id, submitted_by in partners.items():
            session.add(AccountPartner(account_id=account.id, partner_id=partner_id,
                                       submitted_by_slack_id=submitted_by))
        session.add(AccountProductLine(account_id=account.id, product_line="Platform"))
        session.commit()
        return account.id


@pytest.fixture
def accounts(engine):
    """Acme (Alex's, Northwind's and Bob's at Globex), Hooli (Bea's, Globex's through Beth), Initrode (Alex's, no
    partner yet)."""
    return {"acme": add_account(engine, "Acme Corp", "acme.com", "U0ALEX", {NORTHWIND: None, GLOBEX: "U0BOB"}),
            "hooli": add_account(engine, "Hooli", "hooli.com", "U0BEA", {GLOBEX: "U0BETH"}),
            "initrode": add_account(engine, "Initrode", "initrode.com", "U0ALEX", {})}


def upsells(engine) -> list[Upsell]:
    with Session(engine) as session:
        return list(session.exec(select(Upsell).order_by(Upsell.id)).all())


def events_of(engine, upsell_id: int) -> list[str]:
    with Session(engine) as session:
        return [e.to_status for e in session.exec(select(UpsellEvent).where(UpsellEvent.upsell_id == upsell_id)
                                                  .order_by(UpsellEvent.id)).all()]


def upsell_root(sandbox, channel: str, reference: str = "UPS-00001"):
    return next(m for m in sandbox.messages(channel) if reference in text_of(m) and not m.thread_ts)


def open_from_desk(bot, user_id: str, channel: str):
    desk = desk_message(bot.sandbox, channel)
    assert bot.driver.click(user_id, "flag_upsell", message=(channel, desk.ts)).status == 200
    modal = bot.sandbox.open_modal(user_id)
    assert modal is not None and modal.callback_id == "upsell_form"
    return modal


def block_ids(modal) -> list[str]:
    return [b.get("block_id") for b in modal.blocks if b.get("type") == "input"]


def option_labels(response) -> list[str]:
    return [o["text"]["text"] for o in response.json["options"]]


def test_an_external_partner_flags_an_upsell_from_the_desk_and_its_thread_mentions_the_ae(bot, engine, accounts):
    sandbox, driver = bot.sandbox, bot.driver
    modal = open_from_desk(bot, "U0DANA", "C0NORTH")
    assert "partner" not in block_ids(modal) and "influenced" not in block_ids(modal)  # Dana flags for Northwind
    assert "Flagging for *Northwind Consulting*" in str(modal.blocks)
    # The account picker lists only Northwind's accounts; typing filters them.
    assert option_labels(driver.suggest("U0DANA", modal.id, "account", "")) == ["Acme Corp (acme.com)"]
    assert option_labels(driver.suggest("U0DANA", modal.id, "account", "ACM")) == ["Acme Corp (acme.com)"]
    assert option_labels(driver.suggest("U0DANA", modal.id, "account", "hoo")) == []  # Globex's, never shown

    bad = driver.submit("U0DANA", modal.id, dict(FLAG, account=str(accounts["acme"]), expected_value="0",
                                                 notes="x" * 3001))
    assert bad.json["response_action"] == "errors"
    assert set(bad.json["errors"]) == {"expected_value", "notes"}
    assert "more than zero" in bad.json["errors"]["expected_value"]
    assert upsells(engine) == []

    stored = driver.submit("U0DANA", modal.id, dict(FLAG, account=str(accounts["acme"])))
    assert stored.status == 200 and not (stored.json or {}).get("errors")
    assert sandbox.open_modal("U0DANA") is None
    [upsell] = upsells(engine)
    assert (upsell.reference, upsell.status, upsell.partner_id, upsell.account_id) == (
        "UPS-00001", UpsellStatus.open, NORTHWIND, accounts["acme"])
    assert (upsell.assigned_to_slack_id, upsell.attribution, upsell.flagged_by_slack_id, upsell.flagged_by_team_id) == (
        "U0ALEX", AttributionType.sourced, "U0DANA", "T0NORTH")
    assert (upsell.expected_value, upsell.currency, upsell.recurrence, upsell.timeline) == (
        Decimal("2000"), "USD", "monthly", "1-3m")
    assert (upsell.partner_channel_id, upsell.root_message_key) == ("C0NORTH", "ups:1:root")
    assert events_of(engine, upsell.id) == [UpsellStatus.open]

    root = upsell_root(sandbox, "C0NORTH")
    shown = text_of(root)
    for part in ("*Acme Corp* (acme.com)", "Plan upgrade → *Enterprise*", "2,000 USD/month", "1–3 months",
                 "Flagged by <@U0DANA> for *Northwind Consulting* (partner-sourced)", "<@U0ALEX>", "Open"):
        assert part in shown, part
    assert "&lt;!channel&gt;" in shown and "<!channel>" not in shown  # the partner's text cannot ping the channel
    assert [(b.action_id, b.value) for b in sandbox.buttons(root)] == [("upsell_accept", "1"),
                                                                       ("upsell_decline", "1")]
    with Session(engine) as session:  # where Slack shows the root is kept with it: later replies thread under it
        sent = session.exec(select(SlackMessage).where(SlackMessage.key == upsell.root_message_key)).one()
        assert (sent.sent_channel, sent.sent_ts) == ("C0NORTH", root.ts)
    assert not sandbox.ephemerals("U0DANA")  # the partner sees its root; nothing else to say

    assert driver.redeliver(stored).status == 200  # Slack delivers the submission again: stored once
    assert len(upsells(engine)) == 1
    assert len([m for m in sandbox.messages("C0NORTH") if "UPS-" in text_of(m)]) == 1


def test_a_partner_cannot_flag_an_account_it_is_not_attached_to_whatever_the_request_says(bot, engine, accounts):
    sandbox, driver = bot.sandbox, bot.driver
    modal = open_from_desk(bot, "U0DANA", "C0NORTH")
    # Hooli is Globex's: its id typed into the request (the picker never offers it) is refused inline.
    forged = driver.submit("U0DANA", modal.id, dict(FLAG, account=str(accounts["hooli"])))
    assert forged.json["response_action"] == "errors"
    assert "can't flag an upsell on that account" in forged.json["errors"]["account"]
    assert upsells(engine) == []
    # A forged private_metadata (another partner's channel, "asked in") changes nothing about whose it is.
    with sandbox.state.lock:
        sandbox.state.views[modal.id].private_metadata = json.dumps({"channel": "C0GLOBEX", "asked_in": True})
    assert driver.submit("U0DANA", modal.id, dict(FLAG, account=str(accounts["acme"]))).status == 200
    [upsell] = upsells(engine)
    assert (upsell.partner_id, upsell.attribution, upsell.partner_channel_id) == (
        NORTHWIND, AttributionType.sourced, "C0NORTH")
    assert not [m for m in sandbox.messages("C0GLOBEX") if "UPS-" in text_of(m)]

    # A referral contact sees only the accounts its own registrations brought: Beth never sees Bob's Acme.
    beth = open_from_desk(bot, "U0BETH", "C0GLOBEX")
    assert option_labels(driver.suggest("U0BETH", beth.id, "account", "")) == ["Hooli (hooli.com)"]
    refused = driver.submit("U0BETH", beth.id, dict(FLAG, account=str(accounts["acme"]), target="Analytics"))
    assert "account" in refused.json["errors"] and len(upsells(engine)) == 1


def test_an_internal_user_flags_for_an_attached_partner_with_the_command(bot, engine, accounts):
    sandbox, driver = bot.sandbox, bot.driver
    assert driver.command("U0PRIYA", "/upsell", "acme").status == 200  # exactly one visible account matches
    modal = sandbox.open_modal("U0PRIYA")
    [account] = [b for b in modal.blocks if b.get("block_id") == "account"]
    assert account["element"]["initial_option"]["value"] == str(accounts["acme"])
    assert {"partner", "influenced"} <= set(block_ids(modal))
    # Priya (partner manager) sees every account; Initech is not attached to Acme.
    assert len(driver.suggest("U0PRIYA", modal.id, "account", "").json["options"]) == 3
    refused = driver.submit("U0PRIYA", modal.id, dict(FLAG, partner="3"))
    assert "Initech Agency isn't attached to Acme Corp" in refused.json["errors"]["partner"]
    assert "Northwind Consulting" in refused.json["errors"]["partner"] and upsells(engine) == []

    assert driver.submit("U0PRIYA", modal.id, dict(FLAG, partner=str(NORTHWIND))).status == 200
    [upsell] = upsells(engine)
    assert (upsell.partner_id, upsell.attribution, upsell.flagged_by_slack_id, upsell.assigned_to_slack_id) == (
        NORTHWIND, AttributionType.sourced, "U0PRIYA", "U0ALEX")
    assert "Flagged by <@U0PRIYA> for *Northwind Consulting*" in text_of(upsell_root(sandbox, "C0NORTH"))
    assert any("Flagged UPS-00001" in text_of(m) and "<#C0NORTH>" in text_of(m)
               for m in dm_messages(sandbox, "U0PRIYA"))

    # /upsell with text matching no account, or several, just opens the form; an AE sees only their accounts.
    driver.command("U0ALEX", "/upsell", "zzz")
    modal = sandbox.open_modal("U0ALEX")
    assert "initial_option" not in next(b for b in modal.blocks if b.get("block_id") == "account")["element"]
    assert option_labels(driver.suggest("U0ALEX", modal.id, "account", "")) == ["Acme Corp (acme.com)",
                                                                                "Initrode (initrode.com)"]

    # A partner's guest in our workspace runs /upsell too: for its own partner, among its partner's accounts.
    driver.command("U0GUEST", "/upsell", "acme")
    modal = sandbox.open_modal("U0GUEST")
    assert "partner" not in block_ids(modal) and "Flagging for *Initech Agency*" in str(modal.blocks)
    assert option_labels(driver.suggest("U0GUEST", modal.id, "account", "")) == []  # Initech has no accounts


def test_any_partner_when_marked_partner_influenced(bot, engine, accounts):
    sandbox, driver = bot.sandbox, bot.driver
    driver.command("U0ALEX", "/upsell", "initrode")
    modal = sandbox.open_modal("U0ALEX")
    assert driver.submit("U0ALEX", modal.id, dict(FLAG, account=str(accounts["initrode"]), partner=str(NORTHWIND),
                                                  influenced=["influenced"])).status == 200
    [upsell] = upsells(engine)
    assert (upsell.partner_id, upsell.attribution) == (NORTHWIND, AttributionType.influenced)
    assert "asked *Northwind Consulting* in (partner-influenced)" in text_of(upsell_root(sandbox, "C0NORTH"))


def test_the_ae_asks_the_partner_in_with_the_command_in_its_channel(bot, engine, accounts):
    sandbox, driver = bot.sandbox, bot.driver
    assert driver.command("U0ALEX", "/upsell", "", channel_id="C0NORTH").status == 200
    modal = sandbox.open_modal("U0ALEX")
    assert "partner" not in block_ids(modal)  # the channel's partner, asked in
    assert "asking *Northwind Consulting* in" in str(modal.blocks)
    # Initrode has no partner attached: asking Northwind in makes it partner-influenced.
    assert driver.submit("U0ALEX", modal.id, dict(FLAG, account=str(accounts["initrode"]))).status == 200
    [upsell] = upsells(engine)
    assert (upsell.partner_id, upsell.attribution, upsell.assigned_to_slack_id) == (
        NORTHWIND, AttributionType.influenced, "U0ALEX")
    root = upsell_root(sandbox, "C0NORTH")
    assert "<@U0ALEX> asked *Northwind Consulting* in (partner-influenced)" in text_of(root)
    assert "Initrode" in text_of(root)


def test_the_message_shortcut_flags_from_a_partner_channels_message(bot, engine, accounts):
    sandbox, driver = bot.sandbox, bot.driver
    driver.post("U0DANA", "C0NORTH", "Acme wants 50 more seats before their renewal")
    said = next(m for m in sandbox.messages("C0NORTH") if m.user == "U0DANA")
    assert driver.shortcut("U0ALEX", "flag_upsell", message=("C0NORTH", said.ts)).status == 200
    modal = sandbox.open_modal("U0ALEX")
    notes = next(b for b in modal.blocks if b.get("block_id") == "notes")["element"]
    partner = next(b for b in modal.blocks if b.get("block_id") == "partner")["element"]
    assert notes["initial_value"] == "Acme wants 50 more seats before their renewal"
    assert partner["initial_option"]["value"] == str(NORTHWIND)
    form = dict({k: v for k, v in FLAG.items() if k != "notes"}, account=str(accounts["acme"]), signal="more_seats")
    assert driver.submit("U0ALEX", modal.id, form).status == 200
    [upsell] = upsells(engine)
    assert (upsell.partner_id, upsell.notes, upsell.signal) == (
        NORTHWIND, "Acme wants 50 more seats before their renewal", "more_seats")
    assert "More seats or users" in text_of(upsell_root(sandbox, "C0NORTH"))

    # Elsewhere, or for someone not on our team, the shortcut is refused privately.
    sandbox.add_channel("C0LOUNGE", "lounge", members=["U0BOT", "U0ALEX", "U0GUEST"])
    driver.post("U0ALEX", "C0LOUNGE", "Coffee?")
    coffee = sandbox.messages("C0LOUNGE")[-1]
    driver.shortcut("U0ALEX", "flag_upsell", message=("C0LOUNGE", coffee.ts))
    assert sandbox.open_modal("U0ALEX") is None
    assert "partner's shared channel" in text_of(sandbox.ephemerals("U0ALEX")[-1])
    driver.shortcut("U0GUEST", "flag_upsell", message=("C0LOUNGE", coffee.ts))
    assert sandbox.open_modal("U0GUEST") is None
    assert "Only our own team" in text_of(sandbox.ephemerals("U0GUEST")[-1])
    with pytest.raises(SandboxError):  # Slack never offers our shortcuts to another organisation's people
        driver.shortcut("U0DANA", "flag_upsell", message=("C0NORTH", said.ts))
    assert len(upsells(engine)) == 1


def suggestion(bot, user_id: str, channel: str, value: dict):
    """An expansion signal's private suggestion, as the signals listener posts it (a button with a JSON value)."""
    bot.sandbox.client().chat_postEphemeral(channel=channel, user=user_id, text="Flag this as an upsell?", blocks=[
        {"type": "actions", "elements": [{"type": "button", "action_id": "suggest_upsell",
                                          "text": {"type": "plain_text", "text": "Flag as upsell"},
                                          "value": json.dumps(value)}]}])
    return bot.sandbox.ephemerals(user_id)[-1]


def test_a_signals_suggestion_opens_the_form_prefilled_after_checking_the_account(bot, engine, accounts):
    sandbox, driver = bot.sandbox, bot.driver
    offer = suggestion(bot, "U0DANA", "C0NORTH", {"account": accounts["acme"], "signal": "usage_growth",
                                                  "notes": "We're hitting the limit"})
    assert driver.click("U0DANA", "suggest_upsell", message=("C0NORTH", offer.ts)).status == 200
    modal = sandbox.open_modal("U0DANA")
    prefilled = {b["block_id"]: b["element"] for b in modal.blocks if b.get("type") == "input"}
    assert prefilled["account"]["initial_option"]["value"] == str(accounts["acme"])
    assert prefilled["signal"]["initial_option"]["value"] == "usage_growth"
    assert prefilled["notes"]["initial_value"] == "We're hitting the limit"
    driver.submit("U0DANA", modal.id, {k: v for k, v in FLAG.items() if k not in ("signal", "notes")})
    [upsell] = upsells(engine)
    assert (upsell.account_id, upsell.signal, upsell.notes) == (accounts["acme"], "usage_growth",
                                                                "We're hitting the limit")

    # A value naming another partner's account opens nothing.
    forged = suggestion(bot, "U0DANA", "C0NORTH", {"account": accounts["hooli"], "signal": "plan_upgrade"})
    driver.click("U0DANA", "suggest_upsell", message=("C0NORTH", forged.ts))
    assert sandbox.open_modal("U0DANA") is None
    assert "can't flag an upsell on that account" in text_of(sandbox.ephemerals("U0DANA")[-1])


def test_a_referral_partners_upsell_thread_goes_to_its_flagger_and_the_ae_gets_a_copy(bot, engine, accounts):
    sandbox, driver = bot.sandbox, bot.driver
    modal = open_from_desk(bot, "U0BETH", "C0GLOBEX")
    assert driver.submit("U0BETH", modal.id, dict(FLAG, account=str(accounts["hooli"]))).status == 200
    [upsell] = upsells(engine)
    assert (upsell.partner_id, upsell.partner_channel_id, upsell.assigned_to_slack_id) == (GLOBEX, None, "U0BEA")
    assert not [m for m in sandbox.messages("C0GLOBEX") if "UPS-" in text_of(m)]  # Bob must not see Beth's
    root = upsell_root(sandbox, sandbox.dm_channel("U0BETH"))
    copy = upsell_root(sandbox, sandbox.dm_channel("U0BEA"))
    assert "<@U0BEA>" in text_of(root) and text_of(copy) == text_of(root)
    assert [b.action_id for b in sandbox.buttons(copy)] == ["upsell_accept", "upsell_decline"]


def test_the_same_partner_is_shown_its_open_upsell_instead_of_a_second(bot, engine, accounts):
    sandbox, driver = bot.sandbox, bot.driver
    driver.submit("U0DANA", open_from_desk(bot, "U0DANA", "C0NORTH").id, dict(FLAG, account=str(accounts["acme"])))
    root = upsell_root(sandbox, "C0NORTH")
    # Erik is Northwind's too (his workspace is Northwind's): the same partner, the same account and target.
    modal = open_from_desk(bot, "U0ERIK", "C0NORTH")
    again = driver.submit("U0ERIK", modal.id, dict(FLAG, account=str(accounts["acme"]), expected_value="5000"))
    assert again.json["response_action"] == "errors"
    assert "Northwind Consulting already flagged Acme Corp for Enterprise: UPS-00001" in again.json["errors"]["target"]
    [told] = sandbox.ephemerals("U0ERIK")
    assert "UPS-00001" in text_of(told) and f"p{root.ts.replace('.', '')}" in text_of(told)  # a link to its thread
    assert len(upsells(engine)) == 1
    # Another target of the same account is another upsell.
    assert driver.submit("U0ERIK", modal.id, dict(FLAG, account=str(accounts["acme"]), target="Analytics",
                                                  signal="new_product_line")).status == 200
    assert [u.target for u in upsells(engine)] == ["Enterprise", "Analytics"]


def click_as(bot, user_id: str, team_id: str, action_id: str, value: str, channel: str):
    """A click on a message the clicker cannot see (another's DM): only a hand-made request gets there."""
    payload = {"type": "block_actions", "user": {"id": user_id, "team_id": team_id, "username": user_id},
               "team": {"id": "T0OURS"}, "api_app_id": "A0PARTNERBOT", "token": "x",
               "trigger_id": bot.sandbox.issue_trigger(user_id), "channel": {"id": channel},
               "container": {"type": "message", "channel_id": channel, "message_ts": "1.1"},
               "actions": [{"type": "button", "action_id": action_id, "value": value, "action_ts": "1.2"}]}
    return bot.driver.send(urlencode({"payload": json.dumps(payload)}).encode(), "application/x-www-form-urlencoded")


def test_an_upsell_thread_follows_its_channel_when_the_channel_id_changes(bot, engine, accounts):
    driver = bot.driver
    driver.submit("U0DANA", open_from_desk(bot, "U0DANA", "C0NORTH").id, dict(FLAG, account=str(accounts["acme"])))
    assert driver.event({"type": "channel_id_changed", "old_channel_id": "C0NORTH",
                         "new_channel_id": "C0NORTH2"}).status == 200
    [upsell] = upsells(engine)
    assert upsell.partner_channel_id == "C0NORTH2"


def test_in_production_mode_the_flag_is_acked_at_once_and_its_root_follows(engine):
    from bot.local import local_bot

    with local_bot(engine, process_before_response=False) as bot:
        acme = add_account(engine, "Acme Corp", "acme.com", "U0ALEX", {NORTHWIND: None})
        bot.driver.bot_joined("C0NORTH")
        desk = bot.sandbox.wait_for(lambda: [m for m in bot.sandbox.messages("C0NORTH") if bot.sandbox.buttons(m)])[0]
        bot.driver.click("U0DANA", "flag_upsell", message=("C0NORTH", desk.ts))
        modal = bot.sandbox.wait_for(lambda: bot.sandbox.open_modal("U0DANA"))
        acked = bot.driver.submit("U0DANA", modal.id, dict(FLAG, account=str(acme)))
        assert acked.status == 200 and acked.elapsed < 3 and len(upsells(engine)) == 1  # stored before the ack
        root = bot.sandbox.wait_for(lambda: [m for m in bot.sandbox.messages("C0NORTH") if "UPS-00001" in text_of(m)])
        assert "<@U0ALEX>" in text_of(root[0])


def test_who_may_see_an_upsell_is_filtered_in_the_storage_query(bot, engine, accounts):
    from storage.actors import resolve_actor
    from storage.upsells import upsell_for_actor, visible_upsells_clause

    def flag(account: str, partner_id: int, flagger: str, assignee: str) -> int:
        with Session(engine) as session:
            upsell = Upsell(account_id=accounts[account], partner_id=partner_id, flagged_by_slack_id=flagger,
                            signal="plan_upgrade", target="Enterprise", expected_value=Decimal(1), currency="USD",
                            recurrence="monthly", timeline="", assigned_to_slack_id=assignee)
            session.add(upsell)
            session.commit()
            return upsell.id

    dana, bob, beth = flag("acme", NORTHWIND, "U0DANA", "U0ALEX"), flag("acme", GLOBEX, "U0BOB", "U0ALEX"), \
        flag("hooli", GLOBEX, "U0BETH", "U0BEA")
    with Session(engine) as session:
        def seen(user_id: str, team_id: str) -> list[int]:
            actor = resolve_actor(session, user_id=user_id, team_id=team_id, our_team_id="T0OURS")
            return list(session.exec(select(Upsell.id).where(visible_upsells_clause(actor)).order_by(Upsell.id)))

        assert seen("U0DANA", "T0NORTH") == seen("U0ERIK", "T0NORTH") == [dana]
        assert seen("U0BOB", "T0GLOBEX") == [bob]  # a referral contact: only what they flagged
        assert seen("U0BETH", "T0GLOBEX") == [beth]
        assert seen("U0ALEX", "T0OURS") == [dana, bob] and seen("U0BEA", "T0OURS") == [beth]
        assert seen("U0PRIYA", "T0OURS") == seen("U0ADMIN", "T0OURS") == [dana, bob, beth]
        assert seen("U0CARL", "T0OURS") == seen("U0NOBODY", "T0ELSEWHERE") == []
        bob_actor = resolve_actor(session, user_id="U0BOB", team_id="T0GLOBEX", our_team_id="T0OURS")
        assert upsell_for_actor(session, beth, bob_actor) is None and upsell_for_actor(session, bob, bob_actor)
