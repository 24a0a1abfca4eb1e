"""The accept SLA of upsells: an AE who has not accepted or declined an open upsell within the program's
`upsell.accept_sla_hours` is reminded once, by DM with Accept / Decline; after a second period the partner's
manager (else the first partner manager or admin) is told too, once. Never twice: a reminder's key is the upsell,
its recipient and when the upsell opened, without the period.

The SLA counts from the upsell's last status change (its `updated_at`: flagged, or a duplicate approved), which
only status changes move. It runs on the registrations' mechanism (workflows/reminders.py): due rows by index,
pages, unique Reminder keys, budgeted transactions; a reminded upsell's clock counts again from the start of its
period (storage/sla_clock.py), so a run reads only the upsells whose next period has come, and a run with nothing
due is one indexed query.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from storage import sla_clock
from storage.models import CustomerAccount, Partner, Upsell
from storage.queries import first_program_runner
from storage.upsells import upsell_copy_key, upsell_reminder_prefix, upsell_root_key, upsells_due_reminders
from workflows.reminders import Owed, count_from_their_periods, counted_cursor, owes_nothing, send_due_reminders
from workflows.services import Services

Row = tuple[datetime, Upsell, CustomerAccount, Partner]  # (its SLA clock as read, the upsell, its account, partner)


@dataclass
class UpsellSla:
    """Open upsells waiting longer than the accept SLA (a workflows.reminders.ReminderSource)."""

    services: Services
    now: datetime
    sla: timedelta
    runner: str | None = None  # who is told when a partner has no manager: read once, only when something is due

    def page(self, session: Session, *, after: tuple[datetime, int] | None, limit: int) -> list[Row]:
        rows = upsells_due_reminders(session, self.now - self.sla, after=after, limit=limit)
        if rows and self.runner is None:
            self.runner = first_program_runner(session) or ""
        return rows

    def cursor(self, row: Row) -> tuple[datetime, int]:
        return counted_cursor(row)

    def owed(self, row: Row) -> Owed:
        """The AE once; from the second period, the partner's manager once too."""
        if owes_nothing(row, sla_clock.UPSELL, self.now, self.sla):
            return Owed(0, [])
        _, upsell, _, partner = row
        waited = self.now - upsell.updated_at
        recipients = [upsell.assigned_to_slack_id]
        if waited >= 2 * self.sla:
            recipients.append(partner.manager_slack_id or self.runner)
        stamp = f"{upsell.updated_at:%Y%m%d%H%M%S}"
        return Owed(int(waited.total_seconds() // 3600), [
            (f"{upsell_reminder_prefix(upsell.id)}{recipient}:{stamp}", recipient)
            for recipient in dict.fromkeys(r for r in recipients if r)])

    def reminded(self, rows: list[Row]) -> Callable[[Session], None] | None:
        """Read again one SLA after the period just reminded: for the manager's reminder after the AE's, and after
        that once a period, to find both sent (not at every run)."""
        return count_from_their_periods(sla_clock.UPSELL, rows, self.now, self.sla)

    def link_key(self, row: Row, recipient: str) -> str | None:
        """The thread root in the partner's channel; where it went to a DM, the one the AE has (theirs, or their
        copy of the partner's)."""
        upsell = row[1]
        if upsell.partner_channel_id:
            return upsell_root_key(upsell.id)
        if recipient != upsell.assigned_to_slack_id:
            return None
        return upsell_root_key(upsell.id) if upsell.flagged_by_slack_id == recipient else upsell_copy_key(upsell.id)

    def send(self, session: Session, row: Row, *, key: str, recipient: str, hours_waiting: int,
             link: str | None) -> bool:
        _, upsell, account, partner = row
        self.services.notifier.upsell_overdue(session, upsell, account, partner, recipient=recipient,
                                              hours_waiting=hours_waiting, key=key, link=link)
        return True


def remind_overdue_upsells(services: Services) -> int:
    """Remind AEs of open upsells past the accept SLA (once), then the partner's manager (once); returns how many
    people were reminded."""
    now, sla = services.clock(), timedelta(hours=services.program.upsell.accept_sla_hours)
    return send_due_reminders(services, UpsellSla(services, now, sla), now)
