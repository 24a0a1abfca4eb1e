"""Registration workflows on a real database with a fixed clock: conflicts, scoring, routing, decisions."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import timedelta

import pytest
from sqlalchemy import event
from sqlmodel import Session, select

from bot.demo_data import import_demo_records
from handlers.notify import SlackNotifier
from storage.conflict_index import LENGTH_ROW, trigram_code, unindexed_protecting
from storage.models import ConflictTrigram, CrmOutbox, PendingWork, Registration, RegistrationEvent, RegistrationStatus, ReviewKind, TeamMember
from storage.slack.models import SlackMessage
from tests.pg_protocol import round_trips
from tests.support import RecordingNotifier, lead
from workflows import registrations as registrations_module
from workflows.decisions import Decision, decide_registration, expire_registrations
from workflows.people import identify
from workflows.program import Program
from workflows.registrations import register_lead, submit_registration
from workflows.work import run_pending_work
from workflows.services import NotAllowed, OverrideReasonNeeded, Services, WorkflowError


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def clock(now):
    return Clock(now)


@pytest.fixture
def services(engine, clock):
    import_demo_records(engine)
    return Services(engine=engine, program=Program(), notifier=RecordingNotifier(), clock=clock,
                    our_team_id="T0OURS", bot_user_id="U0BOT")


def who(services, user_id, team_id):
    return identify(services, user_id=user_id, team_id=team_id)


def dana(services):
    return who(services, "U0DANA", "T0NORTH")


def bob(services):
    return who(services, "U0BOB", "T0GLOBEX")


def test_clean_lead_is_scored_routed_and_queued_for_the_crm(services, engine):
    outcome = register_lead(services, actor=dana(services), lead=lead())
    reg = outcome.registration
    assert reg.status == RegistrationStatus.under_review
    assert reg.review_kind == ReviewKind.ae
    assert reg.assigned_to_slack_id == "U0ALEX"  # EMEA + Platform, first in round-robin
    assert "Territory and product line" in reg.routing_reason and "round-robin among 2" in reg.routing_reason
    assert 0 <= reg.score <= 100 and set(reg.score_breakdown) == {"fit", "timing", "completeness", "partner_record"}
    assert reg.score == sum(part["points"] for part in reg.score_breakdown.values())
    with Session(engine) as session:
        events = session.exec(select(RegistrationEvent.to_status).where(RegistrationEvent.registration_id == reg.id)
                              .order_by(RegistrationEvent.id)).all()
        outbox = session.exec(select(CrmOutbox.event).where(CrmOutbox.registration_id == reg.id)).all()
    assert events == [RegistrationStatus.received, RegistrationStatus.under_review]
    assert outbox == ["submitted"]
    assert ("review", reg.id, "U0ALEX", []) in services.notifier.calls


def test_round_robin_among_equal_aes_and_fallbacks(services):
    first = register_lead(services, actor=dana(services), lead=lead()).registration
    second = register_lead(services, actor=dana(services), lead=lead(company="Umbrella", domain="umbrella.com"))
    third = register_lead(services, actor=dana(services), lead=lead(company="Hooli", domain="hooli.com"))
    assert [first.assigned_to_slack_id, second.registration.assigned_to_slack_id,
            third.registration.assigned_to_slack_id] == ["U0ALEX", "U0BEA", "U0ALEX"]
    integrations = register_lead(services, actor=dana(services),
                                 lead=lead(company="Stark", domain="stark.com", product_line="Integrations"))
    assert integrations.registration.assigned_to_slack_id == "U0ALEX"
    america = register_lead(services, actor=dana(services),
                            lead=lead(company="Wayne", domain="wayne.com", region="North America"))
    assert america.registration.assigned_to_slack_id == "U0CARL"
    apac = register_lead(services, actor=dana(services), lead=lead(company="Tyrell", domain="tyrell.com", region="APAC"))
    assert apac.registration.assigned_to_slack_id == "U0PRIYA"
    assert "partner's manager" in apac.registration.routing_reason


def test_deal_size_rule_sends_big_deals_to_named_aes(services):
    program = Program.model_validate({"routing": {"exchange_rates": {"EUR": "1.1"}, "rules": [
        {"name": "Enterprise", "min_value": 100000, "assign_to": ["U0CARL"]},
        {"name": "Territory and product line"}]}})
    services.program = program
    big = register_lead(services, actor=dana(services), lead=lead(estimated_value=95000, currency="EUR"))
    assert big.registration.assigned_to_slack_id == "U0CARL"
    assert "Enterprise" in big.registration.routing_reason
    small = register_lead(services, actor=dana(services), lead=lead(company="Small", domain="small.io",
                                                                     estimated_value=1000))
    assert small.registration.assigned_to_slack_id in ("U0ALEX", "U0BEA")


def test_same_company_by_another_partner_is_a_conflict_for_the_manager(services):
    first = register_lead(services, actor=dana(services), lead=lead()).registration
    second = register_lead(services, actor=bob(services),
                           lead=lead(company="ACME Incorporated", domain="https://www.Acme.com/pricing"))
    reg = second.registration
    assert reg.review_kind == ReviewKind.conflict
    assert reg.assigned_to_slack_id == "U0PRIYA"
    assert reg.conflict_with == [first.id]
    assert [(c.registration.id, c.partner.name, c.match) for c in second.conflicts] == [
        (first.id, "Northwind Consulting", "same domain")]


def test_same_partner_again_and_similar_names_are_conflicts(services):
    register_lead(services, actor=dana(services), lead=lead())
    again = register_lead(services, actor=dana(services), lead=lead(company="Acme", domain="acme-corp.com"))
    assert again.conflicts and again.conflicts[0].match == "same company name"
    typo = register_lead(services, actor=bob(services), lead=lead(company="Acme Sofware", domain="acmesw.com"))
    unrelated = register_lead(services, actor=bob(services), lead=lead(company="Acne Studios", domain="acne.se"))
    assert register_lead(services, actor=bob(services),
                         lead=lead(company="Acme Software", domain="acmesoft.io")).conflicts[0].match.startswith(
        "similar company name")
    assert typo.conflicts == [] or all(c.match for c in typo.conflicts)
    assert unrelated.conflicts == []


def test_registrations_outside_the_protection_window_do_not_conflict(services, clock):
    register_lead(services, actor=dana(services), lead=lead())
    clock.now += timedelta(days=91)
    assert register_lead(services, actor=bob(services), lead=lead()).conflicts == []


def test_ae_accepts_once_and_protection_starts(services, engine, clock):
    reg = register_lead(services, actor=dana(services), lead=lead()).registration
    alex = who(services, "U0ALEX", "T0OURS")
    outcome = decide_registration(services, actor=alex, registration_id=reg.id, decision=Decision.approve)
    assert outcome.changed and outcome.registration.status == RegistrationStatus.approved
    assert outcome.registration.protection_expires_at == clock.now + timedelta(days=90)
    again = decide_registration(services, actor=alex, registration_id=reg.id, decision=Decision.reject, reason="x")
    assert not again.changed and "already approved" in again.message
    with Session(engine) as session:
        assert session.get(Registration, reg.id).status == RegistrationStatus.approved
        events = session.exec(select(CrmOutbox.event).where(CrmOutbox.registration_id == reg.id)).all()
    assert sorted(events) == ["approved", "submitted"]
    assert ("partner_update", reg.id, "approved") in services.notifier.calls


def test_partners_and_other_aes_cannot_decide(services):
    reg = register_lead(services, actor=dana(services), lead=lead()).registration
    with pytest.raises(NotAllowed, match="Partners can't approve"):
        decide_registration(services, actor=dana(services), registration_id=reg.id, decision=Decision.approve)
    with pytest.raises(NotAllowed, match="assigned reviewer"):
        decide_registration(services, actor=who(services, "U0CARL", "T0OURS"), registration_id=reg.id,
                            decision=Decision.approve)
    outcome = decide_registration(services, actor=who(services, "U0PRIYA", "T0OURS"), registration_id=reg.id,
                                  decision=Decision.approve)
    assert outcome.changed


def test_reject_needs_a_reason_and_is_recorded(services, engine):
    reg = register_lead(services, actor=dana(services), lead=lead()).registration
    alex = who(services, "U0ALEX", "T0OURS")
    with pytest.raises(WorkflowError, match="reason"):
        decide_registration(services, actor=alex, registration_id=reg.id, decision=Decision.reject, reason="  ")
    outcome = decide_registration(services, actor=alex, registration_id=reg.id, decision=Decision.reject,
                                  reason="Existing customer")
    assert outcome.registration.status == RegistrationStatus.rejected
    assert outcome.registration.decision_reason == "Existing customer"
    with Session(engine) as session:
        event = session.exec(select(RegistrationEvent).where(RegistrationEvent.to_status == RegistrationStatus.rejected)).one()
    assert (event.actor_slack_id, event.reason) == ("U0ALEX", "Existing customer")


def test_first_approved_wins_and_overrides_need_a_reason(services):
    first = register_lead(services, actor=dana(services), lead=lead()).registration
    decide_registration(services, actor=who(services, "U0ALEX", "T0OURS"), registration_id=first.id,
                        decision=Decision.approve)
    second = register_lead(services, actor=bob(services), lead=lead(company="ACME Incorporated")).registration
    priya = who(services, "U0PRIYA", "T0OURS")
    with pytest.raises(OverrideReasonNeeded) as needed:
        decide_registration(services, actor=priya, registration_id=second.id, decision=Decision.approve)
    assert needed.value.winner_ids == [first.id]
    assert "Northwind Consulting's REG-" in str(needed.value)
    cleared = decide_registration(services, actor=priya, registration_id=second.id, decision=Decision.approve,
                                  reason="Different subsidiary, agreed with both partners")
    assert cleared.registration.review_kind == ReviewKind.ae
    assert cleared.registration.status == RegistrationStatus.under_review
    assert cleared.registration.assigned_to_slack_id in ("U0ALEX", "U0BEA")
    assert cleared.registration.attribution == "co_sell"
    ae = who(services, cleared.registration.assigned_to_slack_id, "T0OURS")
    accepted = decide_registration(services, actor=ae, registration_id=second.id, decision=Decision.approve)
    assert accepted.changed and accepted.registration.status == RegistrationStatus.approved


def test_conflict_cleared_without_approved_rival_routes_to_an_ae(services):
    register_lead(services, actor=dana(services), lead=lead())
    second = register_lead(services, actor=bob(services), lead=lead()).registration
    cleared = decide_registration(services, actor=who(services, "U0PRIYA", "T0OURS"), registration_id=second.id,
                                  decision=Decision.approve)
    assert cleared.changed and cleared.registration.review_kind == ReviewKind.ae


def test_a_failure_while_processing_keeps_the_registration_and_is_retried_once(services, clock, engine,
                                                                              monkeypatch):
    """What the partner was told (received) stays stored; the failed processing leaves nothing half-written
    and is done later, exactly once."""
    def broken(*args, **kwargs):
        raise RuntimeError("database hiccup")

    with monkeypatch.context() as patch:
        patch.setattr(registrations_module, "find_conflicts", broken)
        reg = register_lead(services, actor=dana(services), lead=lead()).registration
    assert reg.status == RegistrationStatus.received and reg.assigned_to_slack_id is None
    with Session(engine) as session:
        # (the partners' stage rows of the import aside)
        assert session.exec(select(CrmOutbox.event).where(CrmOutbox.registration_id.is_not(None))).all() == ["submitted"]
        assert [e.to_status for e in session.exec(select(RegistrationEvent))] == [RegistrationStatus.received]
        assert session.exec(select(TeamMember.last_assigned_at).where(TeamMember.slack_user_id == "U0ALEX")).one() is None
        work = session.exec(select(PendingWork)).one()
        assert "database hiccup" in work.last_error
    assert services.notifier.calls == [("received", reg.id)]

    assert run_pending_work(services) == 0  # not due yet: it backs off
    clock.now += timedelta(minutes=1)
    assert run_pending_work(services) == 1
    assert run_pending_work(services) == 0
    with Session(engine) as session:
        assert session.get(Registration, reg.id).status == RegistrationStatus.under_review
        assert session.exec(select(PendingWork)).all() == []
    assert [c[0] for c in services.notifier.calls] == ["received", "partner_update", "review"]


def test_approved_registrations_expire_after_the_window(services, clock, engine):
    reg = register_lead(services, actor=dana(services), lead=lead()).registration
    decide_registration(services, actor=who(services, "U0ALEX", "T0OURS"), registration_id=reg.id,
                        decision=Decision.approve)
    clock.now += timedelta(days=89)
    assert expire_registrations(services) == 0
    clock.now += timedelta(days=2)
    assert expire_registrations(services) == 1
    with Session(engine) as session:
        assert session.get(Registration, reg.id).status == RegistrationStatus.expired
        assert "expired" in session.exec(select(CrmOutbox.event)).all()


def test_names_differing_only_in_numbers_are_different_companies(services):
    register_lead(services, actor=dana(services), lead=lead(company="Studio 12 Design", domain="studio12.com"))
    other = register_lead(services, actor=bob(services), lead=lead(company="Studio 13 Design", domain="studio13.com"))
    assert other.conflicts == []
    # The same numbers with a near-identical name: a conflict, found among the keys indexed with "12".
    again = register_lead(services, actor=bob(services), lead=lead(company="Studio 12 Designs", domain="s12.io"))
    assert [c.match for c in again.conflicts] == ["similar company name (97% alike)"]


def test_overdue_reviews_are_reminded_once_per_period(services, clock):
    from workflows.reminders import remind_overdue_reviews

    reg = register_lead(services, actor=dana(services), lead=lead()).registration
    clock.now += timedelta(hours=47)
    assert remind_overdue_reviews(services) == 0
    clock.now += timedelta(hours=2)
    assert remind_overdue_reviews(services) == 1
    assert remind_overdue_reviews(services) == 0  # a second run in the same period sends nothing
    clock.now += timedelta(hours=48)
    assert remind_overdue_reviews(services) == 2  # second period: the partner's manager is told too
    overdue = [c for c in services.notifier.calls if c[0] == "overdue"]
    assert overdue == [("overdue", reg.id, "U0ALEX", 49), ("overdue", reg.id, "U0ALEX", 97),
                       ("overdue", reg.id, "U0PRIYA", 97)]
    decide_registration(services, actor=who(services, "U0ALEX", "T0OURS"), registration_id=reg.id,
                        decision=Decision.approve)
    clock.now += timedelta(hours=48)
    assert remind_overdue_reviews(services) == 0


def test_won_and_lost_only_after_approval_and_feed_the_partner_record(services):
    from workflows.decisions import close_deal
    from storage.queries import partner_record

    alex = who(services, "U0ALEX", "T0OURS")
    reg = register_lead(services, actor=dana(services), lead=lead()).registration
    early = close_deal(services, actor=alex, registration_id=reg.id, won=True)
    assert not early.changed and "only approved registrations" in early.message
    decide_registration(services, actor=alex, registration_id=reg.id, decision=Decision.approve)
    with pytest.raises(NotAllowed):
        close_deal(services, actor=dana(services), registration_id=reg.id, won=True)
    with pytest.raises(WorkflowError, match="Give a reason"):
        close_deal(services, actor=alex, registration_id=reg.id, won=False)
    lost = close_deal(services, actor=alex, registration_id=reg.id, won=False, reason_choice="competitor")
    assert lost.registration.status == "lost" and lost.registration.close_reason == "Lost to a competitor"
    assert not close_deal(services, actor=alex, registration_id=reg.id, won=True).changed
    with Session(services.engine) as session:
        assert partner_record(session, reg.partner_id) == {"lost": 1}


def test_a_much_registered_company_loads_only_the_earliest_conflicts(services):
    from storage.queries import MAX_CONFLICTS

    first = register_lead(services, actor=dana(services), lead=lead()).registration
    for n in range(MAX_CONFLICTS + 3):
        register_lead(services, actor=bob(services), lead=lead(company=f"Acme Division {n}"))
    latest = register_lead(services, actor=bob(services), lead=lead(company="Acme Holdings"))
    assert len(latest.conflicts) <= 2 * MAX_CONFLICTS
    assert latest.conflicts[0].registration.id == first.id  # the earliest registration is always shown


def test_an_override_makes_every_registration_involved_a_co_sell(services, engine):
    first = register_lead(services, actor=dana(services), lead=lead()).registration
    decide_registration(services, actor=who(services, "U0ALEX", "T0OURS"), registration_id=first.id,
                        decision=Decision.approve)
    second = register_lead(services, actor=bob(services), lead=lead()).registration
    decide_registration(services, actor=who(services, "U0PRIYA", "T0OURS"), registration_id=second.id,
                        decision=Decision.approve, reason="Both partners bring different teams")
    with Session(engine) as session:
        assert session.get(Registration, first.id).attribution == "co_sell"
        assert session.exec(select(CrmOutbox.event).where(CrmOutbox.registration_id == first.id)
                            .order_by(CrmOutbox.id)).all() == ["submitted", "approved", "attribution"]
    assert ("partner_update", first.id, "approved") in services.notifier.calls  # Northwind is told


def test_a_rival_approved_meanwhile_sends_a_cleared_conflict_back_to_the_manager(services):
    first = register_lead(services, actor=dana(services), lead=lead()).registration
    second = register_lead(services, actor=bob(services), lead=lead()).registration
    priya = who(services, "U0PRIYA", "T0OURS")
    cleared = decide_registration(services, actor=priya, registration_id=second.id, decision=Decision.approve)
    assert cleared.registration.review_kind == ReviewKind.ae
    decide_registration(services, actor=who(services, first.assigned_to_slack_id, "T0OURS"),
                        registration_id=first.id, decision=Decision.approve)
    ae = who(services, cleared.registration.assigned_to_slack_id, "T0OURS")
    back = decide_registration(services, actor=ae, registration_id=second.id, decision=Decision.approve)
    assert back.changed and "went to the partner manager" in back.message
    assert (back.registration.review_kind, back.registration.assigned_to_slack_id) == (ReviewKind.conflict, "U0PRIYA")
    assert back.registration.status == RegistrationStatus.under_review


def test_the_conflict_index_holds_exactly_the_registrations_whose_status_protects(services, engine, clock):
    def indexed() -> set[int]:
        with Session(engine) as session:
            assert unindexed_protecting(session) == []
            return set(session.exec(select(ConflictTrigram.registration_id)
                                    .where(ConflictTrigram.trigram == LENGTH_ROW)).all())

    priya = who(services, "U0PRIYA", "T0OURS")  # the partner manager decides any
    kept = register_lead(services, actor=dana(services), lead=lead(company="Kept Corp", domain="kept.io")).registration
    dropped = register_lead(services, actor=dana(services), lead=lead(company="Dropped Ltd", domain="dropped.io")
                            ).registration
    lapsed = register_lead(services, actor=dana(services), lead=lead(company="Lapsed AG", domain="lapsed.io")
                           ).registration
    assert indexed() == {kept.id, dropped.id, lapsed.id}  # open: waiting for a decision
    decide_registration(services, actor=priya, registration_id=kept.id, decision=Decision.approve)
    decide_registration(services, actor=priya, registration_id=dropped.id, decision=Decision.reject, reason="No fit")
    decide_registration(services, actor=priya, registration_id=lapsed.id, decision=Decision.approve)
    assert indexed() == {kept.id, lapsed.id}
    clock.now += timedelta(days=91)
    assert expire_registrations(services) == 2
    assert indexed() == set()
    # What an indexed key looks like: its distinct trigrams and one length row.
    again = register_lead(services, actor=dana(services), lead=lead(company="Kept Corp", domain="kept.io")
                          ).registration
    with Session(engine) as session:
        rows = session.exec(select(ConflictTrigram).where(ConflictTrigram.registration_id == again.id)).all()
    assert sorted(row.trigram for row in rows) == sorted(
        {trigram_code(again.company_key[i:i + 3]) for i in range(len(again.company_key) - 2)} | {LENGTH_ROW})
    assert {row.key_length for row in rows} == {len(again.company_key)}
    assert {row.numbers for row in rows} == {""}  # keys lead with their numbers: "Kept Corp" has none


def test_a_partners_submission_only_writes_before_its_ack(services, engine, clock):
    """Each statement is a round trip before the ack. The thread root's key is made from the registration inserted
    in the same transaction, so no message can hold it yet; the partner was read a moment ago to know who is
    acting. Neither is read again. A replayed submission owes no second root. On PostgreSQL what hangs off the
    registration (history, CRM write, owed work, index keys, thread root) goes out with the COMMIT, in one round trip,
    and BEGIN with the first statement: three in all."""
    services.notifier = SlackNotifier(services.program, clock)
    actor, sent = dana(services), []
    postgresql = engine.dialect.name == "postgresql"
    event.listen(engine, "before_cursor_execute", lambda conn, cursor, statement, *args: sent.append(statement))
    with round_trips(engine) if postgresql else nullcontext() as trips:
        first = submit_registration(services, actor=actor, lead=lead(), request_key="view:V9:h1")
    assert [s for s in sent if s.lstrip().upper().startswith("SELECT")] == []
    if postgresql:
        assert [trip[-1] for trip in trips] == ["INSERT INTO processed_event", "INSERT INTO registration", "COMMIT"]
        assert trips[0] == ["BEGIN", "SET LOCAL lock_timeout = '1500ms'", "INSERT INTO processed_event"]
        assert len(trips[2]) > 6  # the rest, with its COMMIT
    again = submit_registration(services, actor=actor, lead=lead(), request_key="view:V9:h1")
    assert again.duplicate and again.registration.id == first.registration.id
    with Session(engine) as session:
        roots = session.exec(select(SlackMessage).where(SlackMessage.parent_key.is_(None))).all()
    assert [(m.key, m.channel) for m in roots] == [(f"reg:{first.registration.id}:root",
                                                    first.registration.partner_channel_id)]
    assert first.partner.name == "Northwind Consulting" and first.registration.partner_id == first.partner.id
