"""The nudges' part of `partnerbot demo`: a stalled partner nudged in its channel, snoozed, and seen on its card.

bot/demo.py calls `play_nudges(bot, w)` after the other flows. Time is not waited for: the demo dates Globex's
stage back, as if weeks had passed (the outbox sends on the real clock, so the nudge job keeps it too).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlmodel import Session, select

from bot.local import LocalBot
from storage.models import Partner, Registration
from workflows.nudge_jobs import send_due_nudges

if TYPE_CHECKING:
    from bot.demo import Walkthrough


def weeks_pass(bot: LocalBot, partner_name: str, days: int) -> None:
    """The demo's time machine: the partner's stage and registrations are dated `days` earlier than they were."""
    with Session(bot.engine) as session:
        partner = session.exec(select(Partner).where(Partner.name == partner_name)).one()
        partner.stage_since -= timedelta(days=days)
        session.add(partner)
        for registration in session.exec(select(Registration).where(Registration.partner_id == partner.id)):
            registration.created_at -= timedelta(days=days)
            session.add(registration)
        session.commit()


def play_nudges(bot: LocalBot, w: "Walkthrough") -> None:
    """Priya restarts Globex's onboarding; weeks later it has registered nothing and is nudged; Bob snoozes."""
    driver = bot.driver
    w.step("Priya restarts Globex's onboarding with a new team: /partner stage moves it back to onboarded "
           "(people may move partners backwards; rules never do)",
           lambda: driver.command("U0PRIYA", "/partner", "stage Globex onboarded new team at Globex, onboarding "
                                                         "again"))
    w.step("The nudge job runs (every 15 minutes): Globex, onboarded now, is welcomed in its channel with how to "
           "register a lead and the desk", lambda: send_due_nudges(bot.services))
    w.step("Three weeks pass and Globex registers nothing: the nudge job (every 15 minutes) finds it stalled and "
           "nudges it in its channel with Register a lead, in working hours (this demo's program allows every "
           "hour; by default Monday-Friday 09:00-17:00 in the recipient's time zone)",
           lambda: (weeks_pass(bot, "Globex Referrals", days=21), send_due_nudges(bot.services)))
    w.step("Bob (Globex, external) presses Snooze 7 days: stored with who pressed it, and the nudge says so",
           lambda: w.click_in("U0BOB", "C0GLOBEX", "nudge_snooze"))
    w.step("The job runs again: nothing is sent twice", lambda: send_due_nudges(bot.services))
    w.step("Priya opens Globex's partner card: its stage, since when, and the nudges sent and answered",
           lambda: driver.command("U0PRIYA", "/partner", "show Globex"))
