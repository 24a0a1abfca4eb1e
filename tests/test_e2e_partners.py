"""End to end, for partners: My deals with expiry, AE and last update, search and paging that keeps it, a
mention asking a deal's status, the partner told when the approval SLA is missed, Add an update, Withdraw
and Edit (with who may not), and the partner desk posted again on request.

Signed requests through the sandbox, the real WebClient and the real database (SQLite or PostgreSQL)."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlmodel import Session, select

from storage.models import Registration
from tests.e2e_support import (  # noqa: F401  (bot, clock: fixtures, the bot on a clock the test moves)
    bot,
    clock,
    crm_events,
    desk_message,
    dm_messages,
    register_via_desk,
    registration_thread,
    text_of,
)
from workflows.reminders import remind_overdue_reviews


def test_a_missed_approval_sla_is_told_to_the_partner_once_per_period(bot, clock):
    register_via_desk(bot, "U0DANA", "C0NORTH")
    clock.offset = timedelta(hours=49)
    assert remind_overdue_reviews(bot.services) == 1  # the reviewer; the partner's notice is not counted
    assert remind_overdue_reviews(bot.services) == 0
    bot.worker.kick()
    _, thread = registration_thread(bot, "C0NORTH", "REG-00001")
    chased = [m for m in thread if "chasing" in text_of(m)]
    assert len(chased) == 1 and "past our 48-hour promise" in text_of(chased[0])
    assert "Acme Inc." in text_of(chased[0])
    clock.offset = timedelta(hours=97)
    remind_overdue_reviews(bot.services)
    bot.worker.kick()
    _, thread = registration_thread(bot, "C0NORTH", "REG-00001")
    assert len([m for m in thread if "chasing" in text_of(m)]) == 2  # once per period
    # A decision settles the reviewer's reminders; the partner's notices are left as they were.
    [review] = dm_messages(bot.sandbox, "U0ALEX")[:1]
    bot.driver.click("U0ALEX", "review_accept", message=(review.channel, review.ts))
    _, thread = registration_thread(bot, "C0NORTH", "REG-00001")
    assert len([m for m in thread if "chasing" in text_of(m)]) == 2


def test_my_deals_shows_expiry_the_ae_and_the_last_update_and_searches(bot, engine):
    sandbox, driver = bot.sandbox, bot.driver
    register_via_desk(bot, "U0DANA", "C0NORTH")
    register_via_desk(bot, "U0DANA", "C0NORTH", {"company": "Hooli", "domain": "hooli.com"})
    [review] = [m for m in dm_messages(sandbox, "U0ALEX") if "Acme" in text_of(m)]
    driver.click("U0ALEX", "review_accept", message=(review.channel, review.ts))
    with Session(engine) as session:
        acme = session.exec(select(Registration).where(Registration.company == "Acme Inc.")).one()
    driver.click("U0DANA", "my_deals", message=("C0NORTH", desk_message(sandbox, "C0NORTH").ts))
    listing = text_of(sandbox.ephemerals("U0DANA")[-1])
    assert f"protected until {acme.protection_expires_at:%-d %b %Y}" in listing
    assert "AE <@U0ALEX>" in listing and "AE <@U0BEA>" in listing  # round-robin: Hooli went to Bea
    assert f"Last update {acme.updated_at:%-d %b %Y}" in listing

    driver.command("U0PRIYA", "/partner", "deals hooli.com")
    found = text_of(dm_messages(sandbox, "U0PRIYA")[-1])
    assert "matching “hooli.com”" in found and "Hooli" in found and "Acme" not in found
    driver.command("U0PRIYA", "/partner", "deals ACME Incorporated")
    found = text_of(dm_messages(sandbox, "U0PRIYA")[-1])
    assert "Acme" in found and "Hooli" not in found
    driver.command("U0PRIYA", "/partner", "deals umbrella")
    assert "No registrations you can see match “umbrella”" in text_of(dm_messages(sandbox, "U0PRIYA")[-1])


def test_a_search_is_kept_while_paging(bot, engine):
    sandbox, driver = bot.sandbox, bot.driver
    for i in range(22):
        register_via_desk(bot, "U0DANA", "C0NORTH", {"company": f"Acme {i}", "domain": f"acme{i}.com"})
    register_via_desk(bot, "U0DANA", "C0NORTH", {"company": "Hooli", "domain": "hooli.com"})
    driver.command("U0PRIYA", "/partner", "deals acme")
    listing = dm_messages(sandbox, "U0PRIYA")[-1]
    assert "Showing 1–20 of 22" in text_of(listing)
    driver.click("U0PRIYA", "deals_older", message=(listing.channel, listing.ts))
    listing = dm_messages(sandbox, "U0PRIYA")[-1]
    assert "Showing 21–22 of 22" in text_of(listing) and "Hooli" not in text_of(listing)
    assert "matching “acme”" in text_of(listing)
    driver.click("U0PRIYA", "deals_newer", message=(listing.channel, listing.ts))
    assert "Showing 1–20 of 22" in text_of(dm_messages(sandbox, "U0PRIYA")[-1])


def test_a_mention_asking_a_deals_status_answers_only_who_may_see_it(bot, engine):
    sandbox, driver = bot.sandbox, bot.driver
    register_via_desk(bot, "U0DANA", "C0NORTH")  # Northwind's Acme
    register_via_desk(bot, "U0BETH", "C0GLOBEX", {"company": "Umbrella", "domain": "umbrella.com"})
    driver.mention("U0DANA", "C0NORTH", "status of Acme?")
    [answer] = [e for e in sandbox.ephemerals("U0DANA") if "REG-00001" in text_of(e)]
    assert answer.thread_ts and "Under review" in text_of(answer) and "AE <@U0ALEX>" in text_of(answer)
    assert not [m for m in sandbox.messages("C0NORTH") if m.thread_ts and "Under review" in text_of(m)
                and m.thread_ts == answer.thread_ts], "the answer is private"
    # Bob is Globex (referral): he sees neither Northwind's Acme nor Beth's Umbrella.
    driver.mention("U0BOB", "C0GLOBEX", "what's the status of the Umbrella deal?")
    said = text_of(sandbox.ephemerals("U0BOB")[-1])
    assert "can't find a registration you can see matching “Umbrella”" in said and "REG-00002" not in said
    driver.mention("U0BOB", "C0GLOBEX", "acme status?")
    assert "REG-00001" not in text_of(sandbox.ephemerals("U0BOB")[-1])
    driver.mention("U0BETH", "C0GLOBEX", "umbrella.com status")
    assert "REG-00002" in text_of(sandbox.ephemerals("U0BETH")[-1])


def test_a_partner_withdraws_an_approved_registration_with_a_reason(bot, engine):
    from storage.models import RegistrationEvent, RegistrationStatus

    sandbox, driver = bot.sandbox, bot.driver
    register_via_desk(bot, "U0DANA", "C0NORTH")
    [review] = dm_messages(sandbox, "U0ALEX")
    driver.click("U0ALEX", "review_accept", message=(review.channel, review.ts))
    root, _ = registration_thread(bot, "C0NORTH", "REG-00001")
    assert [b.action_id for b in sandbox.buttons(root)] == ["deal_add_update", "deal_withdraw"]

    # Someone of another partner cannot, whatever the button says; nothing opens and nothing changes.
    driver.click("U0ERIK", "deal_withdraw", message=("C0NORTH", root.ts))  # Erik: Northwind too, may see it
    assert sandbox.open_modal("U0ERIK") is not None
    driver.click("U0DANA", "deal_withdraw", message=("C0NORTH", root.ts))
    modal = sandbox.open_modal("U0DANA")
    blank = driver.submit("U0DANA", modal.id, {"reason": "  "})
    assert "Say why" in blank.json["errors"]["reason"]
    assert driver.submit("U0DANA", modal.id, {"reason": "Customer chose to buy direct <!channel>"}).status == 200
    with Session(engine) as session:
        reg = session.get(Registration, 1)
        assert reg.status == RegistrationStatus.withdrawn
        event = session.exec(select(RegistrationEvent).where(RegistrationEvent.to_status == "withdrawn")).one()
        assert (event.actor_slack_id, event.reason) == ("U0DANA", "Customer chose to buy direct <!channel>")
    assert crm_events(engine, 1)[-1] == "deal_withdrawn"  # Salesforce has the Opportunity: both records
    root, thread = registration_thread(bot, "C0NORTH", "REG-00001")
    assert sandbox.buttons(root) == [] and "Withdrawn" in text_of(root)
    assert "Withdrawn: *Acme Inc.* is no longer registered to you" in text_of(thread[-1])
    review, *rest = dm_messages(sandbox, "U0ALEX")
    assert sandbox.buttons(review) == [] and "Withdrawn by the partner (<@U0DANA>)" in text_of(review)
    told = rest[-1]
    assert "withdrew" in text_of(told) and "&lt;!channel&gt;" in text_of(told) and "<!channel>" not in text_of(told)
    assert any("REG-00001 withdrawn" in text_of(e) for e in sandbox.ephemerals("U0DANA"))
    # Erik's modal, still open, is now out of date: it says so and changes nothing.
    erik = sandbox.open_modal("U0ERIK")
    again = driver.submit("U0ERIK", erik.id, {"reason": "dup"})
    assert again.status == 200
    assert any("was already withdrawn" in text_of(e) for e in sandbox.ephemerals("U0ERIK"))


def test_withdrawing_an_open_registration_and_who_may_not(bot, engine):
    from storage.models import RegistrationStatus

    sandbox, driver = bot.sandbox, bot.driver
    register_via_desk(bot, "U0BETH", "C0GLOBEX", {"company": "Umbrella", "domain": "umbrella.com"})
    # Bob is Globex's too, but Globex is a referral partner: its people see (and act on) only their own, so
    # Beth's registration is in her DM with the bot, not in Globex's channel, and not in Bob's My deals.
    assert not [m for m in sandbox.messages("C0GLOBEX") if "REG-00001" in text_of(m)]
    root, _ = registration_thread(bot, sandbox.dm_channel("U0BETH"), "REG-00001")
    driver.click("U0BOB", "my_deals", message=("C0GLOBEX", desk_message(sandbox, "C0GLOBEX").ts))
    assert not sandbox.buttons(sandbox.ephemerals("U0BOB")[-1]) and "Umbrella" not in text_of(
        sandbox.ephemerals("U0BOB")[-1])
    # My deals offers Withdraw too.
    driver.click("U0BETH", "my_deals", message=("C0GLOBEX", desk_message(sandbox, "C0GLOBEX").ts))
    listing = sandbox.ephemerals("U0BETH")[-1]
    assert [b.action_id for b in sandbox.buttons(listing)] == ["deal_add_update", "deal_edit", "deal_withdraw"]
    driver.click("U0BETH", "deal_withdraw", message=("C0GLOBEX", listing.ts))
    modal = sandbox.open_modal("U0BETH")
    driver.submit("U0BETH", modal.id, {"reason": "Duplicate of another request"})
    with Session(engine) as session:
        assert session.get(Registration, 1).status == RegistrationStatus.withdrawn
    assert crm_events(engine, 1) == ["submitted", "withdrawn"]  # the Lead only: no Opportunity is created


def test_the_desk_is_posted_again_on_request(bot):
    sandbox, driver = bot.sandbox, bot.driver
    desks = lambda: [m for m in sandbox.messages("C0NORTH") if "Partner desk for" in text_of(m)]  # noqa: E731
    assert len(desks()) == 1
    driver.command("U0PRIYA", "/partner", "desk", channel_id="C0NORTH")
    assert len(desks()) == 2 and any("partner desk again" in text_of(e) for e in sandbox.ephemerals("U0PRIYA"))
    driver.mention("U0DANA", "C0NORTH", "where is the desk?")  # a partner in Slack Connect: no slash commands
    assert len(desks()) == 3 and desks()[-1].ts == sandbox.messages("C0NORTH")[-1].ts
    driver.command("U0PRIYA", "/partner", "desk")  # in a DM: not a partner's channel
    assert "isn't a partner's channel" in text_of(dm_messages(sandbox, "U0PRIYA")[-1])
    assert len(desks()) == 3


def test_a_partner_adds_an_update_for_the_ae(bot, engine, clock):
    from storage.models import RegistrationNote

    sandbox, driver = bot.sandbox, bot.driver
    register_via_desk(bot, "U0DANA", "C0NORTH")
    root, _ = registration_thread(bot, "C0NORTH", "REG-00001")
    driver.click("U0DANA", "deal_add_update", message=("C0NORTH", root.ts))
    modal = sandbox.open_modal("U0DANA")
    assert "errors" in driver.submit("U0DANA", modal.id, {"notes": " "}).json
    driver.submit("U0DANA", modal.id, {"notes": "Their CFO signed off the budget <!here>"})
    with Session(engine) as session:
        [note] = session.exec(select(RegistrationNote)).all()
        assert (note.registration_id, note.author_slack_id) == (1, "U0DANA")
    _, thread = registration_thread(bot, "C0NORTH", "REG-00001")
    assert "Update from <@U0DANA>" in text_of(thread[-1]) and "&lt;!here&gt;" in text_of(thread[-1])
    to_ae = dm_messages(sandbox, "U0ALEX")[-1]
    assert "added an update" in text_of(to_ae) and "CFO signed off" in text_of(to_ae)
    assert any("Update added to REG-00001" in text_of(e) for e in sandbox.ephemerals("U0DANA"))
    # An update does not restart the approval SLA: the review is still overdue two days after it was routed.
    clock.offset = timedelta(hours=49)
    assert remind_overdue_reviews(bot.services) == 1
    # Someone of another partner gets nothing, whatever the button carries.
    with Session(engine) as session:
        assert len(session.exec(select(RegistrationNote)).all()) == 1


def test_a_referral_partners_registration_thread_goes_to_its_submitter_privately(bot, engine):
    sandbox, driver = bot.sandbox, bot.driver
    register_via_desk(bot, "U0BETH", "C0GLOBEX", {"company": "Umbrella", "domain": "umbrella.com"})
    beth_dm = sandbox.dm_channel("U0BETH")
    # Globex is a referral partner: Bob, its other contact in the shared channel, must not see Beth's deal.
    assert [m for m in sandbox.messages("C0GLOBEX") if not m.thread_ts and "Partner desk" not in text_of(m)] == []
    assert all("Umbrella" not in text_of(m) for m in sandbox.messages("C0GLOBEX"))
    root, thread = registration_thread(bot, beth_dm, "REG-00001")
    assert "Under review" in text_of(root) and any("Under review" in text_of(m) for m in thread)
    [review] = [m for m in dm_messages(sandbox, "U0ALEX") if "Umbrella" in text_of(m)] or \
        [m for m in dm_messages(sandbox, "U0PRIYA") if "Umbrella" in text_of(m)]
    reviewer = "U0ALEX" if review.channel == sandbox.dm_channel("U0ALEX") else "U0PRIYA"
    driver.click(reviewer, "review_ask_partner", message=(review.channel, review.ts))
    driver.submit(reviewer, sandbox.open_modal(reviewer).id, {"question": "Who signs the order?"})
    _, thread = registration_thread(bot, beth_dm, "REG-00001")  # the question and later replies follow the root
    assert "asks about *Umbrella*" in text_of(thread[-1])
    # Beth answers in her DM thread: the reply reaches the reviewer, as from a shared channel.
    assert driver.post("U0BETH", beth_dm, "The CFO", thread_ts=root.ts).status == 200
    assert "<@U0BETH> (Globex Referrals) replied on REG-00001" in text_of(dm_messages(sandbox, reviewer)[-1])
    # A Northwind (reseller) registration still goes to Northwind's shared channel.
    register_via_desk(bot, "U0DANA", "C0NORTH", {"company": "Hooli", "domain": "hooli.com"})
    assert registration_thread(bot, "C0NORTH", "REG-00002")[0]
    with Session(engine) as session:
        assert [r.partner_channel_id for r in session.exec(select(Registration).order_by(Registration.id))] == [
            None, "C0NORTH"]


def edit_modal(bot, user_id: str, channel: str, reference: str):
    """Click Edit on the registration's thread root; the modal that opens."""
    root, _ = registration_thread(bot, channel, reference)
    assert bot.driver.click(user_id, "deal_edit", message=(channel, root.ts)).status == 200
    modal = bot.sandbox.open_modal(user_id)
    assert modal is not None and modal.callback_id == "edit_registration"
    return modal


