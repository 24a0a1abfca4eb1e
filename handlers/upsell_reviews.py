"""The handshake's listeners: the AE's Accept, Decline, Mark won and Mark lost on an upsell (its thread root, the
AE's copy, a reminder or App Home) with their modals, and the partner's Join.

Each change is committed before the ack (handlers/reviews.commit_then_tell); a refusal goes to the clicker alone,
privately, or onto the modal's field. Decline, Mark won and Mark lost ask first, but only someone who may take
that step now.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.models.views import View

from handlers.blocks.registration import parse_view_state
from handlers.blocks.upsell_handshake import build_upsell_reason_modal, build_upsell_won_modal
from handlers.blocks.upsells import parse_upsell_modal_metadata
from handlers.common import actor_of, request_key
from handlers.ids import Action, Block, Callback
from handlers.reviews import OUT_OF_DATE, ask_first, commit_then_tell, for_clicked, place_of
from storage.actors import Actor
from storage.models import Upsell
from workflows.services import Services
from workflows.upsell_decisions import UpsellStep, ensure_can_take_step, take_upsell_step
from workflows.upsell_join import join_upsell


def register(app: App, services: Services) -> None:
    def take(ack: Ack, body: dict, client: WebClient, actor: Actor, upsell_id: int, place: str | None,
             step: UpsellStep, *, text: str | None = None, block: Block = Block.reason) -> None:
        """A step, committed before the ack (`text` is the reason, or the amount as typed for a win)."""
        amount, reason = (text, None) if step is UpsellStep.won else (None, text)
        commit_then_tell(services, client, ack, actor, body, place, lambda: take_upsell_step(
            services, actor=actor, upsell_id=upsell_id, step=step, reason=reason, amount=amount,
            request_key=request_key(body)), block=block)

    @app.action(Action.upsell_accept.value)
    def handle_upsell_accept(ack: Ack, body: dict, context: BoltContext, client: WebClient):
        """Accept: the upsell becomes the AE's expansion opportunity, committed before the ack."""
        for_clicked(services, ack, body, context, client, lambda actor, upsell_id: take(
            ack, body, client, actor, upsell_id, place_of(body), UpsellStep.accept))

    def ask(step: UpsellStep, build: Callable[[Upsell, str | None], View]):
        """Decline / Mark won / Mark lost open their modal, only for someone who may take that step now."""
        return ask_first(services, lambda actor, upsell_id: ensure_can_take_step(
            services, actor=actor, upsell_id=upsell_id, step=step), build)

    app.action(Action.upsell_decline.value)(
        ask(UpsellStep.decline, partial(build_upsell_reason_modal, Callback.upsell_decline_reason)))
    app.action(Action.upsell_won.value)(ask(UpsellStep.won, build_upsell_won_modal))
    app.action(Action.upsell_lost.value)(
        ask(UpsellStep.lost, partial(build_upsell_reason_modal, Callback.upsell_lost_reason)))

    def on_submit(step: UpsellStep, block: Block):
        def handle_upsell_submission(ack: Ack, body: dict, view: dict, context: BoltContext, client: WebClient):
            """The reason (required) or the final amount: checked and committed before the ack, or refused on the
            field with nothing stored."""
            upsell_id, place = parse_upsell_modal_metadata(view.get("private_metadata"))
            if upsell_id is None:
                ack(response_action="errors", errors={block.value: OUT_OF_DATE})
                return
            take(ack, body, client, actor_of(services, context, body), upsell_id, place, step,
                 text=parse_view_state(view).get(block.value), block=block)
        return handle_upsell_submission

    app.view(Callback.upsell_decline_reason.value)(on_submit(UpsellStep.decline, Block.reason))
    app.view(Callback.upsell_lost_reason.value)(on_submit(UpsellStep.lost, Block.reason))
    app.view(Callback.upsell_won_amount.value)(on_submit(UpsellStep.won, Block.final_amount))

    @app.action(Action.upsell_join.value)
    def handle_upsell_join(ack: Ack, body: dict, context: BoltContext, client: WebClient):
        """Join: the partner asked in confirms it is involved (its people only), committed before the ack."""
        for_clicked(services, ack, body, context, client, lambda actor, upsell_id: commit_then_tell(
            services, client, ack, actor, body, place_of(body), lambda: join_upsell(
                services, actor=actor, upsell_id=upsell_id, request_key=request_key(body))))
