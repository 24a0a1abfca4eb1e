"""Extending an approved registration's protection window (program `protection`).

The partner's people (its manager, an admin) press Request extension on the expiry warning in the registration's
thread; the request goes to the owner AE (else the partner's manager) with Extend / Decline. Extend adds
`extension_days` to `protection_expires_at`, at most `max_extensions` times per registration: recorded in the
status history, sent to Salesforce through the CRM outbox, and told to the partner in the thread. Decline needs a
reason, which the partner reads there. Each step is committed before the ack, once per request.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from storage.actors import Actor
from storage.db import transaction
from storage.models import Partner, Registration, RegistrationStatus
from storage.nudges.models import NudgeKind
from storage.protection import (
    ExtensionRequest,
    ExtensionStatus,
    extension_exists,
    extension_for_decision,
    extensions_granted,
    pending_extension,
    registration_for_extension,
)
from storage.queries import claim_request, partner_manager_or_runner
from workflows.acting import ActionOutcome, required_text
from workflows.history import record_in_history
from workflows.nudges import settle_registration_nudges
from workflows.services import ACK_LOCK_TIMEOUT, NotAllowed, NotFound, Services, WorkflowError

EXTENDED = "extended"  # the CRM event: the Opportunity's Protection_Expires__c moves
MAX_REASON = 1000


def on_day(when: datetime | None) -> str:
    return "—" if when is None else f"{when:%-d %b %Y}"


def _status(registration: Registration) -> str:
    return registration.status.replace("_", " ")


def _none_left(registration: Registration, allowed: int) -> str:
    return (f"{registration.reference} has had every extension the program allows ({allowed}); its protection ends "
            f"on {on_day(registration.protection_expires_at)}. Talk to its account executive if the deal needs "
            "longer.")


def request_extension(services: Services, *, actor: Actor, registration_id: int,
                      request_key: str | None = None) -> ActionOutcome:
    """The partner asks for more protection: the request goes to the owner AE (else the partner's manager) in a DM
    with Extend / Decline, and the expiry warnings show who asked. A request already waiting, or none left, is
    told and changes nothing."""
    now, rules = services.clock(), services.program.protection
    with transaction(services.engine, lock_timeout=ACK_LOCK_TIMEOUT) as session:
        if request_key and not claim_request(session, request_key, now):
            return ActionOutcome(None, False, "", replayed=True)
        registration = registration_for_extension(session, registration_id, actor)
        if registration is None:
            # The same answer whether it does not exist or belongs to someone else: nothing to learn from it.
            raise NotFound("I can't find that registration among yours.")
        if registration.status != RegistrationStatus.approved:
            return ActionOutcome(registration, False, f"{registration.reference} is {_status(registration)}: only "
                                                      "an approved registration's protection can be extended.")
        waiting = pending_extension(session, registration.id)
        if waiting is not None:
            return ActionOutcome(registration, False, f"An extension of {registration.reference} is already pending: "
                                                      f"<@{waiting.requested_by_slack_id}> asked on "
                                                      f"{on_day(waiting.requested_at)} and "
                                                      f"<@{waiting.decider_slack_id}> decides.")
        if extensions_granted(session, registration.id) >= rules.max_extensions:
            return ActionOutcome(registration, False, _none_left(registration, rules.max_extensions))
        partner = session.get(Partner, registration.partner_id)
        decider = registration.assigned_to_slack_id or partner_manager_or_runner(session, partner)
        if decider is None:
            raise WorkflowError("Nobody can decide an extension yet: ask the program's admins to import the team.")
        request = ExtensionRequest(registration_id=registration.id, partner_id=partner.id,
                                   requested_by_slack_id=actor.slack_user_id, requested_at=now,
                                   decider_slack_id=decider, expires_before=registration.protection_expires_at)
        session.add(request)
        session.flush()
        services.notifier.extension_requested(session, request, registration, partner)
        settle_registration_nudges(session, services, registration.id, (NudgeKind.protection_expiry,),
                                   actor_slack_id=actor.slack_user_id, now=now,
                                   note=f":hourglass_flowing_sand: <@{actor.slack_user_id}> asked for an extension "
                                        f"on {on_day(now)}; <@{decider}> decides.")
    services.kick()
    return ActionOutcome(registration, True, f"Asked <@{decider}> to extend {registration.reference}'s protection by "
                                             f"{rules.extension_days} days; you'll hear in its thread.")


def _load_request(session: Session, request_id: int, actor: Actor) -> ExtensionRequest:
    request = extension_for_decision(session, request_id, actor)
    if request is not None:
        return request
    if extension_exists(session, request_id):
        raise NotAllowed("Only the deal's account executive, the partner's manager or an admin can decide this "
                         "extension.")
    raise NotFound("That extension request no longer exists.")


def _already(request: ExtensionRequest) -> str:
    return (f"This extension request was already {str(request.status)} by <@{request.decided_by_slack_id}> on "
            f"{on_day(request.decided_at)}; nothing changed.")


def ensure_can_decide_extension(services: Services, *, actor: Actor,
                                request_id: int) -> tuple[ExtensionRequest, Registration]:
    """The request and its registration, unless this actor may not decide it now (before the Decline modal
    opens). A plain read: it must not queue behind writers while a trigger_id ages."""
    with Session(services.engine) as session:
        request = _load_request(session, request_id, actor)
        if request.status != ExtensionStatus.pending:
            raise WorkflowError(_already(request))
        registration = session.get(Registration, request.registration_id)
        session.expunge_all()
        return request, registration


def decide_extension(services: Services, *, actor: Actor, request_id: int, extend: bool, reason: str | None = None,
                     request_key: str | None = None) -> ActionOutcome:
    """Extend (`extension_days` more, within `max_extensions`) or Decline (with a reason) a pending request, once;
    the partner is told in the registration's thread and the AE's message shows the decision."""
    now, rules = services.clock(), services.program.protection
    if not extend:
        reason = required_text(reason, MAX_REASON, "Say why: the partner reads it in the registration's thread.")
    with transaction(services.engine, lock_timeout=ACK_LOCK_TIMEOUT) as session:
        if request_key and not claim_request(session, request_key, now):
            return ActionOutcome(None, False, "", replayed=True)
        request = _load_request(session, request_id, actor)
        registration = session.get(Registration, request.registration_id, with_for_update=True)
        if request.status != ExtensionStatus.pending:
            return ActionOutcome(registration, False, _already(request))
        if extend:
            if registration.status != RegistrationStatus.approved:
                return ActionOutcome(registration, False, f"{registration.reference} is {_status(registration)} now: "
                                                          "its protection can't be extended.")
            if extensions_granted(session, registration.id) >= rules.max_extensions:
                return ActionOutcome(registration, False, f"{registration.reference} has had every extension the "
                                                          f"program allows ({rules.max_extensions}): Decline it "
                                                          "with a reason instead.")
            registration.protection_expires_at += timedelta(days=rules.extension_days)
            request.expires_after = registration.protection_expires_at
            record_in_history(session, registration, actor_slack_id=actor.slack_user_id, now=now, crm_event=EXTENDED,
                              reason=f"protection extended to {on_day(registration.protection_expires_at)} "
                                     f"(asked by {request.requested_by_slack_id})")
            done = (f"{registration.reference}: protection extended to "
                    f"{on_day(registration.protection_expires_at)}; the partner is told in its thread.")
        else:
            request.reason = reason
            done = f"Declined: the partner is told in {registration.reference}'s thread, with your reason."
        request.status = ExtensionStatus.extended if extend else ExtensionStatus.declined
        request.decided_by_slack_id, request.decided_at = actor.slack_user_id, now
        session.add(request)
        services.notifier.extension_decided(session, request, registration,
                                            session.get(Partner, registration.partner_id))
    services.kick()
    return ActionOutcome(registration, True, done)
