"""Upsell listeners: the desk's Flag an upsell button, `/upsell [account]`, the Flag as upsell message shortcut and
an expansion signal's suggestion open one form; its account picker; its submission (stored before the ack); and
the partner manager's Approve / Reject of a duplicate flag."""

from __future__ import annotations

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.models.blocks import Option

from handlers.blocks.registration import parse_view_state
from handlers.blocks.text import clip, escape
from handlers.blocks.upsells import (
    build_duplicate_reject_modal,
    build_upsell_modal,
    influenced_ticked,
    parse_upsell_modal_metadata,
    parse_suggestion,
    parse_upsell_origin,
)
from handlers.common import (
    DATABASE_BUSY,
    UNKNOWN_USER,
    actor_of,
    answer_text,
    channel_of,
    clicked_value,
    request_key,
)
from handlers.ids import Action, Block, Callback, Command
from handlers.reviews import OUT_OF_DATE, ask_first, commit_then_tell, for_clicked, place_of
from storage.actors import Actor
from storage.models import UpsellSignal, UpsellStatus
from workflows.services import DatabaseBusy, Services, WorkflowError
from workflows.upsell_form import UpsellFormInvalid, validate_upsell
from workflows.upsells import (
    AlreadyFlagged,
    Entry,
    FlagOutcome,
    account_choices,
    decide_duplicate,
    ensure_can_decide_duplicate,
    flag_upsell,
    start_upsell_form,
)


def open_upsell_form(services: Services, client: WebClient, actor: Actor, entry: Entry, *, trigger_id: str,
                     channel_id: str | None, text: str = "", account_id: int | None = None,
                     signal: UpsellSignal | None = None, notes: str = "") -> None:
    """Open the form prefilled for where it was asked from, or tell the actor privately why not."""
    if not (actor.is_partner or actor.is_internal):
        answer_text(client, actor.slack_user_id, UNKNOWN_USER, channel_id=channel_id)
        return
    try:
        start = start_upsell_form(services, actor, entry, channel_id=channel_id, text=text, account_id=account_id,
                                  signal=signal, notes=notes)
    except WorkflowError as refused:
        answer_text(client, actor.slack_user_id, escape(str(refused)), channel_id=channel_id)
        return
    client.views_open(trigger_id=trigger_id,
                      view=build_upsell_modal(services.program, start, partner_name=actor.partner_name))


def _tell_flagger(client: WebClient, actor: Actor, outcome: FlagOutcome, channel_id: str | None) -> None:
    """After the ack, privately: a duplicate waits for the partner manager; our own team hears where the thread
    is (a partner sees its root appear in its own channel)."""
    upsell, account, partner = outcome.upsell, outcome.account, outcome.partner
    what = f"{upsell.reference} *{escape(account.name)}* → {escape(upsell.target)}"
    if upsell.status == UpsellStatus.duplicate_review:
        text = (f"Saved {what} for {escape(partner.name)}. Another partner already has an open upsell on this "
                "account and target, so our partner manager decides whether to open this one too; you'll be told.")
    elif actor.is_internal:
        where = f"in <#{upsell.partner_channel_id}>" if upsell.partner_channel_id else "in a direct message to you"
        text = f"Flagged {what} for {escape(partner.name)}; its thread is {where}."
    else:
        return
    answer_text(client, actor.slack_user_id, text, channel_id=channel_id)


