"""Lead registration listeners: `/lead`, the desk's Register button, the partner picker, the form submission."""

from __future__ import annotations

import logging

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.models.blocks import Option

from handlers.blocks.registration import build_registration_modal, origin_channel, parse_view_state
from handlers.blocks.text import escape
from handlers.common import DATABASE_BUSY, UNKNOWN_USER, actor_of, answer_text, channel_of, request_key
from handlers.ids import Action, Block, Callback, Command
from storage.actors import Actor
from workflows.lead_form import LeadFormInvalid, country_choices, prepare_lead_form, validate_lead
from workflows.people import partner_options
from workflows.registrations import submit_registration
from workflows.services import DatabaseBusy, Services, WorkflowError

logger = logging.getLogger(__name__)


def open_registration_modal(services: Services, client: WebClient, actor: Actor, *, trigger_id: str,
                            channel_id: str | None, prefill_text: str = "") -> None:
    """Open the form for a partner (their partner is implied) or an internal user (who picks the partner)."""
    if not (actor.is_partner or actor.is_internal):
        answer_text(client, actor.slack_user_id, UNKNOWN_USER, channel_id=channel_id)
        return
    view = build_registration_modal(services.program, prefill_text=prefill_text, choose_partner=actor.is_internal,
                                    origin_channel_id=channel_id, partner_name=actor.partner_name)
    client.views_open(trigger_id=trigger_id, view=view)


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
        """Validate (inline errors), store the registration, then ack; checking and routing follow from the row."""
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
        try:
            submission = submit_registration(services, actor=actor, lead=lead, request_key=request_key(body))
        except DatabaseBusy:
            ack(response_action="errors", errors={Block.company.value: DATABASE_BUSY})
            return
        except WorkflowError as refused:
            ack()
            answer_text(client, actor.slack_user_id, escape(str(refused)))
            return
        ack()
        if actor.is_internal and not submission.duplicate:
            registration, partner = submission.registration, submission.partner
            where = f" in <#{partner.slack_channel_id}>" if partner.slack_channel_id else ""
            answer_text(client, actor.slack_user_id,
                        f"Registered {registration.reference} *{escape(registration.company)}* for "
                        f"{escape(partner.name)}; updates follow{where}.", channel_id=origin_channel(view))
