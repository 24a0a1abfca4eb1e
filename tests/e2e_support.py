"""Helpers for end-to-end tests: the bot on loopback with the demo people, and the form a partner fills in.

A test module that moves the bot's clock imports the `clock` and `bot` fixtures from here (they replace
conftest's `bot` there)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import Session, select

from bot.local import local_bot
from storage.models import CrmOutbox
from workflows.services import utc_clock

GOOD_FORM = {  # the form's first step
    "company": "Acme Inc.", "domain": "https://www.acme.com", "contact_name": "Jane Smith",
    "contact_email": "jane@acme.com", "country": "DE", "product_line": "Platform", "estimated_value": "48000",
    "currency": "USD", "pricing_model": "subscription",
}
DETAILS = {  # its optional second step
    "company_size": "201-1000", "budget": "approved", "timeline": "1-3m",
    "notes": "CFO involved; evaluating against two others.",
}


def text_of(message) -> str:
    """Everything a person reads in a message: fallback text plus every text in its blocks."""
    parts = [message.text or ""]

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                parts.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)
    walk(message.blocks)
    return "\n".join(parts)


def desk_message(sandbox, channel_id: str):
    return next(m for m in sandbox.messages(channel_id) if any(b.action_id == "register_lead"
                                                              for b in sandbox.buttons(m)))


def register_via_desk(bot, user_id: str, channel_id: str, form: dict | None = None, details: dict | None = None):
    """A partner clicks Register a lead on the desk, submits the form and then its details step (`details`,
    DETAILS by default; {} skips it); returns the first step's response."""
    desk = desk_message(bot.sandbox, channel_id)
    assert bot.driver.click(user_id, "register_lead", message=(channel_id, desk.ts)).status == 200
    modal = bot.sandbox.open_modal(user_id)
    assert modal is not None and modal.callback_id == "lead_registration"
    first = bot.driver.submit(user_id, modal.id, dict(GOOD_FORM, **(form or {})))
    finish_details(bot, user_id, DETAILS if details is None else details)
    return first


def finish_details(bot, user_id: str, details: dict) -> None:
    """If the details step is open, fill it in and save, or Skip it when `details` is empty."""
    step = bot.sandbox.open_modal(user_id)
    if step is None or step.callback_id != "lead_details":
        return
    if details:
        assert bot.driver.submit(user_id, step.id, details).status == 200
    else:
        assert bot.driver.close(user_id, step.id).status == 200


def copy_to(bot, message, channel: str):
    """The bot's message posted again elsewhere: buttons someone else can press, as a forged request would."""
    blocks = [b.to_dict() if hasattr(b, "to_dict") else b for b in message.blocks]
    posted = bot.sandbox.client().chat_postMessage(channel=channel, text=message.text, blocks=blocks)
    return channel, posted["ts"]


def dm_messages(sandbox, user_id: str):
    return sandbox.messages(sandbox.dm_channel(user_id))


def submit_form_in_production_mode(bot, user_id: str = "U0DANA", channel_id: str = "C0NORTH"):
    """With work after the ack (as in production), wait for each step before the next; fills in the details
    step too; returns the first step's ack."""
    bot.driver.bot_joined(channel_id)
    bot.sandbox.wait_for(lambda: bot.sandbox.messages(channel_id))
    desk = desk_message(bot.sandbox, channel_id)
    bot.driver.click(user_id, "register_lead", message=(channel_id, desk.ts))
    modal = bot.sandbox.wait_for(lambda: bot.sandbox.open_modal(user_id))
    acked = bot.driver.submit(user_id, modal.id, GOOD_FORM)
    finish_details(bot, user_id, DETAILS)
    return acked


class Clock:
    """The bot's clock, moved by the test (the sandbox keeps real time for signatures and triggers)."""

    def __init__(self):
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return utc_clock() + self.offset


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def bot(engine, clock):
    """The bot on `clock`, in both partner channels."""
    with local_bot(engine, process_before_response=True, clock=clock) as running:
        running.driver.bot_joined("C0NORTH")
        running.driver.bot_joined("C0GLOBEX")
        yield running


def registration_thread(bot, channel: str = "C0NORTH", reference: str = "REG-00001"):
    """A registration's thread root in `channel` and the replies under it."""
    root = next(m for m in bot.sandbox.messages(channel) if reference in text_of(m) and not m.thread_ts)
    return root, bot.sandbox.messages(channel, thread_ts=root.ts)


def crm_events(engine, registration_id: int | None = None) -> list[str]:
    """The CRM outbox's events about deals in the order they were queued (of one registration, when given);
    partners' stage rows are left out."""
    query = select(CrmOutbox.event).where(CrmOutbox.partner_id.is_(None)).order_by(CrmOutbox.id)
    if registration_id is not None:
        query = query.where(CrmOutbox.registration_id == registration_id)
    with Session(engine) as session:
        return list(session.exec(query).all())
