"""Reviewer-facing messages: the AE's lead review, the partner manager's conflict review, their outcomes,
the approval-SLA reminder, and the buttons they share (also on App Home)."""

from __future__ import annotations

from datetime import datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
)
from slack_sdk.models.views import View

from handlers.blocks.messages import Message
from handlers.blocks.text import clip, day, deal_summary, escape, lead_title, quoted, section, status_label
from handlers.ids import Action, Block, Callback
from storage.models import Partner, Registration, RegistrationStatus, ReviewKind
from workflows.scoring import score_hints
from workflows.services import ConflictEvidence
from workflows.undo import UNDO_MINUTES


def _confirm(title: str, text: str, confirm: str, *, style: str | None = None) -> ConfirmObject:
    """Slack's own confirmation dialog: the click reaches us only if the user confirms. `text` is safe mrkdwn,
    cut to Slack's 300 characters."""
    return ConfirmObject(title=title, text=MarkdownTextObject(text=clip(text, 300)), confirm=confirm,
                         deny="Cancel", style=style)


def _what(registration: Registration) -> str:
    return f"{registration.reference} · *{escape(clip(registration.company, 80))}*"


def review_buttons(registration: Registration) -> list[ButtonElement]:
    """The buttons of a waiting review, on its message, its reminders and App Home alike."""
    value = str(registration.id)
    ask = ButtonElement(text="Ask the partner", action_id=Action.ask_partner.value, value=value)
    if registration.review_kind == ReviewKind.conflict:
        return [ButtonElement(text="Approve", action_id=Action.clear_conflict.value, value=value, style="primary",
                              confirm=_confirm("Approve this registration?",
                                               f"{_what(registration)} goes on to an AE for review. Approving over "
                                               "an approved registration asks you for a reason.", "Approve")),
                ButtonElement(text="Reject", action_id=Action.reject_conflict.value, value=value, style="danger"),
                ask]
    return [ButtonElement(text="Accept", action_id=Action.accept.value, value=value, style="primary",
                          confirm=_confirm("Accept this lead?",
                                           f"{_what(registration)} is approved and protected for the partner, "
                                           f"who is told at once. You can undo it for {UNDO_MINUTES} minutes.",
                                           "Accept", style="primary")),
            ButtonElement(text="Reject", action_id=Action.reject.value, value=value, style="danger"),
            ButtonElement(text="Reassign", action_id=Action.reassign.value, value=value),
            ask]


def deal_buttons(registration: Registration) -> list[ButtonElement]:
    """Mark won / Mark lost on an approved registration, each confirmed first (lost then asks why)."""
    value = str(registration.id)
    return [
        ButtonElement(text="Mark won", action_id=Action.mark_won.value, value=value, style="primary",
                      confirm=_confirm("Mark the deal won?",
                                       f"{_what(registration)} closes as won, attributed to the partner, who is "
                                       f"told. You can undo it for {UNDO_MINUTES} minutes.", "Mark won",
                                       style="primary")),
        ButtonElement(text="Mark lost", action_id=Action.mark_lost.value, value=value,
                      confirm=_confirm("Mark the deal lost?",
                                       f"{_what(registration)} closes as lost; next you say why (for our team and "
                                       "the CRM, not the partner).", "Mark lost", style="danger")),
    ]

BREAKDOWN_LABELS = {"fit": "Fit", "timing": "Timing", "completeness": "Completeness",
                    "partner_record": "Partner record"}


def _lead_details(registration: Registration, partner: Partner) -> list:
    contact = f"{escape(registration.contact_name)} <mailto:{escape(registration.contact_email)}|" \
              f"{escape(registration.contact_email)}>"
    notes = f"\n{quoted(registration.notes, 1200)}" if registration.notes else ""
    return [
        section((
            f"{lead_title(registration)}\n{deal_summary(registration)}\n"
            f"Partner: *{escape(partner.name)}* ({partner.type}, {partner.tier}) · "
            f"{registration.attribution.replace('_', '-')}\nContact: {contact}{notes}")),
    ]


