"""The partner's part of `partnerbot demo`: a status question, the SLA notice, Add an update, Edit, My deals with
search, the desk posted again, Withdraw.

bot/demo.py calls `play_partner_tools(bot, w)` with its LocalBot and Walkthrough, after the other flows.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.local import LocalBot
from workflows.reminders import remind_overdue_reviews

if TYPE_CHECKING:
    from bot.demo import Walkthrough

PARTNER_FORM = {
    "company": "Vandelay Industries", "domain": "vandelay.com", "contact_name": "Art Vandelay",
    "contact_email": "art@vandelay.com", "country": "US", "product_line": "Platform", "estimated_value": "36,000",
    "currency": "USD", "pricing_model": "subscription", "company_size": "51-200", "budget": "identified",
    "timeline": "3-6m", "notes": "Importer-exporter; wants a pilot first.",
}


def fill_form(bot: LocalBot, user_id: str, values: dict) -> None:
    """Submit each step of the open form with the values it has inputs for (it has one or two steps)."""
    for _ in range(3):
        modal = bot.sandbox.open_modal(user_id)
        if modal is None:
            return
        inputs = {b.get("block_id") for b in modal.blocks if b.get("type") == "input"}
        bot.driver.submit(user_id, modal.id, {k: v for k, v in values.items() if k in inputs})


def play_partner_tools(bot: LocalBot, w: Walkthrough) -> None:
    """A partner's week: register, ask the status, hear the SLA was missed, add an update, correct the
    registration, search its deals, get the desk back, withdraw one."""
    driver, sandbox = bot.driver, bot.sandbox

    def thread_root(company: str):
        return next(m for m in reversed(sandbox.messages("C0NORTH"))
                    if company in m.text and not m.thread_ts and sandbox.buttons(m))

    w.step("Dana registers Vandelay Industries; its thread root carries a Withdraw button",
           lambda: (w.click_in("U0DANA", "C0NORTH", "register_lead"), fill_form(bot, "U0DANA", PARTNER_FORM)))
    w.step("Dana mentions the bot: “status of Vandelay?” is answered privately, through her own permissions",
           lambda: driver.mention("U0DANA", "C0NORTH", "status of Vandelay?"))
    later = replace(bot.services, clock=lambda: bot.services.clock() + timedelta(hours=49))
    w.step("Two days pass without a decision (the job runs with its clock moved on): the reviewer is reminded, "
           "and Northwind is told in the thread that we are chasing it",
           lambda: remind_overdue_reviews(later))
    w.step("Dana adds an update for the AE: it is stored, shown in the thread and sent to the AE",
           lambda: (driver.click("U0DANA", "deal_add_update", message=("C0NORTH", thread_root("Vandelay").ts)),
                    w.submit_form("U0DANA", {"notes": "Their CFO approved the pilot budget this morning."})))
    w.step("Dana corrects the registration with Edit (the form shows what she registered): the value is 42,000 "
           "and the contact is Kel Varnsen. The thread says what changed, the AE's review is closed and the "
           "lead is checked, scored and routed again",
           lambda: (driver.click("U0DANA", "deal_edit", message=("C0NORTH", thread_root("Vandelay").ts)),
                    w.submit_form("U0DANA", {"estimated_value": "42,000", "contact_name": "Kel Varnsen",
                                             "contact_email": "kel@vandelay.com"})))
    w.step("Dana opens My deals: status, protection expiry, the AE and the last update of each deal",
           lambda: w.click_in("U0DANA", "C0NORTH", "my_deals"))
    w.step("Priya searches the deals she can see for “vandelay” (paging keeps the search)",
           lambda: driver.command("U0PRIYA", "/partner", "deals vandelay"))
    w.step("The desk has scrolled away: Dana (external, no slash commands) mentions the bot with “desk”",
           lambda: driver.mention("U0DANA", "C0NORTH", "can you post the desk again?"))
    w.step("The customer buys direct: Dana withdraws the registration with a reason; the AE's review message is "
           "settled, the AE is told, the thread says so, and the CRM hears it",
           lambda: (driver.click("U0DANA", "deal_withdraw", message=("C0NORTH", thread_root("Vandelay").ts)),
                    w.submit_form("U0DANA", {"reason": "They decided to buy direct after the pilot talk."})))
