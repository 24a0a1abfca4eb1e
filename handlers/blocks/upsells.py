"""Upsell surfaces: the Flag an upsell modal, the upsell's thread root (its status line and buttons follow the
upsell's status), the partner manager's review of a duplicate flag and its Reject modal."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    CheckboxesElement,
    ContextBlock,
    DividerBlock,
    ExternalDataSelectElement,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
)
from slack_sdk.models.views import View

from handlers.blocks.messages import Message
from handlers.blocks.registration import select_input, text_input
from handlers.blocks.text import clip, day, escape, money, quoted, section
from handlers.ids import Action, Block, Callback
from storage.models import AttributionType, CustomerAccount, Partner, Recurrence, Upsell, UpsellSignal, UpsellStatus
from workflows.lead_form import TIMELINES
from workflows.program import Program
from workflows.upsell_form import MAX_NOTES, RECURRENCES, SIGNALS, signal_label
from workflows.upsell_join import asks_partner_in
from workflows.upsells import UpsellFormStart, UpsellOrigin

INFLUENCED = "influenced"  # the value of the "partner-influenced" checkbox
UPSELL_STATUS = {
    UpsellStatus.duplicate_review: ":mag: Waiting for the partner manager",
    UpsellStatus.open: ":hourglass_flowing_sand: Open",
    UpsellStatus.accepted: ":white_check_mark: Accepted",
    UpsellStatus.declined: ":no_entry_sign: Declined",
    UpsellStatus.rejected: ":no_entry_sign: Not taken forward",
    UpsellStatus.won: ":trophy: Won",
    UpsellStatus.lost: ":heavy_minus_sign: Lost",
}


def upsell_status_label(status: UpsellStatus) -> str:
    return UPSELL_STATUS[status]


def shown_value(upsell: Upsell, amount=None) -> str:
    """`2,000 USD/month` or `15,000 USD one-time` (the expected value, or `amount` in its place)."""
    suffix = "/month" if upsell.recurrence == Recurrence.monthly else " one-time"
    return money(upsell.expected_value if amount is None else amount, upsell.currency) + suffix


# The form ----------------------------------------------------------------------------------------------
def _account_select(start: UpsellFormStart) -> InputBlock:
    chosen = Option(value=str(start.account.id), text=clip(start.account.label, 75)) if start.account else None
    return InputBlock(block_id=Block.account.value, label="Customer account",
                      element=ExternalDataSelectElement(action_id=Action.choose_account.value, min_query_length=0,
                                                        placeholder="Type to search your accounts",
                                                        initial_option=chosen),
                      hint="Only accounts you work on are listed.")


def _partner_inputs(start: UpsellFormStart) -> list[Any]:
    """An internal user picks the partner (prefilled with the channel's) and may tick partner-influenced."""
    chosen = Option(value=str(start.partner.id), text=clip(start.partner.label, 75)) if start.partner else None
    return [
        InputBlock(block_id=Block.partner.value, label="Partner",
                   element=ExternalDataSelectElement(action_id=Action.choose_partner.value, min_query_length=0,
                                                     placeholder="Type to search partners", initial_option=chosen),
                   hint="One of the account's partners, or any partner if you tick partner-influenced."),
        InputBlock(block_id=Block.influenced.value, label="Attribution", optional=True,
                   element=CheckboxesElement(action_id=Block.influenced.value, options=[Option(
                       value=INFLUENCED, text="Partner-influenced: we ask this partner in to help")])),
    ]


def _who(start: UpsellFormStart, partner_name: str | None) -> list[Any]:
    if start.asked_in and start.partner:
        text = (f"You're asking *{escape(start.partner.label)}* in on this expansion (partner-influenced). The thread "
                "goes to their channel.")
    elif partner_name and not start.choose_partner:
        text = (f"Flagging for *{escape(partner_name)}*. The account's executive picks it up in a thread in your "
                "channel.")
    else:
        return []
    return [ContextBlock(elements=[MarkdownTextObject(text=text)])]


def build_upsell_modal(program: Program, start: UpsellFormStart, *, partner_name: str | None = None) -> View:
    """The Flag an upsell form, prefilled from where it was opened (`start`); `partner_name` is a partner's own."""
    blocks: list[Any] = [*_who(start, partner_name), _account_select(start)]
    if start.choose_partner:
        blocks += _partner_inputs(start)
    blocks += [
        select_input(Block.signal, "Signal", {s.value: label for s, label in SIGNALS.items()},
                initial=start.signal.value if start.signal else None),
        select_input(Block.target, "Target product line or plan", {t: t for t in program.upsell_targets}),
        text_input(Block.expected_value, "Expected additional value", placeholder="2000",
              hint="Typed as you usually would (2000, 2,000 or 2.000,50)."),
        select_input(Block.currency, "Currency", {c: c for c in program.currencies}, initial=program.currencies[0]),
        select_input(Block.recurrence, "Recurring or one-time", {r.value: label for r, label in RECURRENCES.items()},
                initial=Recurrence.monthly.value),
        select_input(Block.timeline, "Timeline", TIMELINES, optional=True),
        InputBlock(block_id=Block.notes.value, label="Notes", optional=True,
                   element=PlainTextInputElement(action_id=Block.notes.value, multiline=True, max_length=MAX_NOTES,
                                                 initial_value=start.notes or None,
                                                 placeholder="What the customer said, who is involved, next steps")),
    ]
    metadata = json.dumps({"channel": start.channel_id, "asked_in": start.asked_in})
    return View(type="modal", callback_id=Callback.upsell_form.value, title="Flag an upsell", submit="Flag it",
                close="Cancel", blocks=blocks, private_metadata=metadata)


def parse_upsell_origin(view: dict) -> UpsellOrigin:
    """The channel the form was opened in and whether it asks that channel's partner in: claims, re-checked."""
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        data = {}
    data = data if isinstance(data, dict) else {}
    channel = data.get("channel")
    channel = channel if isinstance(channel, str) and 0 < len(channel) <= 32 else None
    return UpsellOrigin(channel_id=channel, asked_in=data.get("asked_in") is True)


@dataclass(frozen=True)
class Suggestion:
    """What an expansion signal's Flag as upsell button carries: claims, the account re-checked against the clicker."""

    account_id: int | None
    signal: UpsellSignal | None
    notes: str


def parse_suggestion(value: object) -> Suggestion:
    """The button's JSON value {"account": id, "signal": "...", "notes": "..."}; whatever is malformed is dropped."""
    try:
        data = json.loads(value) if isinstance(value, str) else {}
    except ValueError:
        data = {}
    data = data if isinstance(data, dict) else {}
    account, signal, notes = data.get("account"), data.get("signal"), data.get("notes")
    account = account if isinstance(account, int) and not isinstance(account, bool) and 0 < account < 2 ** 63 \
        else None
    signal = UpsellSignal(signal) if signal in [s.value for s in UpsellSignal] else None
    return Suggestion(account, signal, notes[:MAX_NOTES] if isinstance(notes, str) else "")


def influenced_ticked(view: dict) -> bool:
    """Whether the form's partner-influenced box is ticked."""
    state = ((view.get("state") or {}).get("values") or {}).get(Block.influenced.value) or {}
    chosen = next(iter(state.values()), {}) if isinstance(state, dict) else {}
    options = chosen.get("selected_options") if isinstance(chosen, dict) else None
    return any(isinstance(o, dict) and o.get("value") == INFLUENCED for o in options or [])


# The thread root ---------------------------------------------------------------------------------------
def upsell_buttons(upsell: Upsell) -> list[ButtonElement]:
    """The owner AE's buttons as the status allows (open: Accept / Decline; accepted: Mark won / Mark lost); the
    value is the upsell's id, re-checked against the clicker."""
    value = str(upsell.id)
    if upsell.status == UpsellStatus.open:
        return [ButtonElement(text="Accept", action_id=Action.upsell_accept.value, value=value, style="primary"),
                ButtonElement(text="Decline", action_id=Action.upsell_decline.value, value=value, style="danger")]
    if upsell.status == UpsellStatus.accepted:
        return [ButtonElement(text="Mark won", action_id=Action.upsell_won.value, value=value, style="primary"),
                ButtonElement(text="Mark lost", action_id=Action.upsell_lost.value, value=value)]
    return []


def join_button(upsell: Upsell) -> ButtonElement:
    """The partner's Join on an upsell it was asked in on; the value is the upsell's id, re-checked."""
    return ButtonElement(text="Join", action_id=Action.upsell_join.value, value=str(upsell.id), style="primary")


def upsell_title(upsell: Upsell, account: CustomerAccount) -> str:
    """`UPS-00001 · *Acme Corp* (acme.com)`, escaped."""
    domain = f" ({escape(account.domain)})" if account.domain else ""
    return f"{upsell.reference} · *{escape(account.name)}*{domain}"


def upsell_summary(upsell: Upsell) -> str:
    """`Plan upgrade → *Enterprise* · 2,000 USD/month · 1–3 months`."""
    timeline = f" · {TIMELINES[upsell.timeline]}" if upsell.timeline in TIMELINES else ""
    return f"{signal_label(upsell.signal)} → *{escape(upsell.target)}* · {shown_value(upsell)}{timeline}"


def _status_line(upsell: Upsell, owner: str | None) -> str:
    label = f"Status: *{upsell_status_label(upsell.status)}*"
    if upsell.status == UpsellStatus.open and owner:
        return f"{label}: waiting for <@{owner}> to accept or decline"
    if upsell.status in (UpsellStatus.declined, UpsellStatus.rejected) and upsell.decision_reason:
        return f"{label}. Reason:\n{quoted(upsell.decision_reason, 1000)}"
    if upsell.status == UpsellStatus.lost and upsell.close_reason:
        return f"{label}. Reason:\n{quoted(upsell.close_reason, 1000)}"
    if upsell.status == UpsellStatus.won and upsell.final_amount is not None:
        return f"{label}: {shown_value(upsell, upsell.final_amount)}"
    return label


def _flagged_by(upsell: Upsell, partner: Partner) -> str:
    if upsell.attribution == AttributionType.influenced and not upsell.partner_joined_at:
        return f"<@{upsell.flagged_by_slack_id}> asked *{escape(partner.name)}* in (partner-influenced)"
    if upsell.attribution == AttributionType.influenced:
        return (f"<@{upsell.flagged_by_slack_id}> asked *{escape(partner.name)}* in (partner-influenced): "
                f":handshake: joined {day(upsell.partner_joined_at)}")
    return f"Flagged by <@{upsell.flagged_by_slack_id}> for *{escape(partner.name)}* (partner-sourced)"


def build_upsell_root(upsell: Upsell, account: CustomerAccount, partner: Partner) -> Message:
    """The message an upsell's thread hangs under, mentioning the account's owner AE; it shows the current status
    and the buttons that status allows, so updating it in place keeps it true."""
    owner = account.owner_slack_id or upsell.assigned_to_slack_id
    lines = [f":chart_with_upwards_trend: *Upsell* {upsell_title(upsell, account)}", upsell_summary(upsell),
             _flagged_by(upsell, partner) + (f" · Account executive: <@{owner}>" if owner else ""),
             _status_line(upsell, owner)]
    if upsell.notes:
        lines.append(quoted(upsell.notes, 1200))
    blocks: list[Any] = [section("\n".join(lines))]
    buttons = upsell_buttons(upsell)
    if upsell.partner_channel_id and asks_partner_in(upsell):  # in the partner's channel: its people join here
        buttons.append(join_button(upsell))
        blocks.append(ContextBlock(elements=[MarkdownTextObject(
            text=f"*{escape(partner.name)}*: are you involved? *Join* tells our team and credits you.")]))
    if buttons:
        blocks.append(ActionsBlock(elements=buttons))
    status = upsell.status.replace("_", " ")
    return Message(text=f"Upsell {upsell.reference} for {escape(account.name)}: {escape(upsell.target)}, {status}",
                   blocks=blocks)


# The duplicate's review ---------------------------------------------------------------------------------
def _evidence(upsell: Upsell, partner: Partner) -> str:
    return (f"{upsell.reference} · {upsell_summary(upsell)}\nby <@{upsell.flagged_by_slack_id}> for "
            f"*{escape(partner.name)}* on {day(upsell.created_at)} · {upsell_status_label(upsell.status)}"
            + (f", with <@{upsell.assigned_to_slack_id}>" if upsell.assigned_to_slack_id else ""))


def build_duplicate_review(upsell: Upsell, original: Upsell | None, account: CustomerAccount, partner: Partner,
                           original_partner: Partner | None, *, outcome: str | None = None) -> Message:
    """What the partner manager sees of a duplicate flag: both upsells and both partners, with Approve / Reject
    while it waits (`outcome`, safe mrkdwn, replaces them once decided)."""
    blocks: list[Any] = [
        section(f":warning: *Duplicate upsell* on *{escape(account.name)}* for *{escape(upsell.target)}*: "
                f"another partner has an open upsell on the same account and target."),
        section(f"*New flag*\n{_evidence(upsell, partner)}"
                + (f"\n{quoted(upsell.notes, 800)}" if upsell.notes else "")),
    ]
    if original is not None and original_partner is not None:
        blocks.append(section(f"*Already open*\n{_evidence(original, original_partner)}"))
    blocks.append(DividerBlock())
    if outcome:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=outcome)]))
    elif upsell.status == UpsellStatus.duplicate_review:
        value = str(upsell.id)
        blocks += [
            ContextBlock(elements=[MarkdownTextObject(
                text=f"Approve opens it too: its thread goes to {escape(partner.name)} and the account's executive. "
                     "Reject tells the flagger why (partners never see each other's names).")]),
            ActionsBlock(elements=[
                ButtonElement(text="Approve", action_id=Action.upsell_duplicate_approve.value, value=value,
                              style="primary"),
                ButtonElement(text="Reject", action_id=Action.upsell_duplicate_reject.value, value=value,
                              style="danger")]),
        ]
    return Message(text=f"Duplicate upsell {upsell.reference} on {escape(account.name)} needs your decision",
                   blocks=blocks)


