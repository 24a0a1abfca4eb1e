"""Nudges about deals (workflows/nudge_deals.py) and protection extensions (workflows/protection.py): a stalled
registration's AE asked once per quiet spell, Still working starting a new one; the partner warned 14 and 7 days
before its protection ends, in the registration's thread; Request extension, Extend within the limit, Decline
with a reason; who may press what."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from storage.actors import Actor, ActorKind
from storage.models import CrmOutbox, Partner, PartnerStage, PartnerType, Registration, RegistrationEvent, \
    RegistrationStatus, Role
from storage.nudges.models import Nudge
from storage.protection import ExtensionRequest
from storage.reviews import thread_root_key
from tests.crm.crm_factories import registration_values
from tests.test_nudges import MovingClock, all_outbox, make_services, nudges, outbox  # noqa: F401  (clock)
from tests.test_nudges import clock  # noqa: F401  (the fixture)
from workflows.decisions import close_deal, expire_registrations
from workflows.nudge_deals import still_working
from workflows.nudge_jobs import send_due_nudges
from workflows.protection import decide_extension, request_extension
from workflows.services import NotAllowed, NotFound, WorkflowError

AE = Actor("UAE", None, ActorKind.internal, role=Role.ae)
OTHER_AE = Actor("UAE2", None, ActorKind.internal, role=Role.ae)
MANAGER = Actor("UMGR", None, ActorKind.internal, role=Role.ae)  # the partner's manager


def add_partner(engine, name="Northwind", *, type=PartnerType.reseller, channel: str | None = "C1") -> int:
    with Session(engine) as session:
        partner = Partner(name=name, type=type, stage=PartnerStage.producing, manager_slack_id="UMGR",
                          slack_channel_id=channel, slack_team_id="T1")
        session.add(partner)
        session.commit()
        return partner.id


def add_registration(engine, partner_id: int, *, approved, expires=None, status=RegistrationStatus.approved,
                     owner: str | None = "UAE", channel: str | None = "C1", company="Acme Inc.") -> int:
    with Session(engine) as session:
        registration = Registration(**registration_values(
            approved, partner_id=partner_id, submitted_by_slack_id="UP1", company=company, status=status,
            assigned_to_slack_id=owner, partner_channel_id=channel, approved_at=approved, updated_at=approved,
            protection_expires_at=expires or approved + timedelta(days=90)))
        session.add(registration)
        session.commit()
        return registration.id


def partner_person(partner_id: int, user="UP1") -> Actor:
    return Actor(user, "T1", ActorKind.partner, partner_id=partner_id, partner_type=PartnerType.reseller)


def buttons(message) -> list[tuple[str, str | None]]:
    return [(e["action_id"], e.get("value")) for b in message.blocks if b["type"] == "actions" for e in b["elements"]]


def registration(engine, registration_id: int) -> Registration:
    with Session(engine) as session:
        return session.get(Registration, registration_id)


def history(engine, registration_id: int) -> list[tuple[str, str, str | None, str | None]]:
    with Session(engine) as session:
        return [(e.from_status, e.to_status, e.actor_slack_id, e.reason) for e in session.exec(
            select(RegistrationEvent).where(RegistrationEvent.registration_id == registration_id)
            .order_by(RegistrationEvent.id))]


def of_kind(engine, kind: str) -> list[Nudge]:
    return [n for n in nudges(engine) if n.kind == kind]


def test_a_stalled_deal_nudges_its_ae_once_per_quiet_spell_and_still_working_starts_a_new_one(engine, clock):
    services = make_services(engine, clock)
    partner = add_partner(engine)
    stalled = add_registration(engine, partner, approved=clock.now - timedelta(days=22))
    add_registration(engine, partner, approved=clock.now - timedelta(days=10), company="Recent")  # not yet
    add_registration(engine, partner, approved=clock.now - timedelta(days=40), company="Won",
                     status=RegistrationStatus.won)
    add_registration(engine, partner, approved=clock.now - timedelta(days=40), company="Nobody's", owner=None)
    assert send_due_nudges(services).created == {"stalled_registration": 1}
    assert send_due_nudges(services).total == 0
    [nudge] = nudges(engine)
    assert (nudge.recipient, nudge.subject, nudge.registration_id) == ("UAE", f"registration:{stalled}", stalled)
    message = outbox(engine, nudge.message_key)
    assert message.channel == "UAE" and f"Is REG-{stalled:05d} still in play?" in message.text
    assert buttons(message) == [("nudge_still_working", str(nudge.id)), ("deal_won", str(stalled)),
                                ("deal_lost", str(stalled)), ("nudge_snooze", str(nudge.id)),
                                ("nudge_not_relevant", str(nudge.id))]
    clock.now += timedelta(days=7)
    assert send_due_nudges(services).total == 0  # the same quiet spell: nudged once

    for stranger in (OTHER_AE, partner_person(partner)):  # another AE, the partner's people: not theirs
        with pytest.raises(NotFound):
            still_working(services, actor=stranger, nudge_id=nudge.id)
    outcome = still_working(services, actor=AE, nudge_id=nudge.id)
    assert outcome.changed and "stays open" in outcome.message
    assert history(engine, stalled)[-1] == ("approved", "approved", "UAE",
                                            "still working: confirmed from the stalled-deal nudge")
    assert registration(engine, stalled).updated_at == clock.now
    [update] = [m for m in all_outbox(engine) if m.kind == "update" and m.parent_key == nudge.message_key]
    assert "<@UAE> is still working it" in str(update.blocks) and buttons(update) == []
    again = still_working(services, actor=AE, nudge_id=nudge.id)
    assert not again.changed and "already answered" in again.message

    clock.now += timedelta(days=20)
    assert send_due_nudges(services).created == {"stalled_registration": 1}  # "Recent", quiet for 37 days now
    clock.now += timedelta(days=1)  # 21 days since Still working: a new quiet spell
    assert send_due_nudges(services).created == {"stalled_registration": 1}
    newest = of_kind(engine, "stalled_registration")[-1]
    assert newest.registration_id == stalled and newest.period != nudge.period
    assert still_working(services, actor=MANAGER, nudge_id=newest.id).changed  # the partner's manager may


def test_the_partner_is_warned_14_and_7_days_before_its_protection_ends_once_each_in_the_thread(engine, clock):
    services = make_services(engine, clock)
    partner = add_partner(engine)
    ends = clock.now + timedelta(days=20)
    warned = add_registration(engine, partner, approved=clock.now - timedelta(days=5), expires=ends)
    counts = []
    for days_before in (15, 14, 13, 8, 7, 6, 1):
        clock.now = ends - timedelta(days=days_before)
        counts.append(send_due_nudges(services).created.get("protection_expiry", 0))
    assert counts == [0, 1, 0, 0, 1, 0, 0]
    first, second = of_kind(engine, "protection_expiry")
    assert (first.period, second.period) == (f"{ends:%Y%m%d}:14", f"{ends:%Y%m%d}:7")
    assert first.recipient == "C1" and first.subject == f"registration:{warned}"
    message = outbox(engine, first.message_key)
    assert (message.channel, message.parent_key) == ("", thread_root_key(warned))  # a reply in its thread
    assert "Protection for Acme Inc. ends in 14 days" in message.text and "<@UP1>" in str(message.blocks)
    assert buttons(message)[0] == ("protection_request_extension", str(warned))

    # A run that comes late sends the nearest warning only; a thread in the submitter's DM is warned there.
    clock.now = ends - timedelta(days=30)
    referral = add_partner(engine, "Referrals", type=PartnerType.referral, channel="C2")
    late = add_registration(engine, referral, approved=clock.now - timedelta(days=80),
                            expires=clock.now + timedelta(days=5), channel=None, company="Late")
    assert send_due_nudges(services).created.get("protection_expiry") == 1
    [dm] = [n for n in of_kind(engine, "protection_expiry") if n.registration_id == late]
    assert dm.recipient == "UP1" and dm.period.endswith(":7")
    assert outbox(engine, dm.message_key).parent_key == thread_root_key(late)


def test_request_extend_moves_the_date_in_history_and_crm_and_the_partner_is_told(engine, clock):
    services = make_services(engine, clock)
    partner = add_partner(engine)
    other = add_partner(engine, "Globex", channel="C2")
    ends = clock.now + timedelta(days=10)
    deal = add_registration(engine, partner, approved=clock.now - timedelta(days=80), expires=ends)
    send_due_nudges(services)
    [warning] = of_kind(engine, "protection_expiry")

    for stranger in (partner_person(other, "UX"), Actor("UNKNOWN", "T9", ActorKind.unknown), OTHER_AE):
        with pytest.raises(NotFound):
            request_extension(services, actor=stranger, registration_id=deal)
    asked = request_extension(services, actor=partner_person(partner), registration_id=deal)
    assert asked.changed and "Asked <@UAE> to extend" in asked.message
    with Session(engine) as session:
        [request] = session.exec(select(ExtensionRequest)).all()
        assert (request.status, request.requested_by_slack_id, request.decider_slack_id) == ("pending", "UP1", "UAE")
        assert session.get(Nudge, warning.id).response == "acted"
    dm = outbox(engine, f"protection:extension:{request.id}")
    assert dm.channel == "UAE" and buttons(dm) == [("protection_extend", str(request.id)),
                                                   ("protection_decline", str(request.id))]
    [settled] = [m for m in all_outbox(engine) if m.kind == "update" and m.parent_key == warning.message_key]
    assert "<@UP1> asked for an extension" in str(settled.blocks) and buttons(settled) == []
    pending = request_extension(services, actor=partner_person(partner, "UP2"), registration_id=deal)
    assert not pending.changed and "already pending" in pending.message

    with pytest.raises(NotAllowed):
        decide_extension(services, actor=OTHER_AE, request_id=request.id, extend=True)
    with pytest.raises(NotAllowed):
        decide_extension(services, actor=partner_person(partner), request_id=request.id, extend=True)
    clock.now += timedelta(hours=1)
    extended = decide_extension(services, actor=AE, request_id=request.id, extend=True)
    new_end = ends + timedelta(days=30)
    assert extended.changed and registration(engine, deal).protection_expires_at == new_end
    assert history(engine, deal)[-1] == ("approved", "approved", "UAE",
                                         f"protection extended to {new_end:%-d %b %Y} (asked by UP1)")
    with Session(engine) as session:
        assert [r.event for r in session.exec(select(CrmOutbox).where(CrmOutbox.registration_id == deal))] == [
            "extended"]
        assert session.get(ExtensionRequest, request.id).expires_after == new_end
    told = outbox(engine, f"{thread_root_key(deal)}:extension:{request.id}")
    assert told.parent_key == thread_root_key(deal)
    assert f"registered to you until {new_end:%-d %b %Y}" in str(told.blocks)
    decided = [m for m in all_outbox(engine) if m.kind == "update" and m.parent_key == dm.key]
    assert buttons(decided[-1]) == [] and "Extended to" in str(decided[-1].blocks)
    assert not decide_extension(services, actor=AE, request_id=request.id, extend=True).changed  # once

    none_left = request_extension(services, actor=partner_person(partner), registration_id=deal)
    assert not none_left.changed and "every extension the program allows (1)" in none_left.message

    clock.now = ends + timedelta(hours=1)  # the old end: still protected
    assert expire_registrations(services) == 0
    assert send_due_nudges(services).total == 0
    clock.now = new_end - timedelta(days=7)  # the new end is warned about, with no extension left to ask for
    send_due_nudges(services)
    last = of_kind(engine, "protection_expiry")[-1]
    assert last.period == f"{new_end:%Y%m%d}:7"
    assert [action for action, _ in buttons(outbox(engine, last.message_key))] == ["nudge_snooze",
                                                                                  "nudge_not_relevant"]
    clock.now = new_end + timedelta(minutes=1)
    assert expire_registrations(services) == 1


def test_decline_needs_a_reason_the_partner_reads_and_a_deal_without_an_ae_goes_to_the_manager(engine, clock):
    services = make_services(engine, clock)
    partner = add_partner(engine)
    ends = clock.now + timedelta(days=10)
    deal = add_registration(engine, partner, approved=clock.now - timedelta(days=80), expires=ends, owner=None)
    request_extension(services, actor=MANAGER, registration_id=deal)  # the partner's manager may ask too
    with Session(engine) as session:
        [request] = session.exec(select(ExtensionRequest)).all()
    assert request.decider_slack_id == "UMGR"
    with pytest.raises(WorkflowError, match="Say why"):
        decide_extension(services, actor=MANAGER, request_id=request.id, extend=False, reason="  ")
    declined = decide_extension(services, actor=MANAGER, request_id=request.id, extend=False,
                                reason="Budget frozen <!channel>")
    assert declined.changed and registration(engine, deal).protection_expires_at == ends
    with Session(engine) as session:
        stored = session.get(ExtensionRequest, request.id)
        assert (stored.status, stored.reason, stored.decided_by_slack_id) == ("declined", "Budget frozen <!channel>",
                                                                            "UMGR")
        assert session.exec(select(CrmOutbox).where(CrmOutbox.registration_id == deal)).all() == []
    told = outbox(engine, f"{thread_root_key(deal)}:extension:{request.id}")
    assert "declined" in str(told.blocks) and ">Budget frozen &lt;!channel&gt;" in str(told.blocks)
    assert request_extension(services, actor=partner_person(partner), registration_id=deal).changed  # ask again


def test_closing_the_deal_answers_its_stalled_nudge_and_its_expiry_warning(engine, clock):
    services = make_services(engine, clock)
    partner = add_partner(engine)
    deal = add_registration(engine, partner, approved=clock.now - timedelta(days=80),
                            expires=clock.now + timedelta(days=10))
    assert send_due_nudges(services).created == {"stalled_registration": 1, "protection_expiry": 1}
    assert close_deal(services, actor=AE, registration_id=deal, won=True).changed
    for nudge in nudges(engine):
        assert (nudge.response, nudge.responded_by_slack_id) == ("acted", "UAE")
        [update] = [m for m in all_outbox(engine) if m.kind == "update" and m.parent_key == nudge.message_key]
        assert buttons(update) == [] and "<@UAE> marked it won" in str(update.blocks)
