"""Block Kit for partners' lifecycle: the partner card (`/partner show`) with its stage menu, and the strategic
proposal a partner's manager accepts or dismisses."""

from __future__ import annotations

from datetime import datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    Option,
    SectionBlock,
    StaticSelectElement,
)

from handlers.blocks.messages import Message
from handlers.blocks.text import clip, day, escape, section
from handlers.ids import Action
from storage.nudges.models import Nudge
from storage.models import Partner, PartnerStageEvent, ProposalStatus, StageProposal
from workflows.lifecycle import RULE_FIRST_REGISTRATION, RULE_FIRST_WIN, RULE_STRATEGIC, STAGES, stage_label
from workflows.partner_card import PartnerCard

FIELD_LIMIT = 2000
RULE_NAMES = {
    RULE_FIRST_REGISTRATION: "first-registration rule",
    RULE_FIRST_WIN: "first-won-deal rule",
    RULE_STRATEGIC: "strategic rule",
    "import": "partner import",
    "migration": "before stage history was kept",
}


def stage_option(partner_id: int, stage) -> Option:
    return Option(value=f"{partner_id}:{stage.value}", text=stage_label(stage))


def parse_stage_choice(value: object) -> tuple[int, str] | None:
    """A stage menu option's value, `partner id:stage` (a claim: the workflow re-checks both), or None."""
    if not isinstance(value, str) or value.count(":") != 1:
        return None
    partner_id, stage = value.split(":")
    if not (partner_id.isascii() and partner_id.isdigit() and len(partner_id) < 10):
        return None
    return int(partner_id), stage


def who_label(actor: str) -> str:
    """A history row's actor as people read it: a mention, or what did it."""
    if actor in RULE_NAMES:
        return RULE_NAMES[actor]
    return f"<@{actor}>" if actor[:1] in "UW" and actor.isalnum() else escape(actor)


def time_in_stage(since: datetime, now: datetime) -> str:
    days = max(0, (now - since).days)
    length = "since today" if days == 0 else f"for {days} day{'s' if days != 1 else ''}"
    return f"{length} (since {day(since)})"


def history_line(event: PartnerStageEvent) -> str:
    moved = (f"{stage_label(event.from_stage)} → {stage_label(event.to_stage)}" if event.from_stage
             else f"started as {stage_label(event.to_stage)}")
    why = f": {escape(clip(event.reason, 200))}" if event.reason else ""
    return f"• {day(event.at)} · {moved} · {who_label(event.actor)}{why}"


def _ratio(card: PartnerCard) -> str:
    figures = card.figures
    if figures.decided == 0:
        return f"no registration older than {card.decided_after_days} days yet"
    percent = round(100 * figures.decided_won / figures.decided)
    return (f"{percent}% ({figures.decided_won} won of {figures.decided} submitted more than "
            f"{card.decided_after_days} days ago)")


def _field(label: str, value: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=clip(f"*{label}*\n{value}", FIELD_LIMIT))


def build_partner_card(card: PartnerCard) -> Message:
    """The partner card: who the partner is, its stage and how long in it (with a stage menu for those who may
    change it), its people, registrations, upsells, lead-to-close ratio, last activity and recent stage changes."""
    partner, figures = card.partner, card.figures
    name = escape(partner.name)
    title = (f":bust_in_silhouette: *{name}* · {partner.type.value.capitalize()} · "
             f"{partner.tier.value.capitalize()} tier")
    stage_text = f"*Stage:* {stage_label(partner.stage)} {time_in_stage(partner.stage_since, card.now)}"
    menu = None
    if card.may_change_stage:
        options = [stage_option(partner.id, stage) for stage in STAGES]
        menu = StaticSelectElement(action_id=Action.partner_stage.value, placeholder="Change stage",
                                   options=options, initial_option=stage_option(partner.id, partner.stage))
    manager = (f"<@{card.manager}>" + (f" ({escape(card.manager_name)})" if card.manager_name else "")
               if card.manager else "none yet")
    contacts = ", ".join(f"<@{c}>" for c in card.contacts) or "none listed"
    won = card.won.describe() if card.won.deals else "none"
    fields = [
        _field("Manager", manager),
        _field("Contacts", contacts),
        _field("Registrations", f"{figures.open_registrations} open · {figures.won_registrations} won"),
        _field("Upsells", f"{figures.open_upsells} open · {figures.won_upsells} won"),
        _field("Lead-to-close", _ratio(card)),
        _field("Won in the last 12 months", won),
        _field("Last activity", day(figures.last_activity) if figures.last_activity else "no deals yet"),
    ]
    blocks: list = [section(title), SectionBlock(text=MarkdownTextObject(text=stage_text), accessory=menu),
                    SectionBlock(fields=fields)]
    if card.history:
        blocks.append(section("*Recent stage changes*\n" + "\n".join(history_line(e) for e in card.history)))
    if card.nudges:
        blocks.append(section("*Recent nudges*\n" + "\n".join(nudge_line(n, card.now) for n in card.nudges)))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text="Only you can see this card.")]))
    return Message(text=f"Partner card: {name}, {partner.stage.value}", blocks=blocks)


NUDGE_NAMES = {
    "onboarding": "Onboarding", "activation": "Activation", "reengagement": "Re-engagement",
    "reengagement_note": "Re-engagement note", "stalled_registration": "Stalled registration",
    "protection_expiry": "Protection expiry", "qbr": "QBR brief", "rollup": "Roll-up",
}
ANSWER_NAMES = {"snoozed": "snoozed", "not_relevant": "marked not relevant", "acted": "acted on"}


def nudge_line(nudge: Nudge, now: datetime) -> str:
    """`• 2 Nov 2026 · Activation to <#C123> · snoozed by @Bob` (or "goes out 9 Nov" while it waits)."""
    where = f"<#{nudge.recipient}>" if nudge.recipient.startswith(("C", "G")) else f"<@{nudge.recipient}>"
    when = day(nudge.created_at) if nudge.deliver_at <= now else f"goes out {day(nudge.deliver_at)}"
    answer = (f" · {ANSWER_NAMES.get(nudge.response, nudge.response)} by <@{nudge.responded_by_slack_id}>"
              if nudge.response else "")
    return f"• {when} · {NUDGE_NAMES.get(nudge.kind, nudge.kind)} to {where}{answer}"


def build_strategic_proposal(proposal: StageProposal, partner: Partner) -> Message:
    """The manager's proposal: the figures that met the criteria, and Make strategic / Dismiss while it is open;
    once decided, who decided what, in place of the buttons."""
    name = escape(partner.name)
    text = (f":star2: *{name}* looks strategic: {escape(proposal.reason)}.\n"
            f"Make it a strategic partner? It is {stage_label(partner.stage).lower()} now.")
    blocks: list = [section(text)]
    if proposal.status == ProposalStatus.pending:
        value = str(proposal.id)
        blocks.append(ActionsBlock(elements=[
            ButtonElement(text="Make strategic", action_id=Action.strategic_accept.value, value=value,
                          style="primary"),
            ButtonElement(text="Dismiss", action_id=Action.strategic_dismiss.value, value=value),
        ]))
    else:
        what = "Made strategic" if proposal.status == ProposalStatus.accepted else "Dismissed"
        blocks.append(ContextBlock(elements=[MarkdownTextObject(
            text=f"{what} by <@{proposal.decided_by_slack_id}> on {day(proposal.decided_at)}.")]))
    return Message(text=f"{name} looks strategic: {escape(clip(proposal.reason, 150))}", blocks=blocks)
