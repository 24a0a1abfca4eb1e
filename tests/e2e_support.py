"""Helpers for end-to-end tests: the bot on loopback with the demo people, and the form a partner fills in."""

from __future__ import annotations

GOOD_FORM = {
    "company": "Acme Inc.", "domain": "https://www.acme.com", "contact_name": "Jane Smith",
    "contact_email": "jane@acme.com", "country": "DE", "product_line": "Platform", "estimated_value": "48000",
    "currency": "USD", "pricing_model": "subscription", "company_size": "201-1000", "budget": "approved",
    "timeline": "1-3m", "notes": "CFO involved; evaluating against two others.",
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


def register_via_desk(bot, user_id: str, channel_id: str, form: dict | None = None):
    """A partner clicks Register a lead on the desk and submits the form; returns the submit response."""
    desk = desk_message(bot.sandbox, channel_id)
    assert bot.driver.click(user_id, "register_lead", message=(channel_id, desk.ts)).status == 200
    modal = bot.sandbox.open_modal(user_id)
    assert modal is not None and modal.callback_id == "lead_registration"
    return bot.driver.submit(user_id, modal.id, dict(GOOD_FORM, **(form or {})))


def dm_messages(sandbox, user_id: str):
    return sandbox.messages(sandbox.dm_channel(user_id))


def submit_form_in_production_mode(bot, user_id: str = "U0DANA", channel_id: str = "C0NORTH"):
    """With work after the ack (as in production), wait for each step before the next; returns the ack."""
    bot.driver.bot_joined(channel_id)
    bot.sandbox.wait_for(lambda: bot.sandbox.messages(channel_id))
    desk = desk_message(bot.sandbox, channel_id)
    bot.driver.click(user_id, "register_lead", message=(channel_id, desk.ts))
    modal = bot.sandbox.wait_for(lambda: bot.sandbox.open_modal(user_id))
    return bot.driver.submit(user_id, modal.id, GOOD_FORM)
