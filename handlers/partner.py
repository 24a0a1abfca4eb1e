"""`/partner` (deals [search], desk, usage, show, stage, report, help), the desk's My deals and My scorecard buttons (registrations, and upsells
beside them), paging of deals lists, the partner's own actions on a registration (Add an update, Edit, Withdraw),
and partners' lifecycle: the partner card's stage menu and the strategic proposal's buttons."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TypeVar

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.models.views import View

from handlers.blocks.lists import build_deals_list, build_help, parse_paging_value
from handlers.blocks.messages import Message
from handlers.blocks.partner_card import build_partner_card, parse_stage_choice
from handlers.blocks.text import escape
from handlers.blocks.partner_actions import build_edit_modal, build_update_modal, build_withdraw_modal
from handlers.blocks.report import build_report, build_scorecard
from handlers.blocks.registration import parse_view_state
from handlers.blocks.review_modals import parse_modal_metadata
from handlers.common import (
    DATABASE_BUSY,
    UNKNOWN_USER,
    actor_of,
    answer,
    answer_text,
    channel_of,
    clicked_id,
    clicked_value,
    request_key,
)
from handlers.ids import Action, Block, Callback, Command
from handlers.reviews import OUT_OF_DATE, ask_first, commit_then_tell, place_of, tell_after_change
from storage.actors import Actor
from storage.lists import Cursor
from storage.models import Registration
from workflows.lead_form import LeadFormInvalid, validate_lead
from workflows.lifecycle import change_stage, decide_proposal, stage_named
from workflows.partner_actions import (
    EDIT,
    UPDATE,
    WITHDRAW,
    PartnerAction,
    add_partner_update,
    edit_registration,
    ensure_can_act,
    withdraw_registration,
)
from workflows.partner_card import change_stage_by_name, partner_card, show_partner
from workflows.partner_report import partner_report
from workflows.people import deals_for, repost_partner_desk, upsells_for
from workflows.revenue import record_usage_as
from workflows.scorecard import scorecard_for
from workflows.services import DatabaseBusy, Services, WorkflowError

T = TypeVar("T")

def show_deals(services: Services, client: WebClient, actor: Actor, channel_id: str | None, search: str = "") -> None:
    """The first page of the deals this actor may see, matching `search` when given, privately."""
    if not (actor.is_partner or actor.is_internal):
        answer_text(client, actor.slack_user_id, UNKNOWN_USER, channel_id=channel_id)
        return
    answer(client, actor.slack_user_id, deals_message(services, actor, None, search), channel_id=channel_id)


def deals_message(services: Services, actor: Actor, cursor: Cursor | None, search: str) -> Message:
    """A page of the registrations this actor may see, and beside them the newest of their upsells."""
    return build_deals_list(deals_for(services, actor, cursor, search=search), actor, search,
                            upsells=upsells_for(services, actor, search=search))


def show_card(services: Services, client: WebClient, actor: Actor, channel_id: str | None, text: str) -> None:
    """`/partner show <partner>`: the partner card, privately; partners are politely refused."""
    try:
        card = show_partner(services, actor=actor, text=text)
    except WorkflowError as refused:
        answer_text(client, actor.slack_user_id, escape(str(refused)), channel_id=channel_id)
        return
    answer(client, actor.slack_user_id, build_partner_card(card), channel_id=channel_id)


def show_report(services: Services, client: WebClient, actor: Actor, channel_id: str | None, text: str) -> None:
    """`/partner report [period] [scope]`: the report's sections (our team) or the partner's scorecard, privately;
    a bad period or scope, or one they may not see, is told why."""
    try:
        report = partner_report(services, actor, text)
    except WorkflowError as refused:
        answer_text(client, actor.slack_user_id, escape(str(refused)), channel_id=channel_id)
        return
    message = build_scorecard(report.scorecard) if report.scorecard else build_report(report)
    answer(client, actor.slack_user_id, message, channel_id=channel_id)


def show_scorecard(services: Services, client: WebClient, actor: Actor, channel_id: str | None) -> None:
    """The desk's My scorecard: the clicker's own last month, privately (our team: the channel's partner's)."""
    try:
        card = scorecard_for(services, actor, channel_id=channel_id)
    except WorkflowError as refused:
        answer_text(client, actor.slack_user_id, escape(str(refused)), channel_id=channel_id)
        return
    answer(client, actor.slack_user_id, build_scorecard(card), channel_id=channel_id)


def committed(commit: Callable[[], T]) -> tuple[T | None, str | None]:
    """Run a change that is committed before the ack: (its result, None), or (None, why it was refused, escaped)."""
    try:
        return commit(), None
    except DatabaseBusy:
        return None, DATABASE_BUSY
    except WorkflowError as refused:
        return None, escape(str(refused))


def _selected_value(body: dict) -> object:
    actions = body.get("actions")
    action = actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], dict) else {}
    option = action.get("selected_option")
    return option.get("value") if isinstance(option, dict) else None


def register(app: App, services: Services) -> None:
    @app.command(Command.partner.value)
    def handle_partner_command(ack: Ack, body: dict, context: BoltContext, client: WebClient):
        """`/partner deals [company or domain]` lists what the caller may see; `desk` posts the desk again; `usage` records revenue; `show` gives a partner's card; `stage` moves a partner to a stage; `report` gives the figures; `help` says what they can do."""
        text = body.get("text")
        words = text.split() if isinstance(text, str) else []
        sub = words[0].lower() if words else "help"
        rest = text.strip().split(None, 1)[1] if len(words) > 1 else ""
        if sub not in ("usage", "stage"):
            ack()
        actor = actor_of(services, context, body)
        channel_id = body.get("channel_id")
        if sub in ("stage", "usage"):
            # They change what is stored, so they are committed before the ack (or refused in time).
            done, refusal = committed(lambda: change_stage_by_name(services, actor=actor, text=rest).message
                                      if sub == "stage" else record_usage_as(services, actor, words[1:]))
            ack()
            answer_text(client, actor.slack_user_id, refusal or escape(done), channel_id=channel_id)
        elif sub == "show":
            show_card(services, client, actor, channel_id, rest)
        elif sub == "report":
            show_report(services, client, actor, channel_id, rest)
        elif sub == "deals":
            show_deals(services, client, actor, channel_id, " ".join(words[1:]))
        elif sub == "desk":
            done, refusal = committed(lambda: repost_partner_desk(services, actor=actor, channel_id=channel_id))
            answer_text(client, actor.slack_user_id, refusal or escape(done), channel_id=channel_id)
        elif sub == "help":
            answer(client, actor.slack_user_id, build_help(actor), channel_id=channel_id)
        else:
            answer_text(client, actor.slack_user_id,
                        f"I don't know `/partner {escape(sub[:30].replace('`', ''))}`. Try `/partner help`.",
                        channel_id=channel_id)

    @app.action(Action.my_deals.value)
    def handle_my_deals_button(ack: Ack, body: dict, context: BoltContext, client: WebClient):
        """The desk's My deals button: the same list, for external users who can't run commands."""
        ack()
        show_deals(services, client, actor_of(services, context, body), channel_of(body))

    @app.action(Action.my_scorecard.value)
    def handle_my_scorecard_button(ack: Ack, body: dict, context: BoltContext, client: WebClient):
        """The desk's My scorecard button: the clicker's own scorecard, for external users who can't run commands."""
        ack()
        show_scorecard(services, client, actor_of(services, context, body), channel_of(body))

    @app.action(Action.deals_newer.value)
    @app.action(Action.deals_older.value)
    def handle_deals_page(ack: Ack, body: dict, context: BoltContext, respond: Respond, client: WebClient):
        """Previous/Next on a deals list: the clicker's own permission filter, from the button's cursor."""
        ack()
        actor = actor_of(services, context, body)
        if not (actor.is_partner or actor.is_internal):
            answer_text(client, actor.slack_user_id, UNKNOWN_USER, channel_id=channel_of(body))
            return
        cursor, search = parse_paging_value(clicked_value(body))
        message = deals_message(services, actor, cursor, search)
        if body.get("response_url"):
            # The list is ephemeral or a DM; its response_url replaces it in place either way.
            respond(replace_original=True, text=message.text, blocks=message.blocks)
        else:
            answer(client, actor.slack_user_id, message, channel_id=channel_of(body))

    def ask(action: PartnerAction, build: Callable[[Registration, str | None], View]):
        """Add an update / Edit / Withdraw (thread root, My deals): a modal, only for someone who may act."""
        return ask_first(services, lambda actor, registration_id: ensure_can_act(
            services, actor=actor, registration_id=registration_id, action=action), build)

    app.action(Action.withdraw.value)(ask(WITHDRAW, build_withdraw_modal))
    app.action(Action.add_update.value)(ask(UPDATE, build_update_modal))
    app.action(Action.edit.value)(ask(EDIT, partial(build_edit_modal, services.program)))

    def on_submit(block: Block, act, field: str):
        def handle_partner_submission(ack: Ack, body: dict, view: dict, context: BoltContext, client: WebClient):
            """The reason or the update (required), committed before the ack; then the partner is told privately."""
            origin = parse_modal_metadata(view.get("private_metadata"))
            if origin.registration_id is None:
                ack(response_action="errors", errors={block.value: OUT_OF_DATE})
                return
            actor = actor_of(services, context, body)
            text = parse_view_state(view).get(block.value)
            commit_then_tell(services, client, ack, actor, body, origin.place, lambda: act(
                services, actor=actor, registration_id=origin.registration_id, request_key=request_key(body),
                **{field: text}), block=block)
        return handle_partner_submission

    app.view(Callback.withdraw_reason.value)(on_submit(Block.reason, withdraw_registration, "reason"))
    app.view(Callback.partner_update.value)(on_submit(Block.notes, add_partner_update, "text"))

    @app.view(Callback.edit_registration.value)
    def handle_edit_submission(ack: Ack, body: dict, view: dict, context: BoltContext, client: WebClient):
        """The edited registration: checked as the form is (inline errors), committed before the ack, or refused
        inline with nothing stored (decided meanwhile, not theirs, nothing changed)."""
        try:
            lead = validate_lead(parse_view_state(view), services.program)
        except LeadFormInvalid as invalid:
            ack(response_action="errors", errors=invalid.errors)
            return
        origin = parse_modal_metadata(view.get("private_metadata"))
        if origin.registration_id is None:
            ack(response_action="errors", errors={Block.company.value: OUT_OF_DATE})
            return
        actor = actor_of(services, context, body)
        commit_then_tell(services, client, ack, actor, body, origin.place, lambda: edit_registration(
            services, actor=actor, registration_id=origin.registration_id, lead=lead, request_key=request_key(body)),
            block=Block.company)

    @app.action(Action.partner_stage.value)
    def handle_stage_menu(ack: Ack, body: dict, context: BoltContext, respond: Respond, client: WebClient):
        """The partner card's stage menu: committed before the ack, then the card again with its new stage."""
        actor = actor_of(services, context, body)
        choice = parse_stage_choice(_selected_value(body))
        stage = stage_named(choice[1]) if choice else None
        if stage is None:
            ack()
            return
        outcome, refusal = committed(lambda: change_stage(services, actor=actor, partner_id=choice[0], stage=stage,
                                                          request_key=request_key(body)))
        ack()
        if outcome is not None and outcome.replayed:
            return
        if outcome is None or not outcome.changed:
            answer_text(client, actor.slack_user_id, refusal or escape(outcome.message), channel_id=channel_of(body))
            return
        message = build_partner_card(partner_card(services, actor=actor, partner_id=choice[0]))
        if body.get("response_url"):  # the card is ephemeral or a DM: its response_url replaces it in place
            respond(replace_original=True, text=message.text, blocks=message.blocks)
        else:
            answer(client, actor.slack_user_id, message, channel_id=channel_of(body))

    def on_proposal(accept: bool):
        def handle_proposal_button(ack: Ack, body: dict, context: BoltContext, client: WebClient):
            """Make strategic / Dismiss on a strategic proposal: committed before the ack, once."""
            proposal_id = clicked_id(body)
            if proposal_id is None:
                ack()
                return
            actor, place = actor_of(services, context, body), place_of(body)
            commit_then_tell(services, client, ack, actor, body, place, lambda: decide_proposal(
                services, actor=actor, proposal_id=proposal_id, accept=accept, request_key=request_key(body)),
                tell=lambda outcome: tell_after_change(services, client, actor, body, place, escape(outcome.message)))
        return handle_proposal_button

    app.action(Action.strategic_accept.value)(on_proposal(True))
    app.action(Action.strategic_dismiss.value)(on_proposal(False))
