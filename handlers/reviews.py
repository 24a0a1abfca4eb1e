"""Review listeners: Accept / Reject for AEs, Approve / Reject for conflicts, and the reason modals."""

from __future__ import annotations

from collections.abc import Callable

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from handlers.blocks.registration import parse_view_state
from handlers.blocks.review import build_reason_modal
from handlers.blocks.text import escape
from handlers.common import DATABASE_BUSY, actor_of, answer_text, channel_of, request_key
from handlers.ids import Action, Block, Callback
from storage.actors import Actor
from workflows.decisions import Decision, close_deal, decide_registration, ensure_can_decide
from workflows.services import DatabaseBusy, OverrideReasonNeeded, Services, WorkflowError


def _registration_id(body: dict) -> int | None:
    actions = body.get("actions")
    action = actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], dict) else {}
    value = action.get("value")
    return int(value) if isinstance(value, str) and value.isdigit() and len(value) < 10 else None


def _decide(services: Services, client: WebClient, ack: Ack, actor: Actor, registration_id: int,
            decision: Decision, *, body: dict, reason: str | None = None, channel_id: str | None = None) -> None:
    """Commit the decision, then ack; what it means for the clicker is told after the ack."""
    try:
        outcome = decide_registration(services, actor=actor, registration_id=registration_id, decision=decision,
                                      reason=reason, request_key=request_key(body))
    except OverrideReasonNeeded as needed:
        ack()
        client.views_open(trigger_id=body["trigger_id"], view=build_reason_modal(
            Callback.override_reason, registration_id, title="Override conflict",
            prompt=f"{needed} Why should this one be approved too?"))
        return
    except DatabaseBusy:
        _refuse(client, ack, actor, DATABASE_BUSY, body=body, channel_id=channel_id)
        return
    except WorkflowError as refused:
        _refuse(client, ack, actor, escape(str(refused)), body=body, channel_id=channel_id)
        return
    ack()
    if not (outcome.changed or outcome.replayed):
        answer_text(client, actor.slack_user_id, outcome.message, channel_id=channel_id)


def _refuse(client: WebClient, ack: Ack, actor: Actor, text: str, *, body: dict, channel_id: str | None) -> None:
    """A modal shows the refusal on its reason field; a button click gets a private answer."""
    if body.get("type") == "view_submission":
        ack(response_action="errors", errors={Block.reason.value: text})
        return
    ack()
    answer_text(client, actor.slack_user_id, text, channel_id=channel_id)


def _for_clicked_registration(services: Services, ack: Ack, body: dict, context: BoltContext, client: WebClient,
                              work: Callable[[Actor, int], None]) -> None:
    """Every review button: which registration, who clicked, and a refusal told only to them."""
    registration_id = _registration_id(body)
    if registration_id is None:
        ack()
        return
    actor = actor_of(services, context, body)
    try:
        work(actor, registration_id)
    except WorkflowError as refused:
        _refuse(client, ack, actor, escape(str(refused)), body=body, channel_id=channel_of(body))


def register(app: App, services: Services) -> None:
    def approve(ack: Ack, body: dict, context: BoltContext, client: WebClient):
        """Accept (AE) or clear a conflict (partner manager): committed before the ack; the workflow checks who."""
        _for_clicked_registration(services, ack, body, context, client, lambda actor, registration_id: _decide(
            services, client, ack, actor, registration_id, Decision.approve, body=body, channel_id=channel_of(body)))

    def ask_reject_reason(ack: Ack, body: dict, context: BoltContext, client: WebClient):
        """Reject asks for a reason first, but only of someone allowed to decide."""
        def ask(actor: Actor, registration_id: int) -> None:
            ensure_can_decide(services, actor=actor, registration_id=registration_id)
            ack()
            client.views_open(trigger_id=body["trigger_id"], view=build_reason_modal(
                Callback.reject_reason, registration_id, title="Reject registration",
                prompt="Why is it rejected? The partner will see this."))
        _for_clicked_registration(services, ack, body, context, client, ask)

    app.action(Action.accept.value)(approve)
    app.action(Action.clear_conflict.value)(approve)
    app.action(Action.reject.value)(ask_reject_reason)
    app.action(Action.reject_conflict.value)(ask_reject_reason)

    def close(won: bool):
        def handle_close(ack: Ack, body: dict, context: BoltContext, client: WebClient):
            """Mark won / Mark lost on an approved registration's review message, committed before the ack."""
            def mark(actor: Actor, registration_id: int) -> None:
                try:
                    outcome = close_deal(services, actor=actor, registration_id=registration_id, won=won,
                                         request_key=request_key(body))
                except DatabaseBusy:
                    _refuse(client, ack, actor, DATABASE_BUSY, body=body, channel_id=channel_of(body))
                    return
                ack()
                if not (outcome.changed or outcome.replayed):
                    answer_text(client, actor.slack_user_id, outcome.message, channel_id=channel_of(body))
            _for_clicked_registration(services, ack, body, context, client, mark)
        return handle_close

    app.action(Action.mark_won.value)(close(True))
    app.action(Action.mark_lost.value)(close(False))

    def on_reason(decision: Decision):
        def handle_reason_submission(ack: Ack, body: dict, view: dict, context: BoltContext, client: WebClient):
            """A reason modal: blank reasons are refused inline; the decision is committed, then acked."""
            reason = (parse_view_state(view).get(Block.reason.value) or "").strip()
            if not reason:
                ack(response_action="errors", errors={Block.reason.value: "Write a reason: the partner sees it."})
                return
            metadata = view.get("private_metadata")
            if not (isinstance(metadata, str) and metadata.isdigit() and len(metadata) < 10):
                ack(response_action="errors", errors={Block.reason.value: "This form is out of date: close it and "
                                                                          "click the button again."})
                return
            _decide(services, client, ack, actor_of(services, context, body), int(metadata), decision, body=body,
                    reason=reason)
        return handle_reason_submission

    app.view(Callback.reject_reason.value)(on_reason(Decision.reject))
    app.view(Callback.override_reason.value)(on_reason(Decision.approve))