def _score_block(registration: Registration):
    parts = [f"{BREAKDOWN_LABELS.get(name, name)} {item['points']}/{item['max']} ({escape(item['why'])})"
             for name, item in registration.score_breakdown.items()]
    hints = score_hints(registration.score_breakdown)
    raise_it = f"\n_To raise it, ask the partner:_ {escape('; '.join(hints))}" if hints else ""
    return section(f"*Score {registration.score}/100*\n" + "\n".join(f"• {p}" for p in parts) + raise_it)


MAX_EVIDENCE = 8  # keeps the section under Slack's 3,000 characters


def _evidence_lines(conflicts: list[ConflictEvidence], partner: Partner) -> str:
    lines = []
    for item in conflicts[:MAX_EVIDENCE]:
        other = item.registration
        who = "the same partner" if item.partner.id == partner.id else f"*{escape(item.partner.name)}*"
        protected = f", protected until {day(other.protection_expires_at)}" \
            if other.status == RegistrationStatus.approved else ""
        lines.append(f"• {other.reference} {escape(other.company)} ({escape(other.domain)}) by {who} "
                     f"on {day(other.created_at)} via <@{other.submitted_by_slack_id}>: "
                     f"{status_label(other.status)}{protected}. _{item.match}_")
    if len(conflicts) > MAX_EVIDENCE:
        lines.append(f"…and {len(conflicts) - MAX_EVIDENCE} more; see `/partner deals`.")
    return clip("\n".join(lines), 2900)


def build_review_request(registration: Registration, partner: Partner, conflicts: list[ConflictEvidence], *,
                         note: str | None = None) -> Message:
    """What the reviewer sees: details, score, and either routing reason or conflict evidence, with buttons.

    `note` (safe mrkdwn) says what happened to it, e.g. that a decision on it was undone."""
    if registration.review_kind == ReviewKind.conflict:
        heading = f":warning: *Channel conflict* on a new registration by *{escape(partner.name)}*"
        approved = any(c.registration.status == RegistrationStatus.approved for c in conflicts)
        rule = ("First approved registration wins: approving this one is an override and needs a reason."
                if approved else "No registration is approved yet: the first one approved wins.")
        middle = [section(f"*Already registered:*\n{_evidence_lines(conflicts, partner)}"),
                  ContextBlock(elements=[MarkdownTextObject(text=rule)])]
        fallback = f"Channel conflict: {escape(registration.company)} registered by {escape(partner.name)} needs review"
    else:
        heading = f":inbox_tray: *New partner lead for you* from *{escape(partner.name)}*"
        middle = [_score_block(registration),
                  ContextBlock(elements=[MarkdownTextObject(text=f"Routed to you: {escape(registration.routing_reason)}")])]
        fallback = (f"New partner lead {escape(registration.company)} from {escape(partner.name)} "
                    f"(score {registration.score})")
    notes = [ContextBlock(elements=[MarkdownTextObject(text=note)])] if note else []
    blocks = [section(heading), *_lead_details(registration, partner), DividerBlock(), *middle, *notes,
              ActionsBlock(block_id=Block.review_actions.value, elements=review_buttons(registration))]
    return Message(text=fallback, blocks=blocks)


