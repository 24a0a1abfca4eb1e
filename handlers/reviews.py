"""Review listeners: Accept / Reject for AEs, Approve / Reject for conflicts, Mark won / lost, and their modals.

A decision is committed before the ack; after it, who decided is told privately where they clicked, with
Undo while it can be undone (on App Home, the Home is published again and lists it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.models.views import View

from handlers.blocks.messages import build_notice
from handlers.blocks.registration import parse_view_state
from handlers.blocks.review import build_reason_modal, build_undo_prompt
from handlers.blocks.review_modals import HOME, build_lost_modal, build_reject_modal, parse_modal_metadata
from handlers.blocks.text import escape
from handlers.common import DATABASE_BUSY, actor_of, answer_text, channel_of, clicked_id, request_key
from handlers.home import clicked_on_home, refresh_home
from handlers.ids import Action, Block, Callback
from storage.actors import Actor
from storage.models import RegistrationStatus
from workflows.decisions import Decision, DecisionOutcome, close_deal, decide_registration, ensure_can_decide
from workflows.services import DatabaseBusy, OverrideReasonNeeded, Services, WorkflowError

OUT_OF_DATE = "This form is out of date: close it and click the button again."


def place_of(body: dict) -> str | None:
    """Where a button was clicked: App Home (HOME), a conversation id, or None."""
    return HOME if clicked_on_home(body) else channel_of(body)


def tell_after_change(services: Services, client: WebClient, actor: Actor, body: dict, place: str | None,
                      text: str, outcome: DecisionOutcome | None = None) -> None:
    """What the actor did, privately where they acted, with Undo while it can be undone; App Home is published
    again instead (it lists what they may still undo). `text` must be safe mrkdwn."""
    if place == HOME:
        refresh_home(services, client, actor, body)
        return
    message = build_undo_prompt(text, outcome.undo_id, outcome.undo_until) \
        if outcome is not None and outcome.undo_id is not None else build_notice(text)
    if place:  # ephemeral even in the DM: the review message stays the only message there
        client.chat_postEphemeral(channel=place, user=actor.slack_user_id, text=message.text, blocks=message.blocks)
    else:
        client.chat_postMessage(channel=actor.slack_user_id, text=message.text, blocks=message.blocks)


def refuse(client: WebClient, ack: Ack, actor: Actor, text: str, *, body: dict, channel_id: str | None,
           block: Block = Block.reason) -> None:
    """A modal shows the refusal on one of its fields; a button click gets a private answer."""
    if body.get("type") == "view_submission":
        ack(response_action="errors", errors={block.value: text})
        return
    ack()
    answer_text(client, actor.slack_user_id, text, channel_id=channel_id)


def commit_then_tell(services: Services, client: WebClient, ack: Ack, actor: Actor, body: dict,
                     place: str | None, commit: Callable[[], Any], *, block: Block = Block.reason,
                     tell: Callable[[Any], None] | None = None,
                     passthrough: tuple[type[WorkflowError], ...] = ()) -> None:
    """Run a change that is committed before the ack (a refusal shows on the modal's `block`, or privately for
    a click), then tell the actor: `tell(outcome)` if given, else privately where they acted. The outcome's
    message is the workflow's own (references, statuses, user ids): safe mrkdwn, not escaped. Refusals of the
    `passthrough` kinds are raised for the caller to handle."""
    channel_id = None if place == HOME else place
    try:
        outcome = commit()
    except DatabaseBusy:
        refuse(client, ack, actor, DATABASE_BUSY, body=body, channel_id=channel_id, block=block)
        return
    except WorkflowError as refused:
        if isinstance(refused, passthrough):
            raise
        refuse(client, ack, actor, escape(str(refused)), body=body, channel_id=channel_id, block=block)
        return
    ack()
    if outcome.replayed:
        return
    if tell is not None:
        tell(outcome)
    elif outcome.changed:
        tell_after_change(services, client, actor, body, place, outcome.message,
                          outcome if isinstance(outcome, DecisionOutcome) else None)
    else:
        answer_text(client, actor.slack_user_id, outcome.message, channel_id=channel_id)


def _decide(services: Services, client: WebClient, ack: Ack, actor: Actor, registration_id: int,
            decision: Decision, *, body: dict, reason: str | None = None, reason_choice: str | None = None,
            place: str | None = None) -> None:
    """Commit the decision, then ack; an override of an approved conflict asks for its reason first."""
    def commit() -> DecisionOutcome:
        return decide_registration(services, actor=actor, registration_id=registration_id, decision=decision,
                                   reason=reason, reason_choice=reason_choice, request_key=request_key(body))
    try:
        commit_then_tell(services, client, ack, actor, body, place, commit, passthrough=(OverrideReasonNeeded,))
    except OverrideReasonNeeded as needed:
        ack()
        client.views_open(trigger_id=body["trigger_id"], view=build_reason_modal(
            Callback.override_reason, registration_id, title="Override conflict",
            prompt=f"{needed} Why should this one be approved too?"))


def for_clicked(services: Services, ack: Ack, body: dict, context: BoltContext, client: WebClient,
                work: Callable[[Actor, int], None]) -> None:
    """Every button on a deal (a registration, an upsell): which one, who clicked, and a refusal told only to them."""
    deal_id = clicked_id(body)
    if deal_id is None:
        ack()
        return
    actor = actor_of(services, context, body)
    try:
        work(actor, deal_id)
    except WorkflowError as refused:
        refuse(client, ack, actor, escape(str(refused)), body=body, channel_id=channel_of(body))


def ask_first(services: Services, check: Callable[[Actor, int], Any], build: Callable[[Any, str | None], View]):
    """A listener for a button that asks before it acts: `check(actor, id)` returns the deal or raises why this
    clicker may not act on it now (told only to them); then `build(deal, place)` is the modal that asks."""
    def handle_ask_first(ack: Ack, body: dict, context: BoltContext, client: WebClient):
        def open_modal(actor: Actor, deal_id: int) -> None:
            deal = check(actor, deal_id)
            ack()
            client.views_open(trigger_id=body["trigger_id"], view=build(deal, place_of(body)))
        for_clicked(services, ack, body, context, client, open_modal)
    return handle_ask_first


def _submitted(view: dict) -> tuple[dict, int | None, str | None]:
    """A reason modal's fields, registration id and place (neither trusted: the workflow re-checks)."""
    origin = parse_modal_metadata(view.get("private_metadata"))
    return parse_view_state(view), origin.registration_id, origin.place


