"""Editing a registration, as a workflow on a real database with a fixed clock: what is stored, the conflict
index, the history, the CRM, the owed processing, and who may edit."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlmodel import Session, select

from storage.models import (
    CrmOutbox,
    PendingWork,
    ProcessedEvent,
    Registration,
    RegistrationEvent,
    RegistrationStatus,
    ReviewKind,
)
from tests.support import lead
from tests.test_workflows_registration import clock, services  # noqa: F401  (the same fixtures)
from workflows.conflicts import find_conflicts
from workflows.lead_form import LeadInput
from workflows.normalize import company_key
from workflows.partner_actions import edit_registration
from workflows.people import identify
from workflows.registrations import PROCESS_REGISTRATION, register_lead, submit_registration
from workflows.services import NotFound, WorkflowError
from workflows.work import run_pending_work

DANA, ERIK, BETH, BOB = ("U0DANA", "T0NORTH"), ("U0ERIK", "T0NORTH"), ("U0BETH", "T0GLOBEX"), ("U0BOB", "T0GLOBEX")


def who(services, person):
    return identify(services, user_id=person[0], team_id=person[1])


def form_of(registration: Registration, **changes) -> LeadInput:
    """The edit form as submitted: what is stored, with `changes` (the company's key follows the company)."""
    values = {name: getattr(registration, name) for name in LeadInput.__dataclass_fields__ if name != "partner_id"}
    values |= changes
    if "company" in changes:
        values["company_key"] = company_key(changes["company"])
    return LeadInput(**values)


def stored(services, reg_id: int) -> Registration:
    with Session(services.engine) as session:
        return session.get(Registration, reg_id)


def matches(services, key: str) -> list[int]:
    """Registrations the conflict check finds for a company key (exact or through the trigram index)."""
    with Session(services.engine) as session:
        return [c.registration.id for c in find_conflicts(session, domain=None, key=key, program=services.program,
                                                          now=services.clock())]


def test_an_edited_company_is_indexed_again_and_its_old_name_protects_nothing(services):
    reg = register_lead(services, actor=who(services, BETH), lead=lead(company="Umbrella Corporation",
                                                                        domain="umbrella.com")).registration
    assert matches(services, "umbrela") == [reg.id]  # similar: found through the index
    outcome = edit_registration(services, actor=who(services, BETH), registration_id=reg.id,
                                lead=form_of(reg, company="Vandelay Industries", domain="vandelay.com"))
    assert outcome.changed and "company, domain" in outcome.message
    assert stored(services, reg.id).company_key == "vandelay industries"
    assert matches(services, "umbrela") == []
    assert matches(services, "vandelay industriez") == [reg.id]  # the new key's trigrams are in the index


def test_editing_a_received_registration_records_why_tells_the_crm_and_owes_processing(services, engine):
    submission = submit_registration(services, actor=who(services, DANA), lead=lead())
    reg = submission.registration
    services.notifier.calls.clear()
    outcome = edit_registration(services, actor=who(services, ERIK), registration_id=reg.id,  # Northwind too
                                lead=form_of(reg, estimated_value=Decimal("52000"), currency="EUR"),
                                request_key="view:V1:h1")
    assert outcome.changed and outcome.message.startswith(f"{reg.reference} updated (amount, currency)")
    assert services.notifier.calls == [("edited", reg.id, "U0ERIK", "amount, currency", None, None)]
    with Session(engine) as session:
        [event] = session.exec(select(RegistrationEvent).where(RegistrationEvent.reason.like("edited%"))).all()
        assert (event.from_status, event.to_status, event.actor_slack_id, event.reason) == (
            "received", "received", "U0ERIK", "edited: amount, currency")
        assert session.exec(select(CrmOutbox.event).where(CrmOutbox.registration_id == reg.id)
                            .order_by(CrmOutbox.id)).all() == ["submitted", "edited"]
        assert len(session.exec(select(PendingWork).where(PendingWork.kind == PROCESS_REGISTRATION)).all()) == 2
    # The same submission again applies once.
    again = edit_registration(services, actor=who(services, ERIK), registration_id=reg.id,
                              lead=form_of(reg, estimated_value=Decimal("99000")), request_key="view:V1:h1")
    assert again.replayed and stored(services, reg.id).estimated_value == Decimal("52000")
    run_pending_work(services, PROCESS_REGISTRATION, reg.id)
    processed = stored(services, reg.id)
    assert processed.status == RegistrationStatus.under_review and processed.review_kind == ReviewKind.ae
    assert ("review", reg.id, processed.assigned_to_slack_id, []) in services.notifier.calls


def test_an_edit_under_review_settles_the_review_and_starts_it_over(services):
    reg = register_lead(services, actor=who(services, DANA), lead=lead()).registration
    assert reg.status == RegistrationStatus.under_review and reg.review_message_key
    review_key, reviewer = reg.review_message_key, reg.assigned_to_slack_id
    edit_registration(services, actor=who(services, DANA), registration_id=reg.id,
                      lead=form_of(reg, notes="Board approved the budget", timeline="0-1m"))
    assert ("edited", reg.id, "U0DANA", "timeline, notes", review_key, reviewer) in services.notifier.calls
    waiting = stored(services, reg.id)
    assert (waiting.status, waiting.review_kind, waiting.assigned_to_slack_id, waiting.review_message_key) == (
        RegistrationStatus.received, None, None, None)
    run_pending_work(services, PROCESS_REGISTRATION, reg.id)
    assert stored(services, reg.id).status == RegistrationStatus.under_review


def test_an_edited_registration_claims_its_new_company_when_edited_so_an_open_one_already_there_comes_first(
        services, clock):
    earlier = register_lead(services, actor=who(services, DANA), lead=lead(company="Globex", domain="globex.com")
                            ).registration
    clock.now += timedelta(minutes=5)
    hooli = register_lead(services, actor=who(services, BETH), lead=lead(company="Hooli", domain="hooli.com"))
    assert hooli.conflicts == [] and hooli.registration.review_kind == ReviewKind.ae  # with its AE, no conflict
    clock.now += timedelta(minutes=5)
    edit_registration(services, actor=who(services, DANA), registration_id=earlier.id,
                      lead=form_of(earlier, company="Hooli Inc", domain="hooli.com"))
    run_pending_work(services, PROCESS_REGISTRATION, earlier.id)
    edited = stored(services, earlier.id)
    # Submitted first, but Hooli became its company after Beth's registration: that one is the conflict.
    assert edited.review_kind == ReviewKind.conflict and edited.conflict_with == [hooli.registration.id]
    # A registration submitted after the edit is checked against the edited one (and Beth's), as always.
    clock.now += timedelta(minutes=5)
    later = register_lead(services, actor=who(services, BOB), lead=lead(company="Hooli", domain="hooli.io"))
    assert sorted(c.registration.id for c in later.conflicts) == sorted([earlier.id, hooli.registration.id])


def test_who_may_edit_and_what_is_refused_with_nothing_stored(services, engine):
    reg = register_lead(services, actor=who(services, BETH), lead=lead(company="Hooli")).registration
    # Globex is a referral partner: Bob sees (and edits) only his own registrations.
    with pytest.raises(NotFound):
        edit_registration(services, actor=who(services, BOB), registration_id=reg.id,
                          lead=form_of(reg, company="Bob's"))
    with pytest.raises(WorkflowError, match="Nothing changed"):
        edit_registration(services, actor=who(services, BETH), registration_id=reg.id, lead=form_of(reg),
                          request_key="view:V2:h1")
    with Session(engine) as session:
        reg_row = session.get(Registration, reg.id)
        reg_row.status = RegistrationStatus.rejected
        session.add(reg_row)
        session.commit()
    with pytest.raises(WorkflowError, match="is rejected: only a registration still waiting"):
        edit_registration(services, actor=who(services, BETH), registration_id=reg.id,
                          lead=form_of(reg, company="Hooli Labs"), request_key="view:V2:h2")
    assert stored(services, reg.id).company == "Hooli"
    with Session(engine) as session:
        assert not session.exec(select(RegistrationEvent).where(RegistrationEvent.reason.like("edited%"))).all()
        assert "edited" not in session.exec(select(CrmOutbox.event)).all()
        # Not even the request is kept: a refusal is answered on the modal, which can then be sent again.
        assert session.get(ProcessedEvent, "view:V2:h1") is None and session.get(ProcessedEvent, "view:V2:h2") is None
