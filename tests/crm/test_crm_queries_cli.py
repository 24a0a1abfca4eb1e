"""Reading pipeline back from Salesforce, and the `partnerbot crm` commands."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from crm_factories import make_partner, make_registration, queue
from sqlmodel import Session
from typer.testing import CliRunner

from bot.cli_crm import crm_app
from storage.crm.client import build_salesforce
from storage.crm.queries import PeriodFigures, direct_pipeline_and_won, summarize_by_period
from storage.models import PricingModel


def test_summary_by_month_and_quarter():
    rows = [
        {"Amount": 1000, "CloseDate": "2026-10-05", "IsClosed": False, "IsWon": False},
        {"Amount": 2500.5, "CloseDate": "2026-10-20", "IsClosed": True, "IsWon": True},
        {"Amount": 700, "CloseDate": "2026-11-01", "IsClosed": True, "IsWon": False},
        {"Amount": None, "CloseDate": "2026-12-31", "IsClosed": False, "IsWon": False},
    ]
    assert summarize_by_period(rows) == [
        PeriodFigures("2026-10", Decimal("1000"), 1, Decimal("2500.5"), 1),
        PeriodFigures("2026-11", Decimal("0"), 0, Decimal("0"), 0),  # lost: neither pipeline nor won
        PeriodFigures("2026-12", Decimal("0"), 1, Decimal("0"), 0),
    ]
    [quarter] = summarize_by_period(rows, "quarter")
    assert (quarter.period, quarter.open_pipeline, quarter.open_count, quarter.won_revenue) == (
        "2026-Q4",
        Decimal("1000"),
        2,
        Decimal("2500.5"),
    )


def test_direct_pipeline_leaves_partner_deals_out(fake, sf_settings):
    partner_account = fake.add_record("Account", {"Name": "Partner"})
    for name, stage, amount, close in [
        ("Direct open", "Prospecting", 1000, "2026-11-10"),
        ("Direct won", "Closed Won", 4000, "2026-11-20"),
        ("Direct old", "Closed Won", 9000, "2025-01-01"),
    ]:
        fake.add_record("Opportunity", {"Name": name, "StageName": stage, "Amount": amount, "CloseDate": close})
    fake.add_record(
        "Opportunity",
        {
            "Name": "Partner won",
            "StageName": "Closed Won",
            "Amount": 5000,
            "CloseDate": "2026-11-15",
            "Partner_Account__c": partner_account,
            "Attribution_Type__c": "partner_sourced",
            "Partnerbot_Id__c": "REG-00001",
        },
    )
    figures = direct_pipeline_and_won(build_salesforce(sf_settings), start=date(2026, 1, 1), end=date(2026, 12, 31))
    assert figures == [PeriodFigures("2026-11", Decimal("1000"), 1, Decimal("4000"), 1)]


def test_cli_sync_status_retry_and_usage_import(engine, now, cli_env, tmp_path):
    with Session(engine) as session:
        partner = make_partner(session)
        reg = make_registration(
            session, partner, now, pricing_model=PricingModel.usage_based, starting_monthly_usage=Decimal("5000")
        )
        queue(session, reg, "approved", now)
        ref, reg_id = reg.reference, reg.id
        session.commit()
    runner = CliRunner()
    csv_file = tmp_path / "usage.csv"
    csv_file.write_text(f"registration_id,month,amount\n{reg_id},2026-10,15000\n{reg_id},2026-13,1\n")
    result = runner.invoke(crm_app, ["usage", "import", str(csv_file)])
    assert result.exit_code == 1 and "Imported 1 row(s)" in result.output and "row 3: month '2026-13'" in result.output

    result = runner.invoke(crm_app, ["sync"])
    assert result.exit_code == 0, result.output
    assert "local mirror" in result.output and "2 written" in result.output

    result = runner.invoke(crm_app, ["status"])
    assert "not configured (local mirror only)" in result.output
    assert "Pending: 2 (0 waiting to retry, 2 already in the local mirror)" in result.output
    result = runner.invoke(crm_app, ["status", "--registration", ref])
    assert "Attribution_Type__c" in result.output and "partner_sourced" in result.output
    assert "Current_Monthly_Revenue__c" in result.output and "15000.0" in result.output

    result = runner.invoke(crm_app, ["retry", ref])
    assert result.exit_code == 0 and "Re-queued 0" in result.output
