"""Block Kit for nudges: what the nudge says, the button that does it, and Snooze / Not relevant on every one."""

from __future__ import annotations

from slack_sdk.models.blocks import ActionsBlock, ButtonElement, ContextBlock, MarkdownTextObject

from handlers.blocks.messages import Message
from handlers.blocks.text import clip, day, escape, section
from handlers.ids import Action
from storage.nudges.models import Nudge, NudgeResponse
from workflows.nudges import NudgeAction, NudgeButton, NudgeContent

ACTIONS = {
    NudgeAction.register_lead: Action.register_lead,
    NudgeAction.request_extension: Action.request_extension,
    NudgeAction.still_working: Action.nudge_still_working,
    NudgeAction.mark_won: Action.mark_won,
    NudgeAction.mark_lost: Action.mark_lost,
    NudgeAction.nudge_them_all: Action.nudge_them_all,
}
PRIMARY = {NudgeAction.register_lead, NudgeAction.request_extension, NudgeAction.nudge_them_all,
           NudgeAction.still_working}


def nudge_block_id(nudge: Nudge) -> str:
    return f"nudge:{nudge.id}"


def _button(nudge: Nudge, button: NudgeButton) -> ButtonElement:
    value = str(button.subject_id if button.subject_id is not None else nudge.id)
    if button.action == NudgeAction.register_lead:
        value = ""  # the desk's own button: it needs nothing
    return ButtonElement(text=clip(button.label, 75), action_id=ACTIONS[button.action].value, value=value or None,
                         style="primary" if button.action in PRIMARY else None)


def nudge_text(content: NudgeContent) -> str:
    """What the nudge says as mrkdwn: mentions, the title in bold, its lines and links, user text escaped."""
    mentions = " ".join(f"<@{user}>" for user in content.mentions)
    body = [f"*{escape(content.title)}*"] + [escape(line) for line in content.lines]
    if content.links:
        body.append("\n".join(f"• <{url}|{escape(title)}>" for title, url in content.links))
    return (mentions + "\n" if mentions else "") + "\n".join(body)


def build_nudge(nudge: Nudge, content: NudgeContent, *, snooze_days: int) -> Message:
    """The nudge as its recipient reads it, with its buttons, then Snooze (unless the content has none) and Not
    relevant."""
    snooze = [ButtonElement(text=f"Snooze {snooze_days} days", action_id=Action.nudge_snooze.value,
                            value=str(nudge.id))] if content.snooze else []
    buttons = [_button(nudge, button) for button in content.buttons] + snooze + [
        ButtonElement(text="Not relevant", action_id=Action.nudge_not_relevant.value, value=str(nudge.id)),
    ]
    return Message(text=clip(f"{content.title}", 300),
                   blocks=[section(nudge_text(content)), ActionsBlock(block_id=nudge_block_id(nudge),
                                                                      elements=buttons)])


def answer_note(nudge: Nudge, until) -> str:
    """Who answered the nudge and what that means, for the line that replaces its buttons."""
    who = f"<@{nudge.responded_by_slack_id}>"
    if nudge.response == NudgeResponse.snoozed:
        return f":zzz: {who} snoozed these nudges until {day(until)}."
    if nudge.response == NudgeResponse.not_relevant:
        return f":no_bell: {who} marked these nudges not relevant: no more of this kind here."
    return f":white_check_mark: {who} took it from here."


def build_nudge_answered(original_text: str, original_blocks: list[dict], nudge: Nudge, note: str) -> Message:
    """The nudge as it was, its buttons replaced by who answered and how."""
    kept = [block for block in original_blocks if block.get("block_id") != nudge_block_id(nudge)]
    kept.append(ContextBlock(elements=[MarkdownTextObject(text=clip(note, 2000))]).to_dict())
    return Message(text=original_text, blocks=kept)
