"""Protection extensions: Request extension on an expiry warning (the partner's people), Extend / Decline in the
decider's DM (Decline asks why in a modal). Each is committed before the ack; refusals go to the clicker alone."""

from __future__ import annotations

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from handlers.blocks.protection import build_decline_modal
from handlers.blocks.registration import parse_view_state
from handlers.blocks.review_modals import parse_modal_metadata
from handlers.common import actor_of, request_key
from handlers.ids import Action, Block, Callback
from handlers.reviews import OUT_OF_DATE, ask_first, commit_then_tell, for_clicked, place_of
from workflows.protection import decide_extension, ensure_can_decide_extension, request_extension
from workflows.services import Services


def register(app: App, services: Services) -> None:
    @app.action(Action.request_extension.value)
    def handle_request_extension(ack: Ack, body: dict, context: BoltContext, client: WebClient):
        """The partner asks for more protection: sent to the deal's AE; a pending request or none left is told."""
        for_clicked(services, ack, body, context, client, lambda actor, registration_id: commit_then_tell(
            services, client, ack, actor, body, place_of(body), lambda: request_extension(
                services, actor=actor, registration_id=registration_id, request_key=request_key(body))))

    @app.action(Action.extension_extend.value)
    def handle_extend(ack: Ack, body: dict, context: BoltContext, client: WebClient):
        """Extend: the new end is recorded, sent to the CRM and told to the partner, before the ack."""
        for_clicked(services, ack, body, context, client, lambda actor, request_id: commit_then_tell(
            services, client, ack, actor, body, place_of(body), lambda: decide_extension(
                services, actor=actor, request_id=request_id, extend=True, request_key=request_key(body))))

    app.action(Action.extension_decline.value)(ask_first(
        services, lambda actor, request_id: ensure_can_decide_extension(services, actor=actor, request_id=request_id),
        lambda found, place: build_decline_modal(found[0], found[1].reference, place)))

    @app.view(Callback.extension_decline.value)
    def handle_decline_submission(ack: Ack, body: dict, view: dict, context: BoltContext, client: WebClient):
        """Why it is declined (required, inline); committed before the ack, then the partner reads it."""
        origin = parse_modal_metadata(view.get("private_metadata"))  # the request's id, re-checked
        if origin.registration_id is None:
            ack(response_action="errors", errors={Block.reason.value: OUT_OF_DATE})
            return
        actor = actor_of(services, context, body)
        reason = parse_view_state(view).get(Block.reason.value)
        commit_then_tell(services, client, ack, actor, body, origin.place, lambda: decide_extension(
            services, actor=actor, request_id=origin.registration_id, extend=False, reason=reason,
            request_key=request_key(body)))
