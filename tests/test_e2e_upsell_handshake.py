"""End to end: the handshake on an upsell. Its AE accepts or declines it (why), then marks it won (the final amount)
or lost (why); only the AE, the partner's manager or an admin may; each step is a reply in the upsell's thread, the
root updated in place and the CRM told. (Joining: tests/test_e2e_upsell_join.py; the lists and App Home:
tests/test_e2e_upsell_lists.py.)"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlmodel import Session

import workflows.upsell_decisions
import workflows.upsell_join
from storage.models import AccountProductLine, Partner, Upsell, UpsellStatus
# The bot on a clock (fixtures), and the flagging tests' demo accounts (a fixture) and helpers.
from tests.e2e_support import bot, clock, dm_messages, text_of  # noqa: F401
from tests.test_e2e_upsells import (  # noqa: F401
    FLAG,
    GLOBEX,
    NORTHWIND,
    accounts,
    click_as,
    events_of,
    open_from_desk,
    upsell_root,
    upsells,
)
from workflows.upsell_reminders import remind_overdue_upsells


@pytest.fixture
def crm_told(monkeypatch):
    """What the upsell workflows tell the CRM (upsell id, event, its status then), recorded on the way through to
    the real storage.crm.upsells.record_upsell_change, which queues the CRM write."""
    told = []
    for module in (workflows.upsell_decisions, workflows.upsell_join):
        def spy(session, upsell, event, real=module.record_upsell_change):
            told.append((upsell.id, event, upsell.status.value))
            real(session, upsell, event)
        monkeypatch.setattr(module, "record_upsell_change", spy)
    return told


def flag_acme(bot, accounts, user: str = "U0DANA", channel: str = "C0NORTH", **form):
    """Dana (Northwind) flags Acme for Enterprise from the desk; returns the root in the channel."""
    assert bot.driver.submit(user, open_from_desk(bot, user, channel).id,
                             dict(FLAG, account=str(accounts["acme"]), **form)).status == 200
    return upsell_root(bot.sandbox, channel)


def thread(sandbox, root):
    return [text_of(m) for m in sandbox.messages(root.channel, thread_ts=root.ts)]


def told_privately(sandbox, user: str) -> str:
    """Everything only this user was told: ephemerals and DMs."""
    return "\n".join(text_of(m) for m in sandbox.ephemerals(user) + dm_messages(sandbox, user))


def restore(sandbox, message, blocks) -> None:
    """Put a message's old blocks back: a click made before the update reached the clicker's screen."""
    sandbox.state.find_message(message.channel, message.ts).blocks = blocks


def blocks_of(sandbox, message):
    return [dict(b) for b in sandbox.state.find_message(message.channel, message.ts).blocks]


def test_the_owner_ae_accepts_and_marks_it_won_and_each_step_shows_in_the_thread(bot, engine, accounts, crm_told):
    sandbox, driver = bot.sandbox, bot.driver
    root = flag_acme(bot, accounts)
    offered = blocks_of(sandbox, root)

    assert driver.click("U0ALEX", "upsell_accept", message=(root.channel, root.ts)).status == 200
    [upsell] = upsells(engine)
    assert (upsell.status, upsell.accepted_at is not None) == (UpsellStatus.accepted, True)
    assert events_of(engine, upsell.id) == [UpsellStatus.open, UpsellStatus.accepted]
    assert crm_told == [(upsell.id, "accepted", "accepted")]
    [reply] = thread(sandbox, root)
    assert "Accepted by <@U0ALEX>" in reply and "*Acme Corp* → *Enterprise*" in reply
    root = upsell_root(sandbox, "C0NORTH")
    assert "Status: *:white_check_mark: Accepted*" in text_of(root)
    assert [b.action_id for b in sandbox.buttons(root)] == ["upsell_won", "upsell_lost"]
    assert "UPS-00001 accepted" in text_of(sandbox.ephemerals("U0ALEX")[-1])

    # A second click (the old buttons still on a screen) changes nothing and says why.
    won_buttons = blocks_of(sandbox, root)
    restore(sandbox, root, offered)
    driver.click("U0ALEX", "upsell_accept", message=(root.channel, root.ts))
    assert "UPS-00001 was already accepted: nothing changed." in text_of(sandbox.ephemerals("U0ALEX")[-1])
    assert events_of(engine, upsell.id) == [UpsellStatus.open, UpsellStatus.accepted] and len(crm_told) == 1
    assert len(thread(sandbox, root)) == 1
    restore(sandbox, root, won_buttons)

    # Mark won asks for the final amount, prefilled with the expected value; a bad amount is refused inline.
    assert driver.click("U0ALEX", "upsell_won", message=(root.channel, root.ts)).status == 200
    modal = sandbox.open_modal("U0ALEX")
    [amount] = [b for b in modal.blocks if b.get("block_id") == "final_amount"]
    assert modal.callback_id == "upsell_won_amount" and amount["element"]["initial_value"] == "2,000"
    assert "USD, a month" in amount["label"]["text"]
    for typed, error in (("lots", "final amount"),
                         ("0", "The final amount must be more than zero."),
                         ("150000000", "more than 100 million a month")):
        refused = driver.submit("U0ALEX", modal.id, {"final_amount": typed})
        assert refused.json["response_action"] == "errors" and error in refused.json["errors"]["final_amount"], typed
    assert upsells(engine)[0].status == UpsellStatus.accepted and len(crm_told) == 1

    signed = driver.submit("U0ALEX", modal.id, {"final_amount": "2,400"})
    assert signed.status == 200 and not (signed.json or {}).get("errors")
    [upsell] = upsells(engine)
    assert (upsell.status, upsell.final_amount, upsell.closed_at is not None) == (
        UpsellStatus.won, Decimal("2400"), True)
    assert events_of(engine, upsell.id)[-1] == UpsellStatus.won
    assert crm_told == [(1, "accepted", "accepted"), (1, "won", "won")]
    with Session(engine) as session:  # the account has the target now, brought by this upsell
        line = session.get(AccountProductLine, (accounts["acme"], "Enterprise"))
        assert line is not None and line.upsell_id == upsell.id
    replies = thread(sandbox, root)
    assert len(replies) == 2 and "Won: *Acme Corp* → *Enterprise* closed at 2,400 USD/month" in replies[1]
    assert "credited to *Northwind Consulting*" in replies[1]
    root = upsell_root(sandbox, "C0NORTH")
    assert "Won*: 2,400 USD/month" in text_of(root) and sandbox.buttons(root) == []
    assert "UPS-00001 marked won at 2,400 USD" in text_of(sandbox.ephemerals("U0ALEX")[-1])

    assert driver.redeliver(signed).status == 200  # Slack delivers it again: applied once
    assert len(crm_told) == 2 and len(thread(sandbox, root)) == 2


def test_partners_and_other_aes_cannot_decide_and_are_told_why(bot, engine, accounts, crm_told):
    sandbox, driver = bot.sandbox, bot.driver
    root = flag_acme(bot, accounts)
    # Dana (Northwind's, who flagged it) clicks Accept and Decline on her own upsell's root.
    assert driver.click("U0DANA", "upsell_accept", message=(root.channel, root.ts)).status == 200
    driver.click("U0DANA", "upsell_decline", message=(root.channel, root.ts))
    assert sandbox.open_modal("U0DANA") is None
    refusals = [text_of(e) for e in sandbox.ephemerals("U0DANA")]
    assert len(refusals) == 2 and all("Partners can't accept, decline or close upsells" in r for r in refusals)
    # Bea and Carl are AEs, but not Acme's: their hand-made requests are refused in the same words, as is an id
    # that does not exist.
    for user in ("U0BEA", "U0CARL"):  # (they are not in Northwind's channel: from their DM with the bot)
        click_as(bot, user, "T0OURS", "upsell_accept", "1", sandbox.dm_channel(user))
        click_as(bot, user, "T0OURS", "upsell_won", "1", sandbox.dm_channel(user))
    click_as(bot, "U0BEA", "T0OURS", "upsell_accept", "999", sandbox.dm_channel("U0BEA"))
    for user, clicks in (("U0BEA", 3), ("U0CARL", 2)):
        told = [text_of(m) for m in sandbox.ephemerals(user) + dm_messages(sandbox, user)]
        assert len(told) == clicks and all("Only the upsell's account executive, its partner's manager or an admin "
                                           "can do that." in t for t in told), user
    # Mark won on an open upsell (the root offers no such button yet): not yet.
    click_as(bot, "U0ALEX", "T0OURS", "upsell_won", "1", root.channel)
    assert sandbox.open_modal("U0ALEX") is None
    assert "UPS-00001 is open: only an accepted upsell can be marked won or lost." in told_privately(sandbox, "U0ALEX")
    [upsell] = upsells(engine)
    assert upsell.status == UpsellStatus.open and events_of(engine, upsell.id) == [UpsellStatus.open]
    assert crm_told == [] and thread(sandbox, root) == []


def test_the_partners_manager_declines_with_a_reason_the_partner_reads_escaped(bot, engine, accounts, crm_told):
    sandbox, driver = bot.sandbox, bot.driver
    with Session(engine) as session:  # Bea manages Northwind: as its partner's manager she may decide
        northwind = session.get(Partner, NORTHWIND)
        northwind.manager_slack_id = "U0BEA"
        session.add(northwind)
        session.commit()
    sandbox.state.channels["C0NORTH"].members.append("U0BEA")
    root = flag_acme(bot, accounts)
    assert driver.click("U0BEA", "upsell_decline", message=(root.channel, root.ts)).status == 200
    modal = sandbox.open_modal("U0BEA")
    assert modal.callback_id == "upsell_decline_reason" and "Why decline UPS-00001?" in str(modal.blocks)
    blank = driver.submit("U0BEA", modal.id, {"reason": "   "})
    assert blank.json["errors"] == {"reason": "Write why you decline it: the partner reads it in the upsell's "
                                              "thread."}
    named = driver.submit("U0BEA", modal.id, {"reason": "Globex Referrals already works this"})
    assert "names Globex Referrals, another partner" in named.json["errors"]["reason"]
    assert upsells(engine)[0].status == UpsellStatus.open

    assert driver.submit("U0BEA", modal.id, {"reason": "<!channel> Budget frozen until Q3"}).status == 200
    [upsell] = upsells(engine)
    assert (upsell.status, upsell.decision_reason) == (UpsellStatus.declined, "<!channel> Budget frozen until Q3")
    assert upsell.closed_at is not None and events_of(engine, upsell.id)[-1] == UpsellStatus.declined
    assert crm_told == []  # no Opportunity: it starts at accept
    [reply] = thread(sandbox, root)
    assert "Declined by <@U0BEA>" in reply and "&lt;!channel&gt; Budget frozen until Q3" in reply
    assert "<!channel>" not in reply
    root = upsell_root(sandbox, "C0NORTH")
    assert "Declined*. Reason:\n>&lt;!channel&gt; Budget frozen" in text_of(root) and sandbox.buttons(root) == []
    # Accept afterwards (a stale screen) does nothing.
    click_as(bot, "U0ALEX", "T0OURS", "upsell_accept", "1", root.channel)
    assert "UPS-00001 is declined: only an open upsell can be accepted or declined." in told_privately(
        sandbox, "U0ALEX")
    assert upsells(engine)[0].status == UpsellStatus.declined


def test_an_admin_marks_it_lost_with_a_reason_and_the_crm_hears_it(bot, engine, accounts, crm_told):
    sandbox, driver = bot.sandbox, bot.driver
    sandbox.state.channels["C0NORTH"].members.append("U0ADMIN")
    root = flag_acme(bot, accounts)
    driver.click("U0ADMIN", "upsell_accept", message=(root.channel, root.ts))
    root = upsell_root(sandbox, "C0NORTH")
    assert driver.click("U0ADMIN", "upsell_lost", message=(root.channel, root.ts)).status == 200
    modal = sandbox.open_modal("U0ADMIN")
    assert modal.callback_id == "upsell_lost_reason" and "Why was UPS-00001 lost?" in str(modal.blocks)
    blank = driver.submit("U0ADMIN", modal.id, {"reason": " \n "})
    assert blank.json["errors"]["reason"].startswith("Write why it was lost")
    assert driver.submit("U0ADMIN", modal.id, {"reason": "Chose a <competitor>"}).status == 200
    [upsell] = upsells(engine)
    assert (upsell.status, upsell.close_reason, upsell.final_amount) == (UpsellStatus.lost, "Chose a <competitor>",
                                                                         None)
    assert crm_told == [(1, "accepted", "accepted"), (1, "lost", "lost")]
    replies = thread(sandbox, root)
    assert "Accepted by <@U0ADMIN>" in replies[0]
    assert "Lost: *Acme Corp* → *Enterprise* did not go ahead" in replies[1]
    assert "Chose a &lt;competitor&gt;" in replies[1]
    root = upsell_root(sandbox, "C0NORTH")
    assert "Lost*. Reason:\n>Chose a &lt;competitor&gt;" in text_of(root) and sandbox.buttons(root) == []
    with Session(engine) as session:  # a lost upsell adds nothing to the account
        assert session.get(AccountProductLine, (accounts["acme"], "Enterprise")) is None


def test_a_referral_partners_thread_and_the_aes_copy_both_follow_the_decision(bot, engine, accounts, crm_told):
    sandbox, driver = bot.sandbox, bot.driver
    modal = open_from_desk(bot, "U0BETH", "C0GLOBEX")
    assert driver.submit("U0BETH", modal.id, dict(FLAG, account=str(accounts["hooli"]))).status == 200
    root = upsell_root(sandbox, sandbox.dm_channel("U0BETH"))
    copy = upsell_root(sandbox, sandbox.dm_channel("U0BEA"))
    # Beth (the partner) clicks Accept on her own root in her DM: refused.
    driver.click("U0BETH", "upsell_accept", message=(root.channel, root.ts))
    assert "Partners can't accept" in told_privately(sandbox, "U0BETH")
    # Bea accepts from her copy: the partner's root and the copy both show it; the reply is in Beth's thread.
    assert driver.click("U0BEA", "upsell_accept", message=(copy.channel, copy.ts)).status == 200
    assert upsells(engine)[0].status == UpsellStatus.accepted and crm_told == [(1, "accepted", "accepted")]
    root, copy = upsell_root(sandbox, root.channel), upsell_root(sandbox, copy.channel)
    assert text_of(root) == text_of(copy) and "Accepted" in text_of(root)
    assert [b.action_id for b in sandbox.buttons(copy)] == ["upsell_won", "upsell_lost"]
    [reply] = thread(sandbox, root)
    assert "Accepted by <@U0BEA>" in reply
    assert not [m for m in sandbox.messages("C0GLOBEX") if "UPS-" in text_of(m)]  # Bob never sees Beth's
    assert upsells(engine)[0].partner_id == GLOBEX


# The accept SLA -------------------------------------------------------------------------------------------
def test_an_ae_who_does_not_answer_is_reminded_once_then_the_partners_manager_never_twice(bot, engine, accounts,
                                                                                          clock, crm_told):
    sandbox, driver = bot.sandbox, bot.driver
    root = flag_acme(bot, accounts)  # Alex's account; Priya manages Northwind
    flag_acme(bot, accounts, target="Analytics", signal="new_product_line")  # UPS-00002: declined in time
    second = upsell_root(sandbox, "C0NORTH", "UPS-00002")
    driver.click("U0ALEX", "upsell_decline", message=(second.channel, second.ts))
    driver.submit("U0ALEX", sandbox.open_modal("U0ALEX").id, {"reason": "Not this year"})
    before = {user: len(dm_messages(sandbox, user)) for user in ("U0ALEX", "U0PRIYA")}

    def reminders(user: str):
        return [m for m in dm_messages(sandbox, user) if "has waited" in text_of(m)]

    clock.offset = timedelta(hours=47)  # within the 48-hour SLA
    assert remind_overdue_upsells(bot.services) == 0
    clock.offset = timedelta(hours=49)
    assert remind_overdue_upsells(bot.services) == 1
    [reminder] = reminders("U0ALEX")
    shown = text_of(reminder)
    assert "UPS-00001 · *Acme Corp*" in shown and "has waited 49 hours for <@U0ALEX>" in shown
    assert "within 48 hours" in shown and f"p{root.ts.replace('.', '')}" in shown  # a link to its thread
    assert [b.action_id for b in sandbox.buttons(reminder)] == ["upsell_accept", "upsell_decline"]
    assert remind_overdue_upsells(bot.services) == 0 and reminders("U0PRIYA") == []
    clock.offset = timedelta(hours=90)  # still within the second period: nobody else yet
    assert remind_overdue_upsells(bot.services) == 0
    clock.offset = timedelta(hours=97)
    assert remind_overdue_upsells(bot.services) == 1
    [escalated] = reminders("U0PRIYA")
    assert "has waited 97 hours for <@U0ALEX>" in text_of(escalated)
    clock.offset = timedelta(hours=400)  # once each, never again
    assert remind_overdue_upsells(bot.services) == 0
    assert len(reminders("U0ALEX")) == 1 and len(reminders("U0PRIYA")) == 1
    assert len(dm_messages(sandbox, "U0ALEX")) == before["U0ALEX"] + 1  # the declined one was never reminded

    # Alex accepts from the reminder: the upsell moves on and both reminders lose their buttons.
    assert driver.click("U0ALEX", "upsell_accept", message=(reminder.channel, reminder.ts)).status == 200
    assert upsells(engine)[0].status == UpsellStatus.accepted and crm_told[-1] == (1, "accepted", "accepted")
    for user in ("U0ALEX", "U0PRIYA"):
        [handled] = [m for m in dm_messages(sandbox, user) if "no longer waits" in text_of(m)]
        assert sandbox.buttons(handled) == [] and ":white_check_mark: Accepted by <@U0ALEX>." in text_of(handled), user
    assert "Accepted by <@U0ALEX>" in thread(sandbox, root)[0]
    clock.offset = timedelta(hours=800)
    assert remind_overdue_upsells(bot.services) == 0


# The builders, without Slack --------------------------------------------------------------------------------
def test_the_handshakes_messages_and_lists_fit_slack_with_the_worst_input():
    """Escaping grows `&`, `<`, `>` up to five-fold; every message, modal and view must still be accepted."""
    from datetime import datetime, timezone

    from handlers.blocks.home import build_home
    from handlers.blocks.lists import build_deals_list
    from handlers.blocks.upsell_handshake import (
        build_join_answered,
        build_join_request,
        build_partner_joined,
        build_upsell_reason_modal,
        build_upsell_reminder,
        build_upsell_reminder_handled,
        build_upsell_step,
        build_upsell_won_modal,
    )
    from handlers.blocks.upsells import build_upsell_root
    from handlers.ids import Callback
    from storage.actors import Actor, ActorKind
    from storage.lists import Cursor, HomeFilter, Page
    from storage.models import AttributionType, CustomerAccount, PartnerType, Registration, Role
    from workflows.people import HomeView

    when = datetime(2026, 11, 2, tzinfo=timezone.utc)
    account = CustomerAccount(id=1, name="&<>" * 66, name_key="x", domain="a" * 60 + ".com", owner_slack_id="U0A")
    partner = Partner(id=1, name="&" * 200, type=PartnerType.reseller)
    worst = Upsell(id=99999, account_id=1, partner_id=1, flagged_by_slack_id="U0D", signal="plan_upgrade",
                   target="<" * 100, expected_value=Decimal("99999999.99"), currency="USD", recurrence="monthly",
                   timeline="1-3m", notes="R&D <" * 600, assigned_to_slack_id="U0A", created_at=when,
                   partner_joined_at=when, attribution=AttributionType.influenced, partner_channel_id="C1",
                   decision_reason="&" * 1000, close_reason=">" * 1000, final_amount=Decimal("99999999.99"))
    messages = [build_upsell_root(worst.model_copy(update={"status": status}), account, partner)
                for status in UpsellStatus]
    messages += [build_upsell_step(worst.model_copy(update={"status": status}), account, partner, "U0A")
                 for status in UpsellStatus]
    messages += [build_partner_joined(worst, partner, "U0D"), build_join_request(worst, account, partner),
                 build_join_answered(worst, account, partner, "U0D"),
                 build_upsell_reminder(worst, account, partner, 9999, 48, link="https://x.slack.com/p1"),
                 build_upsell_reminder_handled(worst, account, partner, "U0A")]
    rows = [(worst, account, partner)] * 5
    manager = Actor("U0P", "T0", ActorKind.internal, role=Role.partner_manager)
    registration = Registration(id=1, partner_id=1, submitted_by_slack_id="U0D", company="&<>" * 66,
                                company_key="x", contact_name="c", contact_email="c@x.io", region="EMEA",
                                product_line="Platform", estimated_value=Decimal(1), currency="USD",
                                pricing_model="subscription", company_size="1-10", budget="yes", timeline="now",
                                created_at=when, updated_at=when)
    upsells_shown = Page(rows, 10_000, True, 0, None, None)
    messages.append(build_deals_list(Page([(registration, partner)] * 20, 10_000, True, 0, Cursor(when, 2), None),
                                     manager, "&<>" * 30, upsells=upsells_shown))
    for message in messages:
        for block in message.blocks:
            block.to_dict()  # slack_sdk raises SlackObjectFormationError past Slack's limits
        assert len(message.blocks) <= 50
    assert "The newest 5 of more than 10,000 upsells" in str([b.to_dict() for b in messages[-1].blocks])
    for view in (build_upsell_reason_modal(Callback.upsell_decline_reason, worst, "C1"),
                 build_upsell_reason_modal(Callback.upsell_lost_reason, worst, "home"),
                 build_upsell_won_modal(worst, None)):
        view.to_dict()
    page = Page([(registration, partner)] * 20, 45, False, 0, Cursor(when, 2), None)
    home = build_home(HomeView(page, HomeFilter.all, (1, False), (1, False), [], upsells=upsells_shown),
                      Actor("U0A", "T0", ActorKind.internal, role=Role.ae)).to_dict()
    assert len(home["blocks"]) <= 100 and "The newest 5 here" in str(home)


def test_an_upsell_flagged_accepted_and_won_in_slack_lands_in_the_crm_as_the_partners_expansion(bot, engine, accounts):
    """The whole motion through the real app and the real CRM outbox: no spy, the local mirror reads what
    Salesforce would have."""
    from storage.crm.status import mirror_of
    from storage.crm.writer import drain_outbox

    sandbox, driver = bot.sandbox, bot.driver
    root = flag_acme(bot, accounts)
    report = drain_outbox(engine, bot.runtime.settings, notify=lambda _: None, now=bot.services.clock())
    # Flagged only: Salesforce hears nothing of it before the AE accepts (the partner's own Account is there for
    # its lifecycle stage, which every partner's Account carries).
    assert [(r.sobject, r.external_key) for r in mirror_of(engine, "UPS-00001")] == [("Account", "northwind.io")]
    driver.click("U0ALEX", "upsell_accept", message=(root.channel, root.ts))
    driver.click("U0ALEX", "upsell_won", message=(root.channel, upsell_root(sandbox, "C0NORTH").ts))
    driver.submit("U0ALEX", sandbox.open_modal("U0ALEX").id, {"final_amount": "2,400"})
    report = drain_outbox(engine, bot.runtime.settings, notify=lambda _: None, now=bot.services.clock())
    assert report.mirrored >= 1
    records = {record.sobject: record.field_values for record in mirror_of(engine, "UPS-00001")}
    opportunity = records["Opportunity"]
    assert (opportunity["StageName"], opportunity["Amount"], opportunity["Type"]) == (
        "Closed Won", 2400.0, "Existing Customer - Upgrade")
    assert opportunity["Attribution_Type__c"] == "partner_sourced"
    assert opportunity["Target_Product_Line__c"] == "Enterprise"
    assert "Partner" in records  # the Partners related list credits Northwind
