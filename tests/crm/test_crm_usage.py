"""Recording usage revenue: validation in words people understand, CSV import by row, idempotent re-import."""

from __future__ import annotations

from decimal import Decimal

import pytest
from crm_factories import make_partner, make_registration
from sqlmodel import Session, select

from storage.crm.models import UsageRevenue
from storage.models import CrmOutbox, PricingModel, RegistrationStatus
from workflows.usage import UsageError, import_usage_csv, record_usage


@pytest.fixture
def deals(engine, now):
    with Session(engine) as session:
        partner = make_partner(session)
        usage = make_registration(
            session, partner, now, pricing_model=PricingModel.usage_based, starting_monthly_usage=Decimal("5000")
        )
        flat = make_registration(session, partner, now, company="Flat Fee Co")
        pending = make_registration(
            session,
            partner,
            now,
            company="Pending Co",
            pricing_model=PricingModel.usage_based,
            status=RegistrationStatus.received,
        )
        session.commit()
        return usage.id, flat.id, pending.id


def test_record_usage_queues_a_crm_write(engine, now, deals):
    usage_id, _, _ = deals
    with Session(engine) as session:
        entry = record_usage(
            session,
            registration_id=f"REG-{usage_id:05d}",
            month="2026-11",
            amount="15,000",
            actor_slack_id="U_PM",
            now=now,
        )
        session.commit()
        assert (entry.month, entry.amount) == ("2026-11", Decimal("15000.00"))
        [row] = session.exec(select(CrmOutbox)).all()
        assert (row.event, row.payload, row.urgent) == ("usage", {"month": "2026-11", "amount": "15000.00"}, False)


@pytest.mark.parametrize(
    ("which", "month", "amount", "reason"),
    [
        ("missing", "2026-11", "10", "there is no registration REG-09999"),
        ("flat", "2026-11", "10", "is not usage-based"),
        ("pending", "2026-11", "10", "usage is recorded on approved or won deals"),
        ("usage", "2026-13", "10", "must look like 2026-11"),
        ("usage", "11/2026", "10", "must look like 2026-11"),
        ("usage", "2027-01", "10", "is in the future"),
        ("usage", "2026-10", "-5", "must be positive"),
        ("usage", "2026-10", "0", "must be positive"),
        ("usage", "2026-10", "ten", "is not a number"),
        ("usage", "2026-10", "1.005", "at most two decimals"),
    ],
)
def test_bad_usage_is_refused_and_writes_nothing(engine, now, deals, which, month, amount, reason):
    ids = dict(zip(("usage", "flat", "pending"), deals, strict=True)) | {"missing": 9999}
    with Session(engine) as session:
        with pytest.raises(UsageError, match=reason):
            record_usage(session, registration_id=ids[which], month=month, amount=amount, actor_slack_id="U", now=now)
        assert session.exec(select(CrmOutbox)).all() == [] and session.exec(select(UsageRevenue)).all() == []


def test_csv_import_reports_bad_rows_and_is_idempotent(engine, now, deals):
    usage_id, flat_id, _ = deals
    text = (
        "registration_id,month,amount\n"
        f"{usage_id},2026-09,5000\n"
        f"REG-{usage_id:05d},2026-10,9000\n"
        f"{flat_id},2026-10,100\n"
        f"{usage_id},2026-11,abc\n"
        f"{usage_id},2026-11,15000\n"
    )
    report = import_usage_csv(engine, text, actor_slack_id="U_PM", now=now)
    assert (report.imported, report.unchanged) == (3, 0)
    assert report.errors == [
        (4, "REG-{:05d} is not usage-based (subscription)".format(flat_id)),
        (5, "amount 'abc' is not a number"),
    ]
    again = import_usage_csv(engine, text, actor_slack_id="U_PM", now=now)
    assert (again.imported, again.unchanged, len(again.errors)) == (0, 3, 2)
    changed = import_usage_csv(
        engine, f"registration_id,month,amount\n{usage_id},2026-11,16000\n", actor_slack_id="U_PM", now=now
    )
    assert changed.imported == 1
    with Session(engine) as session:
        months = session.exec(select(UsageRevenue.month, UsageRevenue.amount).order_by(UsageRevenue.month)).all()
        assert [(m, Decimal(str(a))) for m, a in months] == [
            ("2026-09", Decimal("5000")),
            ("2026-10", Decimal("9000")),
            ("2026-11", Decimal("16000")),
        ]
        assert len(session.exec(select(CrmOutbox)).all()) == 4


def test_csv_with_a_wrong_header_is_refused_at_row_one(engine, now):
    report = import_usage_csv(engine, "id,month,value\n1,2026-10,5\n", actor_slack_id="U", now=now)
    assert report.errors == [(1, "header must be registration_id,month,amount (got id,month,value)")]


def test_registration_ids_out_of_range_are_refused_clearly():
    from workflows.usage import UsageError, parse_registration_id

    assert parse_registration_id("REG-00042") == parse_registration_id(" 42 ") == 42
    for bad in ("REG-99999999999", "²", "0", "-1", "REG-"):
        with pytest.raises(UsageError, match="is not a number or REG-00042"):
            parse_registration_id(bad)
