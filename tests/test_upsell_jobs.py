"""The accept-SLA reminder of upsells costs what is due: a backlog goes in bounded batches, each reminder once, and
nothing due is one indexed query."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event, insert
from sqlmodel import Session, func, select

from storage import sla_clock
from storage.models import (
    CustomerAccount,
    Partner,
    PartnerType,
    Reminder,
    Role,
    SlaClock,
    TeamMember,
    Upsell,
    UpsellStatus,
)
from tests.conftest import FIXED_NOW
from tests.support import RecordingNotifier
from tests.test_jobs_at_scale import Statements, WritesPerTransaction
from tests.test_query_plans import analyze, plans
from workflows.program import Program
from workflows.reminders import BATCH
from workflows.services import Services
from workflows.upsell_reminders import remind_overdue_upsells

DUE = 3_000
SLA = timedelta(hours=Program().upsell.accept_sla_hours)


@pytest.fixture
def services(engine, now):
    return Services(engine=engine, program=Program(), notifier=RecordingNotifier(), clock=lambda: now)


def upsell_row(account_id: int, partner_id: int, i: int, **fields) -> dict:
    """One upsell as a row for a bulk insert; `fields` override the defaults."""
    return dict(account_id=account_id, partner_id=partner_id, flagged_by_slack_id=f"UP{i % 40}",
                signal="plan_upgrade", target="Enterprise", expected_value=Decimal(100), currency="USD",
                recurrence="monthly", timeline="", notes="", status=UpsellStatus.open,
                assigned_to_slack_id=f"UAE{i % 30}", created_at=FIXED_NOW - timedelta(days=400),
                updated_at=FIXED_NOW - timedelta(days=400)) | fields


def store_upsells(engine, rows_for, *, manager: str | None = "UMGR") -> tuple[int, int]:
    """A partner (managed by `manager`), a customer account and the upsells `rows_for(account, partner)` describes."""
    with Session(engine) as session:
        partner = Partner(name="Scale Partners", type=PartnerType.reseller, manager_slack_id=manager)
        account = CustomerAccount(name="Scale Customer", name_key="scale customer")
        session.add_all([partner, account, TeamMember(slack_user_id="URUNNER", name="Runner",
                                                      role=Role.partner_manager)])
        session.commit()
        session.exec(insert(Upsell), params=rows_for(account.id, partner.id))
        sla_clock.start_missing(session)  # the open upsells' clocks, as their status change would have started them
        session.commit()
        return account.id, partner.id


def test_a_backlog_of_upsells_waiting_for_their_ae_goes_in_batches_and_once(engine, services, now):
    waiting = now - SLA - timedelta(hours=1)  # one period: the AE only
    store_upsells(engine, lambda account, partner: [
        upsell_row(account, partner, i, updated_at=waiting - timedelta(seconds=i % 300)) for i in range(DUE)])
    writes = WritesPerTransaction(engine, "INSERT INTO REMINDER")

    assert remind_overdue_upsells(services) == DUE
    assert sum(writes.per_commit) == DUE and max(writes.per_commit) <= BATCH
    commits = []
    event.listen(engine, "commit", commits.append)
    assert remind_overdue_upsells(services) == 0  # never twice
    assert commits == []  # and finding that out takes no write transaction
    calls = Counter(call[:3] for call in services.notifier.calls)
    assert len(calls) == DUE and set(calls.values()) == {1}
    assert {call[2] for call in services.notifier.calls} == {f"UAE{i}" for i in range(30)}


def test_after_a_backlog_a_run_reads_only_the_upsells_whose_next_period_has_come(engine, services, now):
    """A reminded upsell counts from the start of its period: read again one SLA later (for the manager's
    reminder, then to find both sent), not at every run."""
    store_upsells(engine, lambda account, partner: [
        upsell_row(account, partner, i, updated_at=now - SLA * (1.5 if i < 90 else 3.5)) for i in range(120)])
    assert remind_overdue_upsells(services) == 90 + 2 * 30  # the AE; from the second period the manager too
    statements = Statements(engine)
    assert remind_overdue_upsells(services) == 0
    assert len(statements.seen) == 1  # one query, which finds nothing due
    with Session(engine) as session:
        counted = Counter(counts_from - updated_at for updated_at, counts_from in session.exec(
            select(Upsell.updated_at, SlaClock.counts_from).join(SlaClock, SlaClock.row_id == Upsell.id)))
    assert counted == {SLA: 90, 3 * SLA: 30}  # the start of the period each was reminded in

    services.clock = lambda: now + SLA
    assert remind_overdue_upsells(services) == 90  # the first 90 reach their second period: their manager
    assert Counter(call[2] for call in services.notifier.calls)["UMGR"] == 120
    statements = Statements(engine)
    assert remind_overdue_upsells(services) == 0
    assert len(statements.seen) == 1
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Reminder)).one() == 90 + 2 * 30 + 90


def test_after_a_second_period_the_partners_manager_is_told_once_else_a_partner_manager(engine, services, now):
    long_ago = now - 2 * SLA - timedelta(minutes=5)
    account, _ = store_upsells(engine, lambda account, partner: [upsell_row(account, partner, i, updated_at=long_ago)
                                                                 for i in range(120)])
    with Session(engine) as session:  # a second partner, without a manager
        partner = Partner(name="Unmanaged", type=PartnerType.agency)
        session.add(partner)
        session.commit()
        session.exec(insert(Upsell), params=[upsell_row(account, partner.id, 1000, updated_at=long_ago)])
        sla_clock.start_missing(session)
        session.commit()

    assert remind_overdue_upsells(services) == 2 * 121
    told = Counter(call[2] for call in services.notifier.calls)
    assert told["UMGR"] == 120 and told["URUNNER"] == 1
    assert remind_overdue_upsells(services) == 0
    services.clock = lambda: now + 10 * SLA
    assert remind_overdue_upsells(services) == 0
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Reminder)).one() == 2 * 121


def test_nothing_due_is_one_query(engine, services, now):
    store_upsells(engine, lambda account, partner: [
        upsell_row(account, partner, i, status=UpsellStatus.accepted) for i in range(50)]  # old, but answered
        + [upsell_row(account, partner, 50 + i, updated_at=now - timedelta(hours=1)) for i in range(50)])
    statements = Statements(engine)
    assert remind_overdue_upsells(services) == 0
    assert len(statements.seen) == 1


def test_the_waiting_upsells_are_read_by_index(engine, now):
    from storage.upsells import upsells_due_reminders

    statuses = list(UpsellStatus)
    store_upsells(engine, lambda account, partner: [
        upsell_row(account, partner, i, status=statuses[i % len(statuses)],
                   updated_at=now - timedelta(days=i % 900, minutes=i)) for i in range(6000)])
    analyze(engine)
    for after in (None, (now - timedelta(days=30), 5)):
        clocks, rows = plans(engine, lambda s: upsells_due_reminders(s, now - SLA, after=after, limit=50))
        for plan in (clocks, rows):
            assert "SCAN upsell" not in plan and "Seq Scan on upsell" not in plan, plan
            assert "SCAN sla_clock" not in plan and "Seq Scan on sla_clock" not in plan, plan
        if engine.dialect.name == "sqlite":
            assert "ix_sla_clock_due" in clocks and "TEMP B-TREE" not in clocks, clocks


def test_the_upsell_lists_and_app_home_read_by_index(engine, now):
    from storage.actors import Actor, ActorKind
    from storage.lists import upsells_page, upsells_waiting_for

    with Session(engine) as session:
        partners = [Partner(name=f"Partner {n}", type=PartnerType.reseller) for n in range(30)]
        account = CustomerAccount(name="Scale Customer", name_key="scale customer")
        session.add_all([*partners, account])
        session.commit()
        ids, account_id = [p.id for p in partners], account.id
        statuses = list(UpsellStatus)
        session.exec(insert(Upsell), params=[
            upsell_row(account_id, ids[i % 30], i, status=statuses[i % len(statuses)],
                       created_at=now - timedelta(days=i % 900, minutes=i)) for i in range(6000)])
        session.commit()
    analyze(engine)
    reseller = Actor("UP1", "T1", ActorKind.partner, partner_id=ids[1], partner_type=PartnerType.reseller)
    referral = Actor("UP1", "T1", ActorKind.partner, partner_id=ids[1], partner_type=PartnerType.referral)
    ae = Actor("UAE7", "T0", ActorKind.internal, role=Role.ae)
    manager = Actor("UPM", "T0", ActorKind.internal, role=Role.partner_manager)
    queries = {  # name: (the query, the index SQLite should pick)
        "upsells of a partner": (lambda s: upsells_page(s, reseller), "ix_upsell_partner_created"),
        "upsells of a referral partner's person": (lambda s: upsells_page(s, referral), "ix_upsell_flagger_created"),
        "upsells of an AE": (lambda s: upsells_page(s, ae), "ix_upsell_assignee_status_created"),
        "upsells of a partner manager": (lambda s: upsells_page(s, manager), "ix_upsell_status_"),
        "an AE's upsells waiting": (lambda s: upsells_waiting_for(s, ae), "ix_upsell_assignee_status_created"),
    }
    for name, (run, index) in queries.items():
        for plan in plans(engine, run):  # each branch's rows, then each branch's count
            assert "SCAN upsell" not in plan and "Seq Scan on upsell" not in plan, (name, plan)
            if engine.dialect.name == "sqlite":
                assert index in plan, (name, plan)
    with Session(engine) as session:
        page = upsells_page(session, manager)
    assert (len(page.rows), page.total, page.capped) == (5, 6000, False)
    assert [row[0].created_at for row in page.rows] == sorted((row[0].created_at for row in page.rows), reverse=True)