def upsell_modal_metadata(upsell_id: int, place: str | None) -> str:
    return json.dumps({"upsell": upsell_id, "place": place})


def parse_upsell_modal_metadata(metadata: object) -> tuple[int | None, str | None]:
    """The upsell id and the place an upsell's modal says it came from (claims: the workflow re-checks the id)."""
    try:
        data = json.loads(metadata) if isinstance(metadata, str) else {}
    except ValueError:
        data = {}
    data = data if isinstance(data, dict) else {}
    upsell, place = data.get("upsell"), data.get("place")
    upsell = upsell if isinstance(upsell, int) and not isinstance(upsell, bool) and 0 < upsell < 2 ** 63 else None
    return upsell, place if isinstance(place, str) and len(place) <= 32 else None


def build_duplicate_reject_modal(upsell: Upsell, place: str | None) -> View:
    """Reject a duplicate flag: why, in words the flagging partner reads."""
    return View(type="modal", callback_id=Callback.upsell_duplicate_reject.value, title="Reject duplicate",
                submit="Reject", close="Cancel", private_metadata=upsell_modal_metadata(upsell.id, place), blocks=[
                    InputBlock(block_id=Block.reason.value, label=f"Why is {upsell.reference} not taken forward?",
                               element=PlainTextInputElement(action_id=Block.reason.value, multiline=True,
                                                             max_length=1000)),
                    ContextBlock(elements=[MarkdownTextObject(
                        text="The flagger reads this. Never name the other partner: it is refused.")]),
                ])