def register(app: App, services: Services) -> None:
    @app.command(Command.upsell.value)
    def handle_upsell_command(ack: Ack, body: dict, context: BoltContext, client: WebClient):
        """`/upsell [account]`: the form, prefilled with the account when exactly one matches; in a partner's channel
        an internal user asks that partner in (partner-influenced)."""
        ack()
        text = body.get("text")
        open_upsell_form(services, client, actor_of(services, context, body), Entry.command,
                         trigger_id=body["trigger_id"], channel_id=body.get("channel_id"),
                         text=text if isinstance(text, str) else "")

    @app.action(Action.flag_upsell.value)
    def handle_flag_button(ack: Ack, body: dict, context: BoltContext, client: WebClient):
        """The partner desk's Flag an upsell button: the entry point for external partner users."""
        ack()
        open_upsell_form(services, client, actor_of(services, context, body), Entry.desk,
                         trigger_id=body["trigger_id"], channel_id=channel_of(body))

    @app.message_shortcut(Callback.flag_upsell.value)
    def handle_flag_shortcut(ack: Ack, body: dict, context: BoltContext, client: WebClient):
        """Flag as upsell on a message in a partner's channel (our own team): notes and partner prefilled."""
        ack()
        message = body.get("message") if isinstance(body.get("message"), dict) else {}
        text = message.get("text")
        open_upsell_form(services, client, actor_of(services, context, body), Entry.shortcut,
                         trigger_id=body["trigger_id"], channel_id=channel_of(body),
                         notes=text if isinstance(text, str) else "")

    @app.action(Action.suggest_upsell.value)
    def handle_suggestion(ack: Ack, body: dict, context: BoltContext, client: WebClient):
        """An expansion signal's Flag as upsell button: the form prefilled, once the account is checked."""
        ack()
        actor, suggestion = actor_of(services, context, body), parse_suggestion(clicked_value(body))
        if suggestion.account_id is None:
            answer_text(client, actor.slack_user_id, "This suggestion is out of date: flag the upsell from the "
                                                     "partner desk instead.", channel_id=channel_of(body))
            return
        open_upsell_form(services, client, actor, Entry.suggestion, trigger_id=body["trigger_id"],
                         channel_id=channel_of(body), account_id=suggestion.account_id, signal=suggestion.signal,
                         notes=suggestion.notes)

    @app.options(Action.choose_account.value)
    def handle_account_options(ack: Ack, body: dict, context: BoltContext):
        """The accounts the actor may see matching what they typed in the form's account select."""
        typed = body.get("value")
        choices = account_choices(services, actor_of(services, context, body), typed if isinstance(typed, str) else "")
        ack(options=[Option(value=str(choice.id), text=clip(choice.label, 75)) for choice in choices])

    @app.view(Callback.upsell_form.value)
    def handle_upsell_submission(ack: Ack, body: dict, view: dict, context: BoltContext, client: WebClient):
        """Validate (inline errors), check the account and partner against the actor and store the flag with its
        message, then ack; refusals stay on the form, with nothing stored."""
        fields = parse_view_state(view)
        try:
            form = validate_upsell(fields, services.program, needs_partner=Block.partner.value in fields,
                                   influenced=influenced_ticked(view))
        except UpsellFormInvalid as invalid:
            ack(response_action="errors", errors=invalid.errors)
            return
        actor, origin = actor_of(services, context, body), parse_upsell_origin(view)
        try:
            outcome = flag_upsell(services, actor=actor, form=form, origin=origin, request_key=request_key(body))
        except UpsellFormInvalid as invalid:
            ack(response_action="errors", errors=invalid.errors)
            return
        except AlreadyFlagged as already:
            ack(response_action="errors", errors={Block.target.value: str(already)})
            if already.link and "|" not in already.link and ">" not in already.link:
                answer_text(client, actor.slack_user_id, f"{already.reference} is already open for this account and "
                                                         f"target: <{already.link}|open its thread>.",
                            channel_id=origin.channel_id)
            return
        except DatabaseBusy:
            ack(response_action="errors", errors={Block.account.value: DATABASE_BUSY})
            return
        except WorkflowError as refused:
            ack(response_action="errors", errors={Block.account.value: str(refused)})
            return
        ack()
        if not outcome.replayed:
            _tell_flagger(client, actor, outcome, origin.channel_id)

    def decide(ack: Ack, body: dict, client: WebClient, actor: Actor, upsell_id: int, place: str | None, *,
               approve: bool, reason: str | None = None) -> None:
        """Approve or reject a duplicate, committed before the ack (a refusal on the modal, or privately)."""
        commit_then_tell(services, client, ack, actor, body, place, lambda: decide_duplicate(
            services, actor=actor, upsell_id=upsell_id, approve=approve, reason=reason,
            request_key=request_key(body)))

    @app.action(Action.upsell_duplicate_approve.value)
    def handle_duplicate_approve(ack: Ack, body: dict, context: BoltContext, client: WebClient):
        """Approve a duplicate flag: it opens, and its thread root goes to the partner's channel."""
        for_clicked(services, ack, body, context, client, lambda actor, upsell_id: decide(
            ack, body, client, actor, upsell_id, place_of(body), approve=True))

    # Reject a duplicate flag asks why first, but only of a partner manager or admin, while it waits.
    app.action(Action.upsell_duplicate_reject.value)(ask_first(services, lambda actor, upsell_id: (
        ensure_can_decide_duplicate(services, actor=actor, upsell_id=upsell_id)), build_duplicate_reject_modal))

    @app.view(Callback.upsell_duplicate_reject.value)
    def handle_duplicate_reject_reason(ack: Ack, body: dict, view: dict, context: BoltContext, client: WebClient):
        """Why a duplicate is rejected (required, never naming the other partner): committed, then acked."""
        upsell_id, place = parse_upsell_modal_metadata(view.get("private_metadata"))
        if upsell_id is None:
            ack(response_action="errors", errors={Block.reason.value: OUT_OF_DATE})
            return
        decide(ack, body, client, actor_of(services, context, body), upsell_id, place, approve=False,
               reason=parse_view_state(view).get(Block.reason.value))
