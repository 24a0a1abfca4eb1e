"""Reviewer-facing messages: the AE's lead review, the partner manager's conflict review, and their outcomes."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
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
from workflows.services import ConflictEvidence

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
    return section(f"*Score {registration.score}/100*\n" + "\n".join(f"• {p}" for p in parts))


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


def build_review_request(registration: Registration, partner: Partner, conflicts: list[ConflictEvidence]) -> Message:
    """What the reviewer sees: details, score, and either routing reason or conflict evidence, with buttons."""
    value = str(registration.id)
    if registration.review_kind == ReviewKind.conflict:
        heading = f":warning: *Channel conflict* on a new registration by *{escape(partner.name)}*"
        approved = any(c.registration.status == RegistrationStatus.approved for c in conflicts)
        rule = ("First approved registration wins: approving this one is an override and needs a reason."
                if approved else "No registration is approved yet: the first one approved wins.")
        middle = [section(f"*Already registered:*\n{_evidence_lines(conflicts, partner)}"),
                  ContextBlock(elements=[MarkdownTextObject(text=rule)])]
        buttons = [ButtonElement(text="Approve", action_id=Action.clear_conflict.value, value=value, style="primary"),
                   ButtonElement(text="Reject", action_id=Action.reject_conflict.value, value=value, style="danger")]
        fallback = f"Channel conflict: {escape(registration.company)} registered by {escape(partner.name)} needs review"
    else:
        heading = f":inbox_tray: *New partner lead for you* from *{escape(partner.name)}*"
        middle = [_score_block(registration),
                  ContextBlock(elements=[MarkdownTextObject(text=f"Routed to you: {escape(registration.routing_reason)}")])]
        buttons = [ButtonElement(text="Accept", action_id=Action.accept.value, value=value, style="primary"),
                   ButtonElement(text="Reject", action_id=Action.reject.value, value=value, style="danger")]
        fallback = (f"New partner lead {escape(registration.company)} from {escape(partner.name)} "
                    f"(score {registration.score})")
    blocks = [section(heading), *_lead_details(registration, partner),
              DividerBlock(), *middle, ActionsBlock(block_id=Block.review_actions.value, elements=buttons)]
    return Message(text=fallback, blocks=blocks)


def build_review_settled(registration: Registration, partner: Partner, actor_slack_id: str) -> Message:
    """The review message after a decision: same details, buttons replaced by who decided what."""
    if registration.status == RegistrationStatus.under_review:
        outcome = f":white_check_mark: Conflict cleared by <@{actor_slack_id}>; routed to " \
                  f"<@{registration.assigned_to_slack_id}>."
    else:
        outcome = f"{status_label(registration.status)} by <@{actor_slack_id}>"
        if registration.decision_reason:
            outcome += f":\n{quoted(registration.decision_reason, 2000)}"
    blocks = [*_lead_details(registration, partner), ContextBlock(elements=[MarkdownTextObject(text=outcome)])]
    if registration.status == RegistrationStatus.approved:
        value = str(registration.id)
        blocks.append(ActionsBlock(block_id=Block.review_actions.value, elements=[
            ButtonElement(text="Mark won", action_id=Action.mark_won.value, value=value, style="primary"),
            ButtonElement(text="Mark lost", action_id=Action.mark_lost.value, value=value),
        ]))
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


def build_review_reminder(registration: Registration, partner: Partner, hours_waiting: int, sla_hours: int) -> Message:
    """The approval-SLA reminder: what is waiting, how long, and who must decide."""
    text = (f":alarm_clock: {lead_title(registration)} from *{escape(partner.name)}* has waited "
            f"{hours_waiting} hours for a decision; partners are promised one within {sla_hours} hours. "
            f"It is with <@{registration.assigned_to_slack_id}>.")
    return Message(text=f"{registration.reference} is waiting for a decision",
                   blocks=[section(text)])
