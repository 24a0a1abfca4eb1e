"""The upsell part of `partnerbot demo`: Acme, won earlier in the walkthrough, is now Northwind's customer account;
Northwind flags an expansion from the desk, the owner AE accepts and wins it in the partner's channel, and an
expansion signal in the channel yields one private suggestion. Between them, the partner manager opens Northwind's
card: its lifecycle stage, deals and stage history.

bot/demo.py calls `play_upsells(bot, w)` with its LocalBot and Walkthrough, after the registration flows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlmodel import Session, select

from bot.local import LocalBot
from storage.models import CustomerAccount

if TYPE_CHECKING:
    from bot.demo import Walkthrough

UPSELL_FORM = {"signal": "more_seats", "target": "Enterprise", "expected_value": "2,500", "currency": "USD",
               "recurrence": "monthly", "timeline": "1-3m",
               "notes": "Acme's ops team doubles in January; they asked us about SSO and more seats."}
SIGNAL_MESSAGE = "Heads-up: Acme Inc. is hitting the limit of their plan again, they want more seats next month."


def _acme(bot: LocalBot) -> int:
    with Session(bot.engine) as session:
        return session.exec(select(CustomerAccount.id).where(CustomerAccount.domain == "acme.com")).one()


def play_upsells(bot: LocalBot, w: Walkthrough) -> None:
    driver, sandbox = bot.driver, bot.sandbox

    def flag(values: dict) -> None:
        modal = sandbox.open_modal("U0DANA")
        driver.submit("U0DANA", modal.id, values)

    w.step("Acme was won for Northwind, so it is now a customer account with Northwind attached and Platform as "
           "its landing zone. Dana clicks Flag an upsell on the partner desk",
           lambda: w.click_in("U0DANA", "C0NORTH", "flag_upsell"))
    w.step("Dana types “ac” for the account: only Northwind's customers are listed",
           lambda: w.type_in_select("U0DANA", "account", "ac"))
    w.step("Dana flags more seats on the Enterprise plan, 2,500 USD a month: stored at once, and the upsell's "
           "thread in Northwind's channel mentions Alex, Acme's owner",
           lambda: flag(dict(UPSELL_FORM, account=str(_acme(bot)))))
    w.step("Alex accepts in the thread: the partner sees it, and an expansion Opportunity is queued for the CRM",
           lambda: w.click_in("U0ALEX", "C0NORTH", "upsell_accept"))
    w.step("Alex marks it won for 3,000 USD a month (prefilled with the 2,500 expected)",
           lambda: (w.click_in("U0ALEX", "C0NORTH", "upsell_won"),
                    w.submit_form("U0ALEX", {"final_amount": "3,000"})))
    w.step("Priya opens Northwind's partner card: its lifecycle stage and since when, its deals and the won "
           "upsell, its lead-to-close ratio and every stage change with who made it",
           lambda: driver.command("U0PRIYA", "/partner", "show Northwind"))
    w.step("Expansion signals are on in this demo: Dana writes in Northwind's channel that Acme wants more seats; "
           "only she gets a private suggestion, once a day per account",
           lambda: (driver.post("U0DANA", "C0NORTH", SIGNAL_MESSAGE),
                    driver.post("U0DANA", "C0NORTH", "Acme Inc. also asked about more seats for finance.")))
