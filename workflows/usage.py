"""Recording monthly revenue of usage-based deals, one at a time or from a CSV file, with a CRM write each."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from storage.crm.models import UsageRevenue
from storage.models import CrmOutbox, PricingModel, Registration, RegistrationStatus

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
MAX_AMOUNT = Decimal("999999999999.99")  # what Numeric(14, 2) holds
USAGE_STATUSES = (RegistrationStatus.approved, RegistrationStatus.won)
CSV_COLUMNS = ("registration_id", "month", "amount")


class UsageError(ValueError):
    """Usage cannot be recorded; the message says why in words a partner manager understands."""


@dataclass
class UsageImportReport:
    """Outcome of a CSV import: rows written, rows already up to date, and bad rows by row number."""

    imported: int = 0
    unchanged: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


def parse_registration_id(text: str | int) -> int:
    """`42`, `REG-00042` or `reg-42` -> 42."""
    cleaned = str(text).strip().upper().removeprefix("REG-")
    if not (cleaned.isascii() and cleaned.isdecimal()) or not 0 < int(cleaned) < 2**31:
        raise UsageError(f"registration id {str(text)[:40]!r} is not a number or REG-00042")
    return int(cleaned)


def parse_month(text: str, *, now: datetime) -> str:
    """A month as YYYY-MM, not in the future."""
    month = str(text).strip()
    if not MONTH.match(month):
        raise UsageError(f"month {month!r} must look like 2026-11 (YYYY-MM)")
    if month > f"{now.year:04d}-{now.month:02d}":
        raise UsageError(f"month {month} is in the future")
    return month


def parse_amount(text: str | Decimal | int | float) -> Decimal:
    """A positive amount with at most two decimals; thousands separators are allowed."""
    try:
        amount = Decimal(str(text).strip().replace(",", "").replace("_", ""))
    except InvalidOperation:
        raise UsageError(f"amount {str(text)!r} is not a number") from None
    if not amount.is_finite() or amount <= 0:
        raise UsageError(f"amount {str(text)!r} must be positive")
    if amount > MAX_AMOUNT or amount != amount.quantize(Decimal("0.01")):
        raise UsageError(f"amount {str(text)!r} must have at most two decimals and stay below a trillion")
    return amount.quantize(Decimal("0.01"))


def record_usage(
    session: Session,
    *,
    registration_id: int | str,
    month: str,
    amount: str | Decimal | int | float,
    actor_slack_id: str,
    now: datetime,
) -> UsageRevenue:
    """Record one month of revenue for a usage-based deal and queue its CRM write (the caller commits)."""
    return _upsert_usage(session, registration_id, month, amount, actor_slack_id, now)[0]


def _upsert_usage(session, registration_id, month, amount, actor_slack_id, now) -> tuple[UsageRevenue, bool]:
    """Validate everything first, so a refused row writes nothing; returns the entry and whether it changed."""
    reg_id = parse_registration_id(registration_id)
    registration = session.get(Registration, reg_id)
    if registration is None:
        raise UsageError(f"there is no registration REG-{reg_id:05d}")
    if registration.pricing_model != PricingModel.usage_based:
        raise UsageError(f"{registration.reference} is not usage-based ({registration.pricing_model})")
    if registration.status not in USAGE_STATUSES:
        raise UsageError(
            f"{registration.reference} is {registration.status}: usage is recorded on approved or won deals"
        )
    month, amount = parse_month(month, now=now), parse_amount(amount)
    entry = session.exec(
        select(UsageRevenue).where(UsageRevenue.registration_id == reg_id, UsageRevenue.month == month)
    ).first()
    if entry is not None and Decimal(str(entry.amount)) == amount:
        return entry, False  # the same figure again: nothing changes, nothing to send
    if entry is None:
        entry = UsageRevenue(
            registration_id=reg_id, month=month, amount=amount, recorded_by_slack_id=actor_slack_id, recorded_at=now
        )
    else:
        entry.amount, entry.recorded_by_slack_id, entry.recorded_at = amount, actor_slack_id, now
    session.add(entry)
    session.add(
        CrmOutbox(
            registration_id=reg_id,
            event="usage",
            payload={"month": month, "amount": str(amount)},
            created_at=now,
            next_attempt_at=now,
        )
    )
    session.flush()
    return entry, True


def import_usage_csv(
    engine: Engine,
    source: Path | str,
    *,
    actor_slack_id: str,
    now: datetime,
    on_progress: Callable[[int, int], object] | None = None,
) -> UsageImportReport:
    """Import `registration_id,month,amount` rows; bad rows are reported by row number, good ones written.

    Row numbers count the header as row 1, as a spreadsheet shows them. Importing the same file twice
    changes nothing the second time.
    """
    text = Path(source).read_text(encoding="utf-8-sig") if isinstance(source, Path) else source
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip() for name in reader.fieldnames or []]
    report = UsageImportReport()
    if set(CSV_COLUMNS) - set(header):
        report.errors.append((1, f"header must be {','.join(CSV_COLUMNS)} (got {','.join(header) or 'nothing'})"))
        return report
    rows = list(reader)
    with Session(engine, expire_on_commit=False) as session:
        for number, row in enumerate(rows, start=2):
            values = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None}
            try:
                _, changed = _upsert_usage(
                    session,
                    values.get("registration_id", ""),
                    values.get("month", ""),
                    values.get("amount", ""),
                    actor_slack_id,
                    now,
                )
                if changed:
                    report.imported += 1
                else:
                    report.unchanged += 1
            except UsageError as exc:
                report.errors.append((number, str(exc)))
            if on_progress:
                on_progress(number - 1, len(rows))
        session.commit()
    return report
