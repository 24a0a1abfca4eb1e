"""CRM benchmark: Salesforce API calls and wall time to write N approvals, then N attribution changes.

Runs the real writer and the real simple-salesforce client against the local HTTPS Salesforce fake, on a
SQLite file (or DATABASE_URL when set). Usage: `python bench/bench_crm.py [--deals 100000] [--approvals-only]`.
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
from sqlalchemy import insert, select, update  # noqa: E402
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
        partner_ids = [p.id for p in partners]
        # One model builds every column with its defaults; rows are copies of it, bulk-inserted, so seeding
        # 100,000 deals takes seconds rather than minutes of ORM objects.
        template = Registration(**registration_values(
            NOW, partner_id=partner_ids[0], submitted_by_slack_id="U1", contact_email="ada@example.com",
            estimated_value=Decimal("25000"), created_at=NOW, approved_at=NOW,
            protection_expires_at=NOW + timedelta(days=90))).model_dump(exclude={"id"})
        session.execute(insert(Registration), [
            template | {"partner_id": partner_ids[n % PARTNERS], "company": f"Customer {n}",
                        "company_key": f"customer {n}", "domain": f"c{n}.example"}
            for n in range(deals)
        ])
        ids = session.scalars(select(Registration.id).order_by(Registration.id)).all()
        session.execute(insert(CrmOutbox), [
            {"registration_id": i, "event": "approved", "payload": {}, "created_at": NOW, "next_attempt_at": NOW}
            for i in ids
        ])
        session.commit()


def change_attribution(engine) -> None:
    """Every deal becomes co-sell: one `attribution` outbox row each."""
    with Session(engine) as session:
        session.execute(update(Registration).values(attribution=AttributionType.co_sell))
        ids = session.scalars(select(Registration.id).order_by(Registration.id)).all()
        session.execute(insert(CrmOutbox), [
            {"registration_id": i, "event": "attribution", "payload": {}, "created_at": NOW, "next_attempt_at": NOW}
            for i in ids
        ])
        session.commit()


def timed_drain(engine, settings, fake, now) -> tuple[int, float, int]:
    """Drain until the outbox is empty, as the scheduled job would (each drain stops at its batch limit)."""
    calls_before = len(fake.calls)
    started = time.perf_counter()
    written = 0
    while True:
        report = drain_outbox(engine, settings, notify=lambda text: print("notify:", text), now=now)
        assert report.failed == 0 and report.retrying == 0 and report.stopped is None, report
        if not report.considered:
            break
        written += report.written
    return len(fake.calls) - calls_before, time.perf_counter() - started, written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=10_000, help="approvals to write (100000 for issue 7's target)")
    parser.add_argument("--approvals-only", action="store_true", help="skip the attribution-change drain")
    args = parser.parse_args()
    deals = args.deals
    rows = []
    with tempfile.TemporaryDirectory() as folder, FakeSalesforce(Path(folder)) as fake:
        url = os.environ.get("DATABASE_URL") or f"sqlite:///{Path(folder) / 'bench.db'}"
        engine = make_engine(url)
        if not url.startswith("sqlite"):
            SQLModel.metadata.drop_all(engine)
            with engine.begin() as connection:  # else the migrations think the schema is already there
                connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
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
        rows.append((f"{deals:,} approvals (Account, Lead, Opportunity, Partner)", approve_records, approve_calls,
                     approve_time))

        if not args.approvals_only:
            change_attribution(engine)
            change_calls, change_time, _ = timed_drain(engine, settings, fake, NOW + timedelta(minutes=1))
            assert {o["Attribution_Type__c"] for o in fake.records("Opportunity")} == {"co_sell"}
            assert len(fake.records("Opportunity")) == deals  # updated in place, nothing duplicated
            changed_records = 2 * deals  # the Lead and the Opportunity of each deal
            rows.append((f"{deals:,} attribution changes (Lead + Opportunity)", changed_records, change_calls,
                         change_time))
        engine.dispose()

    title = "CRM writes to Salesforce (local HTTPS fake)"
    header = f"{title:<54} {'records':>8} {'API calls':>10} {'naive calls':>12} {'wall time':>10}"
    print(header)
    print("-" * len(header))
    for label, records, calls, seconds in rows:
        print(f"{label:<54} {records:>8,} {calls:>10,} {records:>12,} {seconds:>9.1f}s")
    chunks = -(-deals // 200)
    print(
        f"\nTargets: approvals in at most {2 * chunks + 2:,} API calls (per 200 deals one Composite call for Leads "
        f"and Opportunities and one Partner collection, plus the Account query and create) and under 60 s for "
        f"100,000; attribution changes in at most {chunks + 10:,} (floor {chunks:,}). Naive = one call per record."
    )


if __name__ == "__main__":
    main()