def build_review_settled(registration: Registration, partner: Partner, actor_slack_id: str, *,
                         note: str | None = None) -> Message:
    """The review message after a decision: same details, buttons replaced by who decided what."""
    if note:
        outcome = note
    elif registration.status == RegistrationStatus.under_review:
        outcome = f":white_check_mark: Conflict cleared by <@{actor_slack_id}>; routed to " \
                  f"<@{registration.assigned_to_slack_id}>."
    else:
        outcome = f"{status_label(registration.status)} by <@{actor_slack_id}>"
        reason = registration.close_reason if registration.status == RegistrationStatus.lost \
            else registration.decision_reason
        if reason:
            outcome += f":\n{quoted(reason, 2000)}"
    blocks = [*_lead_details(registration, partner), ContextBlock(elements=[MarkdownTextObject(text=outcome)])]
    if registration.status == RegistrationStatus.approved:
        blocks.append(ActionsBlock(block_id=Block.review_actions.value, elements=deal_buttons(registration)))
    return Message(text=f"{registration.reference} {escape(registration.company)}: "
                        f"{registration.status.replace('_', ' ')}",
                   blocks=blocks)


def build_reason_modal(callback: Callback, registration_id: int, *, title: str, prompt: str) -> View:
    """Asks for a written reason (rejections, overrides); the registration id rides in private_metadata."""
    return View(type="modal", callback_id=callback.value, title=title, submit="Submit", close="Cancel",
                private_metadata=str(registration_id), blocks=[
                    InputBlock(block_id=Block.reason.value, label=prompt,
                               element=PlainTextInputElement(action_id=Block.reason.value, multiline=True,
                                                             max_length=1000)),
                ])


def build_review_handed_over(registration: Registration, partner: Partner, *, actor_slack_id: str,
                             reason: str | None) -> Message:
    """The previous reviewer's message once the review went to someone else: no buttons, who has it now."""
    outcome = (f":arrow_right_hook: Reassigned to <@{registration.assigned_to_slack_id}> by <@{actor_slack_id}>"
               + (f":\n{quoted(reason, 1500)}" if reason else "."))
    return Message(text=f"{registration.reference} {escape(registration.company)}: reassigned",
                   blocks=[*_lead_details(registration, partner),
                           ContextBlock(elements=[MarkdownTextObject(text=outcome)])])


def build_review_reminder(registration: Registration, partner: Partner, hours_waiting: int, sla_hours: int, *,
                          link: str | None = None) -> Message:
    """The approval-SLA reminder: what is waiting, how long, who must decide, the same buttons as the review,
    and (for the reviewer) a link to the review message. `link` is Slack's permalink, not user text."""
    text = (f":alarm_clock: {lead_title(registration)} from *{escape(partner.name)}* has waited "
            f"{hours_waiting} hours for a decision; partners are promised one within {sla_hours} hours. "
            f"It is with <@{registration.assigned_to_slack_id}>.")
    blocks = [section(text)]
    if link and "|" not in link and ">" not in link:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"<{link}|Open the review request>")]))
    blocks.append(ActionsBlock(block_id=Block.review_actions.value, elements=review_buttons(registration)))
    return Message(text=f"{registration.reference} is waiting for a decision", blocks=blocks)


def build_reminder_handled(registration: Registration, partner: Partner, outcome: str) -> Message:
    """A reminder once its review was handled: the buttons go, a line says what happened (`outcome` is safe)."""
    return Message(text=f"{registration.reference} no longer waits for you",
                   blocks=[section(f"{lead_title(registration)} from *{escape(partner.name)}*: {outcome}")])


def _slack_date(when: datetime) -> str:
    """A time Slack shows in each reader's own time zone, with a UTC fallback."""
    return f"<!date^{int(when.timestamp())}^{{time}}|{when:%H:%M} UTC>"


def build_undo_prompt(text: str, decision_id: int, undo_until: datetime) -> Message:
    """Told privately to who decided: what they did, and Undo while it can be undone (`text` is safe mrkdwn)."""
    return Message(text=f"{text} You can undo it for {UNDO_MINUTES} minutes.", blocks=[
        section(text),
        ActionsBlock(elements=[ButtonElement(text="Undo", action_id=Action.undo.value, value=str(decision_id))]),
        ContextBlock(elements=[MarkdownTextObject(
            text=f"You can undo this until {_slack_date(undo_until)} ({UNDO_MINUTES} minutes).")]),
    ])