def prefilled(modal) -> dict:
    values = {}
    for block in modal.blocks:
        element = block.get("element") or {}
        option = element.get("initial_option")
        if block.get("type") == "input":
            values[block["block_id"]] = option["value"] if option else element.get("initial_value")
    return values


def stored(engine, reg_id: int) -> Registration:
    with Session(engine) as session:
        return session.get(Registration, reg_id)


def test_a_partner_edits_its_registration_and_the_conflict_check_runs_again(bot, engine):
    from storage.models import RegistrationEvent, RegistrationStatus, ReviewKind

    sandbox, driver = bot.sandbox, bot.driver
    register_via_desk(bot, "U0DANA", "C0NORTH")  # Northwind's Acme: REG-00001
    register_via_desk(bot, "U0BETH", "C0GLOBEX", {"company": "Hooli", "domain": "hooli.com"})  # REG-00002
    beth_dm = sandbox.dm_channel("U0BETH")  # Globex is a referral partner: Beth's thread is in her DM
    first_reviewer = stored(engine, 2).assigned_to_slack_id
    [first_review] = [m for m in dm_messages(sandbox, first_reviewer) if "Hooli" in text_of(m)]
    root, _ = registration_thread(bot, beth_dm, "REG-00002")
    assert [b.action_id for b in sandbox.buttons(root)] == ["deal_add_update", "deal_edit", "deal_withdraw"]

    # The modal shows what was registered, as it was typed.
    modal = edit_modal(bot, "U0BETH", beth_dm, "REG-00002")
    assert prefilled(modal) == {
        "company": "Hooli", "domain": "hooli.com", "contact_name": "Jane Smith", "contact_email": "jane@acme.com",
        "country": "DE", "product_line": "Platform", "estimated_value": "48000", "currency": "USD",
        "pricing_model": "subscription", "starting_monthly_usage": None, "company_size": "201-1000",
        "budget": "approved", "timeline": "1-3m", "notes": "CFO involved; evaluating against two others."}
    # Saved untouched, nothing changes, and the modal says so.
    unchanged = driver.submit("U0BETH", modal.id, {})
    assert "Nothing changed" in unchanged.json["errors"]["company"]

    # Renamed to Northwind's customer: it is checked again and is now a conflict for the partner manager.
    saved = driver.submit("U0BETH", modal.id, {"company": "ACME Incorporated", "domain": "www.acme.com"})
    assert saved.status == 200 and not (saved.json or {}).get("errors") and sandbox.open_modal("U0BETH") is None
    reg = stored(engine, 2)
    assert (reg.company, reg.company_key, reg.domain) == ("ACME Incorporated", "acme", "acme.com")
    assert (reg.status, reg.review_kind, reg.assigned_to_slack_id, reg.conflict_with) == (
        RegistrationStatus.under_review, ReviewKind.conflict, "U0PRIYA", [1])
    with Session(engine) as session:
        history = [(e.from_status, e.to_status, e.actor_slack_id, e.reason) for e in session.exec(
            select(RegistrationEvent).where(RegistrationEvent.registration_id == 2).order_by(RegistrationEvent.id))]
    assert history[2] == ("under_review", "received", "U0BETH", "edited: company, domain")
    assert history[3][1] == "under_review" and len(history) == 4
    assert crm_events(engine, 2) == ["submitted", "edited"]
    # The first reviewer's request is closed and they are told; the partner's root shows the new values.
    first_review = next(m for m in dm_messages(sandbox, first_reviewer) if m.ts == first_review.ts)
    assert sandbox.buttons(first_review) == [] and "Edited by the partner (<@U0BETH>): company, domain" in text_of(
        first_review)
    assert any("edited" in text_of(m) and "while you were reviewing it" in text_of(m)
               for m in dm_messages(sandbox, first_reviewer))
    root, thread = registration_thread(bot, beth_dm, "REG-00002")
    assert "ACME Incorporated" in text_of(root) and "Hooli" not in text_of(root)
    assert any("Edited by <@U0BETH>: company, domain" in text_of(m) for m in thread)
    assert any("REG-00002 updated (company, domain)" in text_of(e) for e in sandbox.ephemerals("U0BETH"))
    assert any("REG-00002" in text_of(m) and "conflict" in text_of(m).lower()
               for m in dm_messages(sandbox, "U0PRIYA"))

    # Renamed back, the conflict goes: Priya's review is settled and the lead goes to an AE again.
    modal = edit_modal(bot, "U0BETH", beth_dm, "REG-00002")
    assert prefilled(modal)["company"] == "ACME Incorporated"
    driver.submit("U0BETH", modal.id, {"company": "Hooli", "domain": "hooli.com", "estimated_value": "52,500.50"})
    reg = stored(engine, 2)
    assert (reg.review_kind, reg.conflict_with, reg.company_key) == (ReviewKind.ae, [], "hooli")
    assert str(reg.estimated_value) in ("52500.50", "52500.5")
    assert reg.assigned_to_slack_id in ("U0ALEX", "U0BEA")
    assert any("while you were reviewing it" in text_of(m) for m in dm_messages(sandbox, "U0PRIYA"))
    assert crm_events(engine, 2) == ["submitted", "edited", "edited"]
    assert "52,500.50 USD" in text_of(registration_thread(bot, beth_dm, "REG-00002")[0])


