"""Messages between a reviewer and the partner through the registration's thread: a question, the partner's
reply forwarded to the reviewer, and a decision (or a co-sell) withdrawn by an undo."""

from __future__ import annotations

from slack_sdk.models.blocks import ContextBlock, MarkdownTextObject

from handlers.blocks.messages import Message
from handlers.blocks.text import day, escape, lead_title, quoted, section, status_label
from storage.models import Partner, Registration, RegistrationStatus


def build_partner_question(registration: Registration, asker_slack_id: str, question: str) -> Message:
    """In the partner's thread: who asks what, and that a reply in the thread reaches them."""
    text = f":question: <@{asker_slack_id}> asks about *{escape(registration.company)}*:\n{quoted(question, 2500)}"
    return Message(text=f"{registration.reference}: a question from our team", blocks=[
        section(text),
        ContextBlock(elements=[MarkdownTextObject(
            text=f"Reply in this thread and your answer goes to them · {registration.reference}")]),
    ])


def build_partner_reply(registration: Registration, partner: Partner, author_slack_id: str, text: str,
                        link: str | None) -> Message:
    """To the reviewer: a partner's reply in the registration's thread, with a link to it."""
    heading = f":speech_balloon: <@{author_slack_id}> ({escape(partner.name)}) replied on {lead_title(registration)}"
    blocks = [section(f"{heading}\n{quoted(text, 2500)}")]
    if link and "|" not in link and ">" not in link:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"<{link}|Open the thread>")]))
    return Message(text=f"{escape(partner.name)} replied on {registration.reference}", blocks=blocks)


def build_decision_withdrawn(registration: Registration, withdrawn: RegistrationStatus) -> Message:
    """In the partner's thread: the decision they were told of is withdrawn, and where it stands now."""
    company = escape(registration.company)
    was = {RegistrationStatus.approved: "approval", RegistrationStatus.rejected: "rejection",
           RegistrationStatus.won: "“won”", RegistrationStatus.lost: "“closed lost”"}.get(withdrawn, "decision")
    text = (f":leftwards_arrow_with_hook: Correction: the {was} of *{company}* was withdrawn by our team. "
            f"It is {status_label(registration.status)} again; we'll update you here.")
    return Message(text=f"{registration.reference}: the {was.strip('“”')} was withdrawn", blocks=[
        section(text), ContextBlock(elements=[MarkdownTextObject(text=registration.reference)])])


def build_co_sell_withdrawn(registration: Registration) -> Message:
    """In the partner's thread: the co-sell they were told of is withdrawn; the deal is theirs alone again."""
    protected = (f", protected until {day(registration.protection_expires_at)}"
                 if registration.status == RegistrationStatus.approved else "")
    text = (f":leftwards_arrow_with_hook: Correction: our team withdrew the co-sell on "
            f"*{escape(registration.company)}*. It is registered to you alone again{protected}.")
    return Message(text=f"{registration.reference}: the co-sell was withdrawn", blocks=[
        section(text), ContextBlock(elements=[MarkdownTextObject(text=registration.reference)])])
