"""Reviewer tools beside the decision: Reassign, Ask the partner, and Undo of a recent decision."""

from __future__ import annotations

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from handlers.blocks.messages import build_notice
from handlers.blocks.review_modals import (
    ROUTING,
    build_ask_modal,
    build_reassign_modal,
    parse_modal_metadata,
)
from handlers.blocks.registration import parse_view_state
from handlers.blocks.text import escape
from handlers.common import actor_of, answer_text, channel_of, request_key
from handlers.home import clicked_on_home, refresh_home
from handlers.ids import Action, Block, Callback
from handlers.reviews import OUT_OF_DATE, commit_then_tell, for_clicked, place_of, refuse
from storage.actors import Actor
from storage.models import RegistrationStatus, ReviewKind
from workflows.decisions import ensure_can_decide
from workflows.questions import ASKABLE, ask_partner
from workflows.reassignment import ChooseAnother, reassign_choices, reassign_registration
from workflows.services import Services, WorkflowError
from workflows.undo import undo_decision


def _submit(services: Services, ack: Ack, body: dict, context: BoltContext, client: WebClient, *, block: Block,
            work, errors_on=lambda refused: Block.reason) -> None:
    """A reviewer tool's modal: the change is committed before the ack; refusals show on the modal."""
    view = body.get("view") or {}
    origin = parse_modal_metadata(view.get("private_metadata"))
    actor = actor_of(services, context, body)
    if origin.registration_id is None:
        ack(response_action="errors", errors={block.value: OUT_OF_DATE})
        return
    try:
        commit_then_tell(services, client, ack, actor, body, origin.place,
                         lambda: work(actor, origin.registration_id, parse_view_state(view)), block=block,
                         passthrough=(WorkflowError,))
    except WorkflowError as refused:  # on the field it is about
        refuse(client, ack, actor, escape(str(refused)), body=body, channel_id=None, block=errors_on(refused))


def register(app: App, services: Services) -> None:
    @app.action(Action.reassign.value)
    def handle_reassign_button(ack: Ack, body: dict, context: BoltContext, client: WebClient):
        """Reassign opens the AE picker, for someone who may decide a lead still waiting for an AE."""
        def ask(actor: Actor, registration_id: int) -> None:
            registration = ensure_can_decide(services, actor=actor, registration_id=registration_id,
                                             statuses=(RegistrationStatus.under_review,))
            if registration.review_kind != ReviewKind.ae:
                raise WorkflowError("A channel conflict stays with the partner manager: approve or reject it.")
            choices = reassign_choices(services, exclude=registration.assigned_to_slack_id)
            ack()
            client.views_open(trigger_id=body["trigger_id"], view=build_reassign_modal(
                registration_id, registration.reference, choices, place_of(body)))
        for_clicked(services, ack, body, context, client, ask)

    @app.view(Callback.reassign.value)
    def handle_reassign_submission(ack: Ack, body: dict, context: BoltContext, client: WebClient):
        """Hand the lead over (or back to routing): the partner is not told; the new reviewer is."""
        def reassign(actor: Actor, registration_id: int, fields: dict):
            chosen = fields.get(Block.assignee.value)
            return reassign_registration(services, actor=actor, registration_id=registration_id,
                                         to_slack_id=None if chosen == ROUTING else chosen,
                                         reason=fields.get(Block.reason.value), request_key=request_key(body))
        _submit(services, ack, body, context, client, block=Block.assignee, work=reassign,
                errors_on=lambda refused: Block.assignee if isinstance(refused, ChooseAnother) else Block.reason)

    @app.action(Action.ask_partner.value)
    def handle_ask_button(ack: Ack, body: dict, context: BoltContext, client: WebClient):
        """Ask the partner opens a question form, for someone who may decide the registration."""
        def ask(actor: Actor, registration_id: int) -> None:
            registration = ensure_can_decide(services, actor=actor, registration_id=registration_id,
                                             statuses=ASKABLE)
            ack()
            client.views_open(trigger_id=body["trigger_id"], view=build_ask_modal(
                registration_id, registration.reference, place_of(body)))
        for_clicked(services, ack, body, context, client, ask)

    @app.view(Callback.ask_partner.value)
    def handle_question_submission(ack: Ack, body: dict, context: BoltContext, client: WebClient):
        """The question goes to the partner's thread (never naming another partner)."""
        def ask(actor: Actor, registration_id: int, fields: dict):
            return ask_partner(services, actor=actor, registration_id=registration_id,
                               question=fields.get(Block.question.value) or "", request_key=request_key(body))
        _submit(services, ack, body, context, client, block=Block.question, work=ask,
                errors_on=lambda refused: Block.question)

    @app.action(Action.undo.value)
    def handle_undo(ack: Ack, body: dict, context: BoltContext, client: WebClient, respond: Respond):
        """Undo a recent decision (the button's value names it; the workflow checks who and when)."""
        actions = body.get("actions") or [{}]
        value = actions[0].get("value") if isinstance(actions[0], dict) else None
        actor = actor_of(services, context, body)
        channel_id = channel_of(body)
        if not (isinstance(value, str) and value.isdigit() and len(value) < 10):
            ack()
            return
        def tell(outcome) -> None:
            if clicked_on_home(body):
                refresh_home(services, client, actor, body)  # it lists what may still be undone
                if not outcome.changed:
                    answer_text(client, actor.slack_user_id, outcome.message)
            elif body.get("response_url"):
                notice = build_notice(outcome.message)
                respond(replace_original=True, text=notice.text, blocks=notice.blocks)  # the Undo prompt
            else:
                answer_text(client, actor.slack_user_id, outcome.message, channel_id=channel_id)

        commit_then_tell(services, client, ack, actor, body, channel_id, lambda: undo_decision(
            services, actor=actor, decision_id=int(value), request_key=request_key(body)), tell=tell)
