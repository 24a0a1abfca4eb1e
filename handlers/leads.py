"""Lead registration listeners: `/lead`, the desk's Register button, the partner picker, the form's two steps."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.models.blocks import Option

from handlers.blocks.registration import (
    build_registration_modal,
    details_registration,
    lead_details_view,
    origin_channel,
    parse_view_state,
)
from handlers.blocks.text import escape
from handlers.common import DATABASE_BUSY, UNKNOWN_USER, actor_of, answer_text, channel_of, request_key
from handlers.ids import Action, Block, Callback, Command
from storage.actors import Actor
from workflows.lead_form import (
    LeadFormInvalid,
    country_choices,
    has_details,
    prepare_lead_form,
    validate_details,
    validate_lead,
)
from workflows.people import partner_options
from workflows.registrations import add_lead_details, skip_lead_details, submit_registration
from workflows.services import DatabaseBusy, Services, WorkflowError

logger = logging.getLogger(__name__)
T = TypeVar("T")


def open_registration_modal(services: Services, client: WebClient, actor: Actor, *, trigger_id: str,
                            channel_id: str | None, prefill_text: str = "") -> None:
    """Open the form for a partner (their partner is implied) or an internal user (who picks the partner)."""
    if not (actor.is_partner or actor.is_internal):
        answer_text(client, actor.slack_user_id, UNKNOWN_USER, channel_id=channel_id)
        return
    view = build_registration_modal(services.program, prefill_text=prefill_text, choose_partner=actor.is_internal,
                                    origin_channel_id=channel_id, partner_name=actor.partner_name)
    client.views_open(trigger_id=trigger_id, view=view)


def _store_before_ack(ack: Ack, client: WebClient, actor: Actor, busy_block: Block,
                      store: Callable[[], T]) -> tuple[bool, T | None]:
    """Run a write that must commit before the ack: (True, its result), or (False, None) once the user has been
    answered (inline "try again" when the database stays locked, or privately why it was refused)."""
    try:
        return True, store()
    except DatabaseBusy:
        ack(response_action="errors", errors={busy_block.value: DATABASE_BUSY})
    except WorkflowError as refused:
        ack()
        answer_text(client, actor.slack_user_id, escape(str(refused)))
    return False, None


def register(app: App, services: Services) -> None:
    prepare_lead_form(services.program)

    @app.command(Command.lead.value)
    def handle_lead_command(ack: Ack, body: dict, context: BoltContext, client: WebClient):
        """`/lead [company or domain]` opens the registration form, prefilled."""
        ack()
        open_registration_modal(services, client, actor_of(services, context, body), trigger_id=body["trigger_id"],
                                channel_id=body.get("channel_id"), prefill_text=body.get("text", ""))

    @app.action(Action.register_lead.value)
    def handle_register_button(ack: Ack, body: dict, context: BoltContext, client: WebClient):
        """The partner desk's Register a lead button: the entry point for external partner users."""
        ack()
        open_registration_modal(services, client, actor_of(services, context, body), trigger_id=body["trigger_id"],
                                channel_id=channel_of(body))

    @app.options(Action.choose_partner.value)
    def handle_partner_options(ack: Ack, body: dict, context: BoltContext):
        """Partners matching what an internal user typed in the form's partner picker."""
        actor = actor_of(services, context, body)
        options = [Option(value=str(pid), text=name[:75]) for pid, name in
                   partner_options(services, actor, body.get("value", ""))]
        ack(options=options)

    @app.options(Action.choose_country.value)
    def handle_country_options(ack: Ack, body: dict):
        """Countries matching what was typed in the form's country select, each with the region it routes to."""
        typed = body.get("value")
        ack(options=[Option(value=code, text=label[:75]) for code, label in
                     country_choices(services.program, typed if isinstance(typed, str) else "")])

    @app.view(Callback.lead_registration.value)
    def handle_lead_submission(ack: Ack, body: dict, view: dict, context: BoltContext, client: WebClient):
        """Validate (inline errors), store the registration, then answer with the optional details step.

        The details step replaces this one (`update`, not `push`): the registration is stored, so there is
        no going back to submit it twice. Checking and routing follow from the row once the details are in.
        """
        fields = parse_view_state(view)
        try:
            lead = validate_lead(fields, services.program, needs_partner=Block.partner.value in fields)
        except LeadFormInvalid as invalid:
            ack(response_action="errors", errors=invalid.errors)
            return
        actor = actor_of(services, context, body)
        if not (actor.is_partner or actor.is_internal):
            ack()
            answer_text(client, actor.slack_user_id, UNKNOWN_USER)
            return
        details_to_follow = not has_details(fields)  # a one-step form opened before an upgrade has them all
        stored, submission = _store_before_ack(ack, client, actor, Block.company, lambda: submit_registration(
            services, actor=actor, lead=lead, request_key=request_key(body), details_to_follow=details_to_follow))
        if not stored:
            return
        if details_to_follow and submission.registration is not None:  # a replay is answered as the first was
            registration = submission.registration
            ack(response_action="update", view=lead_details_view(
                registration_id=registration.id, reference=registration.reference, company=registration.company,
                partner_name=submission.partner.name, origin_channel_id=origin_channel(view)))
        else:
            ack()
        if actor.is_internal and not submission.duplicate:
            registration, partner = submission.registration, submission.partner
            where = f" in <#{partner.slack_channel_id}>" if partner.slack_channel_id else ""
            answer_text(client, actor.slack_user_id,
                        f"Registered {registration.reference} *{escape(registration.company)}* for "
                        f"{escape(partner.name)}; updates follow{where}.", channel_id=origin_channel(view))

    @app.view(Callback.lead_details.value)
    def handle_details_submission(ack: Ack, body: dict, view: dict, context: BoltContext, client: WebClient):
        """The optional second step: store the details (inline errors), then ack; processing follows."""
        try:
            details = validate_details(parse_view_state(view))
        except LeadFormInvalid as invalid:
            ack(response_action="errors", errors=invalid.errors)
            return
        actor, registration_id = actor_of(services, context, body), details_registration(view)
        if registration_id is None:
            ack()
            return
        stored, _ = _store_before_ack(ack, client, actor, Block.notes, lambda: add_lead_details(
            services, actor=actor, registration_id=registration_id, details=details, request_key=request_key(body)))
        if stored:
            ack()

    @app.view_closed(Callback.lead_details.value)
    def handle_details_skipped(ack: Ack, body: dict, view: dict, context: BoltContext):
        """Skip (or the modal closed): the registration goes on without details, now rather than after the wait."""
        ack()
        registration_id = details_registration(view)
        if registration_id is None:
            return
        try:
            skip_lead_details(services, actor=actor_of(services, context, body), registration_id=registration_id)
        except WorkflowError:
            logger.info("details step of registration %s closed by someone else; ignored", registration_id)
