"""CRM benchmark: Salesforce API calls and wall time to write 10,000 attribution changes, beside the naive count.

Runs the real writer and the real simple-salesforce client against the local HTTPS Salesforce fake, on a
SQLite file (or DATABASE_URL when set). Usage: `python bench/bench_crm.py [--deals 10000]`.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from salesforce_fake import FakeSalesforce  # noqa: E402
from tests.crm.crm_factories import registration_values  # noqa: E402
from sqlalchemy import update  # noqa: E402
from sqlmodel import Session, SQLModel  # noqa: E402

import storage.crm  # noqa: E402,F401  (registers the CRM tables)
from bot.settings import load_settings  # noqa: E402
from storage.crm.writer import drain_outbox  # noqa: E402
from storage.db import create_schema, make_engine  # noqa: E402
from storage.models import (  # noqa: E402
    AttributionType,
    CrmOutbox,
    Partner,
    PartnerType,
    Registration,
)

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=timezone.utc)
PARTNERS = 20


def seed(engine, deals: int) -> None:
    """Approved registrations spread over partners, each with its pending `approved` outbox row."""
    with Session(engine) as session:
        partners = [
            Partner(name=f"Partner {n}", type=PartnerType.reseller, domain=f"partner{n}.example")
            for n in range(PARTNERS)
        ]
        session.add_all(partners)
        session.flush()
        registrations = [
            Registration(**registration_values(
                NOW, partner_id=partners[n % PARTNERS].id, submitted_by_slack_id="U1", company=f"Customer {n}",
                company_key=f"customer {n}", domain=f"c{n}.example", contact_email="ada@example.com",
                estimated_value=Decimal("25000"), created_at=NOW, approved_at=NOW,
                protection_expires_at=NOW + timedelta(days=90)))
            for n in range(deals)
        ]
        session.add_all(registrations)
        session.flush()
        session.add_all(
            CrmOutbox(registration_id=r.id, event="approved", created_at=NOW, next_attempt_at=NOW)
            for r in registrations
        )
        session.commit()


def change_attribution(engine) -> None:
    """Every deal becomes co-sell: one `attribution` outbox row each."""
    with Session(engine) as session:
        session.exec(update(Registration).values(attribution=AttributionType.co_sell))
        ids = session.exec(Registration.__table__.select().with_only_columns(Registration.id)).scalars().all()
        session.add_all(
            CrmOutbox(registration_id=i, event="attribution", created_at=NOW, next_attempt_at=NOW) for i in ids
        )
        session.commit()


def timed_drain(engine, settings, fake, now) -> tuple[int, float, int]:
    calls_before = len(fake.calls)
    started = time.perf_counter()
    report = drain_outbox(engine, settings, notify=lambda text: print("notify:", text), now=now)
    elapsed = time.perf_counter() - started
    assert report.failed == 0 and report.retrying == 0 and report.stopped is None, report
    return len(fake.calls) - calls_before, elapsed, report.written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=10_000)
    deals = parser.parse_args().deals
    with tempfile.TemporaryDirectory() as folder, FakeSalesforce(Path(folder)) as fake:
        url = os.environ.get("DATABASE_URL") or f"sqlite:///{Path(folder) / 'bench.db'}"
        engine = make_engine(url)
        if not url.startswith("sqlite"):
            SQLModel.metadata.drop_all(engine)
        create_schema(engine)
        settings = load_settings(
            database_url=url,
            salesforce_instance_url=fake.base_url,
            salesforce_access_token=fake.access_token,
            salesforce_ca_bundle=fake.ca_bundle,
            _env_file=None,
        )
        seed(engine, deals)
        approve_calls, approve_time, _ = timed_drain(engine, settings, fake, NOW)
        approve_records = sum(len(fake.records(s)) for s in ("Account", "Lead", "Opportunity", "Partner"))
        assert len(fake.records("Opportunity")) == len(fake.records("Partner")) == deals

        change_attribution(engine)
        change_calls, change_time, _ = timed_drain(engine, settings, fake, NOW + timedelta(minutes=1))
        assert {o["Attribution_Type__c"] for o in fake.records("Opportunity")} == {"co_sell"}
        assert len(fake.records("Opportunity")) == deals  # updated in place, nothing duplicated
        changed_records = 2 * deals  # the Lead and the Opportunity of each deal
        engine.dispose()

    rows = [
        (
            f"{deals:,} attribution changes (Lead + Opportunity)",
            changed_records,
            change_calls,
            changed_records,
            change_time,
        ),
        (
            f"{deals:,} approvals (Account, Lead, Opportunity, Partner)",
            approve_records,
            approve_calls,
            approve_records,
            approve_time,
        ),
    ]
    title = "CRM writes to Salesforce (local HTTPS fake)"
    header = f"{title:<54} {'records':>8} {'API calls':>10} {'naive calls':>12} {'wall time':>10}"
    print(header)
    print("-" * len(header))
    for label, records, calls, naive, seconds in rows:
        print(f"{label:<54} {records:>8,} {calls:>10,} {naive:>12,} {seconds:>9.1f}s")
    print(
        f"\nTarget: at most 60 API calls for {deals:,} attribution changes (floor with 200-record collections: "
        f"{-(-deals // 200)}). Naive = one API call per record."
    )


if __name__ == "__main__":
    main()