def register(app: App, services: Services) -> None:
    def approve(ack: Ack, body: dict, context: BoltContext, client: WebClient):
        """Accept (AE) or clear a conflict (partner manager), after Slack's confirm: committed before the ack."""
        for_clicked(services, ack, body, context, client, lambda actor, registration_id: _decide(
            services, client, ack, actor, registration_id, Decision.approve, body=body, place=place_of(body)))

    def ask_reject_reason(ack: Ack, body: dict, context: BoltContext, client: WebClient):
        """Reject asks for a reason first (standard wording or own words), but only of someone allowed to decide."""
        def ask(actor: Actor, registration_id: int) -> None:
            registration = ensure_can_decide(services, actor=actor, registration_id=registration_id)
            ack()
            client.views_open(trigger_id=body["trigger_id"], view=build_reject_modal(
                registration_id, registration.review_kind, place_of(body)))
        for_clicked(services, ack, body, context, client, ask)

    app.action(Action.accept.value)(approve)
    app.action(Action.clear_conflict.value)(approve)
    app.action(Action.reject.value)(ask_reject_reason)
    app.action(Action.reject_conflict.value)(ask_reject_reason)

    def close(ack: Ack, actor: Actor, registration_id: int, body: dict, client: WebClient, *, won: bool,
              place: str | None, reason: str | None = None, reason_choice: str | None = None) -> None:
        """Mark won / lost, committed before the ack (a refusal on the modal, or privately for a click)."""
        commit_then_tell(services, client, ack, actor, body, place, lambda: close_deal(
            services, actor=actor, registration_id=registration_id, won=won, request_key=request_key(body),
            reason=reason, reason_choice=reason_choice))

    @app.action(Action.mark_won.value)
    def handle_mark_won(ack: Ack, body: dict, context: BoltContext, client: WebClient):
        """Mark won, after Slack's confirm, on an approved registration's review message or App Home."""
        for_clicked(services, ack, body, context, client, lambda actor, registration_id: close(
            ack, actor, registration_id, body, client, won=True, place=place_of(body)))

    @app.action(Action.mark_lost.value)
    def handle_mark_lost(ack: Ack, body: dict, context: BoltContext, client: WebClient):
        """Mark lost, after Slack's confirm, asks why before anything changes."""
        def ask(actor: Actor, registration_id: int) -> None:
            registration = ensure_can_decide(services, actor=actor, registration_id=registration_id,
                                             statuses=(RegistrationStatus.approved,))
            ack()
            client.views_open(trigger_id=body["trigger_id"], view=build_lost_modal(
                registration_id, registration.reference, place_of(body)))
        for_clicked(services, ack, body, context, client, ask)

    @app.view(Callback.lost_reason.value)
    def handle_lost_submission(ack: Ack, body: dict, view: dict, context: BoltContext, client: WebClient):
        """Why the deal was lost: a standard reason (required) and words (required for “Other”)."""
        fields, registration_id, place = _submitted(view)
        if registration_id is None:
            ack(response_action="errors", errors={Block.reason_choice.value: OUT_OF_DATE})
            return
        close(ack, actor_of(services, context, body), registration_id, body, client, won=False, place=place,
              reason=fields.get(Block.reason.value), reason_choice=fields.get(Block.reason_choice.value))

    def on_reason(decision: Decision):
        def handle_reason_submission(ack: Ack, body: dict, view: dict, context: BoltContext, client: WebClient):
            """A reason modal: blank reasons are refused inline; the decision is committed, then acked."""
            fields, registration_id, place = _submitted(view)
            reason = (fields.get(Block.reason.value) or "").strip()
            choice = fields.get(Block.reason_choice.value)
            if not (reason or choice):
                ack(response_action="errors", errors={Block.reason.value: "Write a reason: the partner sees it."})
                return
            if registration_id is None:
                ack(response_action="errors", errors={Block.reason.value: OUT_OF_DATE})
                return
            _decide(services, client, ack, actor_of(services, context, body), registration_id, decision, body=body,
                    reason=reason, reason_choice=choice, place=place)
        return handle_reason_submission

    app.view(Callback.reject_reason.value)(on_reason(Decision.reject))
    app.view(Callback.override_reason.value)(on_reason(Decision.approve))
