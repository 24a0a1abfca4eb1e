"""Concurrency: simultaneous clicks apply once; simultaneous registrations of one company see each other."""

from __future__ import annotations

import threading

import pytest
from sqlmodel import Session, select

from bot.demo_data import import_demo_records
from storage.models import CrmOutbox, Registration, ReviewKind
from tests.support import RecordingNotifier, lead
from workflows.decisions import Decision, decide_registration
from workflows.people import identify
from workflows.program import Program
from workflows.registrations import register_lead
from workflows.services import Services


@pytest.fixture
def services(engine):
    import_demo_records(engine)
    return Services(engine=engine, program=Program(), notifier=RecordingNotifier(), our_team_id="T0OURS")


def run_together(functions) -> None:
    barrier = threading.Barrier(len(functions))
    errors = []

    def run(function):
        barrier.wait()
        try:
            function()
        except Exception as exc:  # noqa: BLE001 - collected and re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(f,)) for f in functions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors


def test_simultaneous_registrations_of_one_company_are_checked_one_at_a_time(services, engine):
    people = [("U0DANA", "T0NORTH"), ("U0BOB", "T0GLOBEX"), ("U0BETH", "T0GLOBEX"), ("U0ERIK", "T0NORTH")]
    outcomes = []

    def register(user_id, team_id):
        actor = identify(services, user_id=user_id, team_id=team_id)
        return lambda: outcomes.append(register_lead(services, actor=actor, lead=lead()))

    run_together([register(*p) for p in people])
    clean = [o for o in outcomes if not o.conflicts]
    assert len(outcomes) == 4 and len(clean) == 1  # the first one through; the other three go to conflict review
    with Session(engine) as session:
        kinds = sorted(r.review_kind for r in session.exec(select(Registration)).all())
    assert kinds == [ReviewKind.ae, ReviewKind.conflict, ReviewKind.conflict, ReviewKind.conflict]


def test_simultaneous_clicks_apply_once(services, engine):
    registration = register_lead(services, actor=identify(services, user_id="U0DANA", team_id="T0NORTH"),
                                 lead=lead()).registration
    ae = identify(services, user_id=registration.assigned_to_slack_id, team_id="T0OURS")
    manager = identify(services, user_id="U0PRIYA", team_id="T0OURS")
    changed = []

    def click(actor, decision, reason=None):
        return lambda: changed.append(decide_registration(services, actor=actor, registration_id=registration.id,
                                                          decision=decision, reason=reason).changed)

    run_together([click(ae, Decision.approve)] * 4 + [click(manager, Decision.reject, "duplicate")] * 2)
    assert changed.count(True) == 1
    with Session(engine) as session:
        events = session.exec(select(CrmOutbox.event).where(CrmOutbox.registration_id == registration.id)).all()
    assert sorted(events) in (["approved", "submitted"], ["rejected", "submitted"])


def test_two_rival_registrations_cannot_both_be_approved_at_once(services, engine, monkeypatch):
    from workflows import decisions

    # Hold each approval right after its conflict check, so that without serialisation both would pass it.
    meet = threading.Barrier(2, timeout=0.5)  # well within the decision's bounded wait for locks

    def find_conflicts_then_wait(*args, **kwargs):
        found = real_find_conflicts(*args, **kwargs)
        try:
            meet.wait()
        except threading.BrokenBarrierError:
            pass  # serialised: the other approval is still waiting for the lock
        return found

    real_find_conflicts = decisions.find_conflicts
    identify_ = lambda user, team: identify(services, user_id=user, team_id=team)  # noqa: E731
    first = register_lead(services, actor=identify_("U0DANA", "T0NORTH"), lead=lead()).registration
    second = register_lead(services, actor=identify_("U0BOB", "T0GLOBEX"), lead=lead()).registration
    manager = identify_("U0PRIYA", "T0OURS")
    second = decide_registration(services, actor=manager, registration_id=second.id,
                                 decision=Decision.approve).registration  # cleared: nobody approved yet
    approvals = [(identify_(r.assigned_to_slack_id, "T0OURS"), r.id) for r in (first, second)]
    monkeypatch.setattr(decisions, "find_conflicts", find_conflicts_then_wait)
    run_together([lambda a=a, r=r: decide_registration(services, actor=a, registration_id=r,
                                                       decision=Decision.approve) for a, r in approvals])
    with Session(engine) as session:
        statuses = sorted(r.status for r in session.exec(select(Registration)).all())
    assert statuses == ["approved", "under_review"]  # first approved wins; the other goes back for review
