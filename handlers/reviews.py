"""Review listeners: Accept / Reject for AEs, Approve / Reject for conflicts, and the reason modals."""

from __future__ import annotations

from collections.abc import Callable

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from handlers.blocks.registration import parse_view_state
from handlers.blocks.review import build_reason_modal
from handlers.blocks.text import escape
from handlers.common import actor_of, answer_text, channel_of
from handlers.ids import Action, Block, Callback
from storage.actors import Actor
from workflows.decisions import Decision, close_deal, decide_registration, ensure_can_decide
from workflows.services import OverrideReasonNeeded, Services, WorkflowError


def _registration_id(body: dict) -> int | None:
    value = (body.get("actions") or [{}])[0].get("value", "")
    return int(value) if value.isdigit() else None


def _decide(services: Services, client: WebClient, actor: Actor, registration_id: int, decision: Decision, *,
            reason: str | None = None, trigger_id: str | None = None, channel_id: str | None = None) -> None:
    try:
        outcome = decide_registration(services, actor=actor, registration_id=registration_id, decision=decision,
                                      reason=reason)
    except OverrideReasonNeeded as needed:
        if trigger_id:
            client.views_open(trigger_id=trigger_id, view=build_reason_modal(
                Callback.override_reason, registration_id, title="Override conflict",
                prompt=f"{needed} Why should this one be approved too?"))
        return
    except WorkflowError as refused:
        answer_text(client, actor.slack_user_id, escape(str(refused)), channel_id=channel_id)
        return
    if not outcome.changed:
        answer_text(client, actor.slack_user_id, outcome.message, channel_id=channel_id)


def _for_clicked_registration(services: Services, body: dict, context: BoltContext, client: WebClient,
                              work: Callable[[Actor, int], None]) -> None:
    """Every review button: which registration, who clicked, and a refusal told only to them."""
    registration_id = _registration_id(body)
    if registration_id is None:
        return
    actor = actor_of(services, context, body)
    try:
        work(actor, registration_id)
    except WorkflowError as refused:
        answer_text(client, actor.slack_user_id, escape(str(refused)), channel_id=channel_of(body))


def register(app: App, services: Services) -> None:
    def approve(ack: Ack, body: dict, context: BoltContext, client: WebClient):
        """Accept (AE) or clear a conflict (partner manager); the workflow checks who clicked."""
        ack()
        _for_clicked_registration(services, body, context, client, lambda actor, registration_id: _decide(
            services, client, actor, registration_id, Decision.approve, trigger_id=body.get("trigger_id"),
            channel_id=channel_of(body)))

    def ask_reject_reason(ack: Ack, body: dict, context: BoltContext, client: WebClient):
        """Reject asks for a reason first, but only of someone allowed to decide."""
        ack()

        def ask(actor: Actor, registration_id: int) -> None:
            ensure_can_decide(services, actor=actor, registration_id=registration_id)
            client.views_open(trigger_id=body["trigger_id"], view=build_reason_modal(
                Callback.reject_reason, registration_id, title="Reject registration",
                prompt="Why is it rejected? The partner will see this."))
        _for_clicked_registration(services, body, context, client, ask)

    app.action(Action.accept.value)(approve)
    app.action(Action.clear_conflict.value)(approve)
    app.action(Action.reject.value)(ask_reject_reason)
    app.action(Action.reject_conflict.value)(ask_reject_reason)

    def close(won: bool):
        def handle_close(ack: Ack, body: dict, context: BoltContext, client: WebClient):
            """Mark won / Mark lost on an approved registration's review message."""
            ack()

            def mark(actor: Actor, registration_id: int) -> None:
                outcome = close_deal(services, actor=actor, registration_id=registration_id, won=won)
                if not outcome.changed:
                    answer_text(client, actor.slack_user_id, outcome.message, channel_id=channel_of(body))
            _for_clicked_registration(services, body, context, client, mark)
        return handle_close

    app.action(Action.mark_won.value)(close(True))
    app.action(Action.mark_lost.value)(close(False))

    def on_reason(decision: Decision):
        def handle_reason_submission(ack: Ack, body: dict, view: dict, context: BoltContext, client: WebClient):
            """A reason modal: blank reasons are refused inline; then the decision is applied."""
            reason = (parse_view_state(view).get(Block.reason.value) or "").strip()
            if not reason:
                ack(response_action="errors", errors={Block.reason.value: "Write a reason: the partner sees it."})
                return
            ack()
            _decide(services, client, actor_of(services, context, body), int(view["private_metadata"]), decision,
                    reason=reason)
        return handle_reason_submission

    app.view(Callback.reject_reason.value)(on_reason(Decision.reject))
    app.view(Callback.override_reason.value)(on_reason(Decision.approve))
