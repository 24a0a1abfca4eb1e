"""The deal nudges' part of `partnerbot demo`: a quiet approved deal nudged to its AE, its protection about to end
warned in the registration's thread, and the partner's extension request granted.

bot/demo.py calls `play_protection(bot, w)` after the nudges. Time is not waited for: the demo dates the deal back,
as if ten weeks had passed since it was approved.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlmodel import Session

from bot.local import LocalBot
from storage.models import Registration
from workflows.nudge_jobs import send_due_nudges

if TYPE_CHECKING:
    from bot.demo import Walkthrough

INITECH = 3  # REG-00003, Erik's lead, waiting for Bea's review by now


def ten_weeks_pass(bot: LocalBot, registration_id: int) -> None:
    """The demo's time machine: the deal was approved 80 days ago, so 10 of its 90 protected days are left."""
    with Session(bot.engine) as session:
        registration = session.get(Registration, registration_id)
        for name in ("approved_at", "updated_at", "protection_expires_at"):
            setattr(registration, name, getattr(registration, name) - timedelta(days=80))
        session.add(registration)
        session.commit()


def play_protection(bot: LocalBot, w: "Walkthrough") -> None:
    """Bea accepts Initech; ten quiet weeks later she is asked how it stands and Northwind is warned in the thread;
    Dana asks for more time and Bea grants it."""
    w.step("Bea (AE) accepts Erik's Initech lead: protected for 90 days",
           lambda: w.click_in_dm("U0BEA", "review_accept"))
    w.step("Ten weeks pass with no change: the nudge job asks Bea whether Initech is still in play (Still working, "
           "Mark won, Mark lost) and warns Northwind in the registration's thread that its protection ends in 10 "
           "days, with Request extension",
           lambda: (ten_weeks_pass(bot, INITECH), send_due_nudges(bot.services)))
    w.step("Bea presses Still working: kept in the deal's history, and she is asked again only after 21 quiet days",
           lambda: w.click_in_dm("U0BEA", "nudge_still_working"))
    w.step("Dana presses Request extension in the thread: Bea gets Extend / Decline",
           lambda: w.click_in("U0DANA", "C0NORTH", "protection_request_extension"))
    w.step("Bea extends it: 30 more days, once per registration; the history and Salesforce's Opportunity "
           "(Protection_Expires__c) have the new date and Northwind reads it in the thread",
           lambda: w.click_in_dm("U0BEA", "protection_extend"))