def test_an_edit_is_refused_inline_when_invalid_decided_meanwhile_or_not_the_partners(bot, engine):
    from storage.models import RegistrationEvent, RegistrationStatus

    sandbox, driver = bot.sandbox, bot.driver
    register_via_desk(bot, "U0DANA", "C0NORTH")  # REG-00001, Northwind
    register_via_desk(bot, "U0BETH", "C0GLOBEX", {"company": "Hooli", "domain": "hooli.com"})  # REG-00002, Globex
    before = stored(engine, 1)

    def nothing_stored():
        after = stored(engine, 1)
        assert (after.company, after.estimated_value, after.currency) == (
            before.company, before.estimated_value, before.currency)
        with Session(engine) as session:
            assert not session.exec(select(RegistrationEvent).where(RegistrationEvent.reason.like("edited%"))).all()
        assert "edited" not in crm_events(engine)

    # An amount that reads two ways is refused inline, as on the registration form; the modal stays open.
    modal = edit_modal(bot, "U0DANA", "C0NORTH", "REG-00001")
    unclear = driver.submit("U0DANA", modal.id, {"estimated_value": "48.000", "currency": "EUR"})
    assert "did you mean 48,000 or 48?" in unclear.json["errors"]["estimated_value"]
    assert sandbox.open_modal("U0DANA").id == modal.id
    nothing_stored()

    # Someone of another partner, whatever the modal claims, gets nothing.
    beth_dm = sandbox.dm_channel("U0BETH")
    forged = edit_modal(bot, "U0BETH", beth_dm, "REG-00002")
    sandbox.state.views[forged.id].private_metadata = json.dumps({"registration": 1, "place": beth_dm})
    refused = driver.submit("U0BETH", forged.id, {"company": "Stolen Inc."})
    assert "can't find that registration among yours" in refused.json["errors"]["company"]
    nothing_stored()

    # Decided while the modal was open: refused inline, nothing stored; a decided registration offers no Edit.
    [review] = [m for m in dm_messages(sandbox, "U0ALEX") if "REG-00001" in text_of(m)]
    driver.click("U0ALEX", "review_accept", message=(review.channel, review.ts))
    late = driver.submit("U0DANA", modal.id, {"company": "Acme Holdings"})
    assert "is approved: only a registration still waiting for a decision can be edited" in late.json["errors"][
        "company"]
    assert stored(engine, 1).status == RegistrationStatus.approved
    nothing_stored()
    root, _ = registration_thread(bot, "C0NORTH", "REG-00001")
    assert "deal_edit" not in [b.action_id for b in sandbox.buttons(root)]
