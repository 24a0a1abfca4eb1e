"""The scheduled jobs cost what is due: a backlog goes in bounded batches, nothing due is one indexed query."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event, insert
from sqlmodel import Session, func, select

from storage.models import (Partner, PartnerType, PricingModel, ProcessedEvent, Registration, RegistrationStatus,
                            Reminder, SlaClock)
from handlers.notify import SlackNotifier
from storage.db import transaction
from storage import sla_clock
from storage.queries import record_reminder, reviews_due_reminders
from storage.slack.models import SlackMessage, SlackMessageKind, SlackMessageStatus
from storage.slack.outbox import enqueue_post
from tests.conftest import FIXED_NOW
from tests.support import RecordingNotifier, wait_until
from workflows.decisions import EXPIRY_BATCH, expire_registrations
from workflows.history import record_in_history
from workflows.program import Program
from workflows.reminders import BATCH, ReviewSla, remind_overdue_reviews
from workflows.retention import forget_old_rows
from workflows.services import Services

DUE = 10_000
LONG_AGO = FIXED_NOW - timedelta(days=400)


def registration_row(partner_id: int, i: int, **fields) -> dict:
    """One registration as a row for a bulk insert; `fields` override the defaults."""
    return dict(partner_id=partner_id, submitted_by_slack_id=f"U{i % 50}", company=f"Company {i}",
                company_key=f"company {i}", contact_name="C", contact_email="c@x.io", region="EMEA",
                product_line="core", estimated_value=Decimal(1), currency="USD",
                pricing_model=PricingModel.subscription, company_size="1-10", budget="yes", timeline="now",
                conflict_with=[], score_breakdown={}, created_at=LONG_AGO, updated_at=LONG_AGO) | fields


def store(engine, rows_for) -> int:
    """A partner and the registrations `rows_for(partner_id)` describes; returns the partner's id."""
    with Session(engine) as session:
        partner = Partner(name="Scale Partners", type=PartnerType.reseller, manager_slack_id="UMGR")
        session.add(partner)
        session.commit()
        partner_id = partner.id
        session.exec(insert(Registration), params=rows_for(partner_id))
        sla_clock.start_missing(session)  # the reviews' clocks, as their status change would have started them
        session.commit()
    return partner_id


@pytest.fixture
def services(engine, now):
    return Services(engine=engine, program=Program(), notifier=RecordingNotifier(), clock=lambda: now)


class WritesPerTransaction:
    """Counts rows a statement prefix writes in each committed transaction."""

    def __init__(self, engine, prefix: str):
        self.prefix, self.current, self.per_commit = prefix, 0, []
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)

    def _statement(self, conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(self.prefix):
            self.current += len(parameters) if executemany else 1

    def _commit(self, conn):
        if self.current:
            self.per_commit.append(self.current)
        self.current = 0


class Statements:
    """Counts the statements sent to the database."""

    def __init__(self, engine):
        self.seen: list[str] = []
        event.listen(engine, "before_cursor_execute", lambda *args: self.seen.append(args[2]))


def test_a_backlog_of_expiries_goes_in_batches(engine, services, now):
    store(engine, lambda pid: [registration_row(pid, i, status=RegistrationStatus.approved,
                                                protection_expires_at=now - timedelta(minutes=i % 500 + 1))
                               for i in range(DUE)]
          + [registration_row(pid, DUE + 1, status=RegistrationStatus.approved,
                              protection_expires_at=now + timedelta(days=1))])
    writes = WritesPerTransaction(engine, "UPDATE REGISTRATION")

    assert expire_registrations(services) == DUE

    assert sum(writes.per_commit) == DUE and max(writes.per_commit) <= EXPIRY_BATCH
    assert Counter(call[0] for call in services.notifier.calls) == {"partner_update": DUE}
    with Session(engine) as session:
        statuses = dict(session.exec(select(Registration.status, func.count()).group_by(Registration.status)).all())
    assert statuses == {RegistrationStatus.expired: DUE, RegistrationStatus.approved: 1}


def test_a_backlog_of_overdue_reviews_goes_in_batches_and_once_per_period(engine, services, now):
    waiting = now - timedelta(hours=services.program.approval_sla_hours + 1)  # one period: the reviewer only
    store(engine, lambda pid: [registration_row(pid, i, status=RegistrationStatus.under_review,
                                                assigned_to_slack_id="UAE", updated_at=waiting - timedelta(
                                                    seconds=i % 300)) for i in range(DUE)])
    writes = WritesPerTransaction(engine, "INSERT INTO REMINDER")

    assert remind_overdue_reviews(services) == DUE
    # Two reminders per review: the reviewer's and the partner's notice that it is being chased.
    assert sum(writes.per_commit) == 2 * DUE and max(writes.per_commit) <= 2 * BATCH
    commits = []
    event.listen(engine, "commit", commits.append)
    assert remind_overdue_reviews(services) == 0  # the same period is not reminded twice
    assert commits == []  # and finding that out takes no write transaction (it would hold SQLite's lock)
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Reminder)).one() == 2 * DUE
    assert len([c for c in services.notifier.calls if c[0] == "overdue"]) == DUE


def test_after_a_backlog_a_run_reads_only_the_reviews_whose_next_period_has_come(engine, services, now):
    """Reviews stay overdue until decided; once a period's reminders are sent the job does not read them again
    until their next period: a run with nothing due is one query that finds nothing, however many are overdue."""
    sla = timedelta(hours=services.program.approval_sla_hours)
    store(engine, lambda pid: [registration_row(pid, i, status=RegistrationStatus.under_review,
                                                assigned_to_slack_id="UAE",
                                                updated_at=now - sla * (1 + i % 3) - timedelta(minutes=1 + i))
                               for i in range(90)])
    registrations = WritesPerTransaction(engine, "UPDATE REGISTRATION")
    assert remind_overdue_reviews(services) == 90 + 60  # from the second period, the partner's manager too
    assert registrations.per_commit == []  # the clocks moved: not the registrations, with their many indexes
    statements = Statements(engine)
    assert remind_overdue_reviews(services) == 0
    assert len(statements.seen) == 1
    with Session(engine) as session:
        assert reviews_due_reminders(session, now - sla) == []
        counted = session.exec(select(Registration.updated_at, SlaClock.counts_from)
                               .join(SlaClock, SlaClock.row_id == Registration.id)).all()
    # Each counts from the start of the period just reminded: its next reminder is one SLA after that.
    assert len(counted) == 90
    assert all(counted_from == updated_at + sla * int((now - updated_at) / sla) for updated_at, counted_from in counted)

    services.clock = lambda: now + sla  # the next period has come for every one of them
    assert remind_overdue_reviews(services) == 90 * 2  # the reviewer and the partner's manager, each once


def clock_of(session: Session, registration: Registration):
    return session.get(SlaClock, (sla_clock.REVIEW, registration.id)).counts_from


def test_a_change_to_a_review_starts_its_reminders_count_again_and_a_count_never_overwrites_it(engine, services,
                                                                                               now):
    sla = timedelta(hours=services.program.approval_sla_hours)
    store(engine, lambda pid: [registration_row(pid, 0, status=RegistrationStatus.under_review,
                                                assigned_to_slack_id="UAE", updated_at=now - sla * 1.5)])
    assert remind_overdue_reviews(services) == 1
    with Session(engine) as session:
        registration = session.exec(select(Registration)).one()
        read_updated_at, read_clock = registration.updated_at, clock_of(session, registration)
        assert read_clock == read_updated_at + sla  # the start of its first period
        record_in_history(session, registration, actor_slack_id="UAE", now=now - sla * 0.25, reason="still working it")
        session.commit()
        # A reminder run that read it before the change and moves its clock now leaves it alone: the clock would
        # count from after the change.
        sla_clock.move(session, sla_clock.REVIEW, [(registration.id, read_clock, read_updated_at, now)])
        session.commit()
        assert clock_of(session, registration) == read_clock
    assert remind_overdue_reviews(services) == 0  # a change 12 hours ago: not overdue
    services.clock = lambda: now + sla * 0.6  # the clock comes due; the change is not one period old
    assert remind_overdue_reviews(services) == 0
    with Session(engine) as session:  # read, it now counts from the change
        assert clock_of(session, registration) == now - sla * 0.25
    services.clock = lambda: now + sla
    assert remind_overdue_reviews(services) == 1


def test_a_decided_review_gives_up_its_clock_when_the_job_next_reads_it(engine, services, now):
    """A decision writes nothing to the clocks (it is answered before its ack): the job removes the clock of a
    review that left review when it reads it, once, and sends nothing for it."""
    sla = timedelta(hours=services.program.approval_sla_hours)
    store(engine, lambda pid: [registration_row(pid, i, status=RegistrationStatus.under_review,
                                                assigned_to_slack_id="UAE", updated_at=now - sla * 1.5)
                               for i in range(2)])
    with Session(engine) as session:
        decided, waiting = session.exec(select(Registration).order_by(Registration.id)).all()
        decided.status = RegistrationStatus.approved
        session.add(decided)
        session.commit()
        decided_id, waiting_id = decided.id, waiting.id
    assert remind_overdue_reviews(services) == 1  # the other one
    with Session(engine) as session:
        assert session.exec(select(SlaClock.row_id)).all() == [waiting_id]
    assert {call[1] for call in services.notifier.calls if call[0] == "overdue"} == {waiting_id}
    assert not any(call[1] == decided_id for call in services.notifier.calls)


def test_a_run_racing_another_over_a_reminder_waits_for_it_sends_the_rest_and_each_goes_once(engine, now):
    """Another run has recorded the reviewer's reminder and queued its message, not yet committed: this run waits
    for it (PostgreSQL: on the key; SQLite: for the write lock), skips that reminder, and in the same transaction
    sends the partner's notice: one message per key."""
    services = Services(engine=engine, program=Program(), notifier=SlackNotifier(Program(), lambda: now),
                        clock=lambda: now)
    sla = timedelta(hours=services.program.approval_sla_hours)
    store(engine, lambda pid: [registration_row(pid, 0, status=RegistrationStatus.under_review,
                                                assigned_to_slack_id="UAE", updated_at=now - sla * 1.5)])
    with Session(engine) as session:
        (row,) = reviews_due_reminders(session, now - sla)
    reviewers_key, partners_key = [key for key, _ in ReviewSla(services, now, sla).owed(row).keys]
    result = {}
    with transaction(engine) as other:
        assert record_reminder(other, reviewers_key, now)
        enqueue_post(other, key=reviewers_key, lane="other", channel="UAE", text="the other run's", blocks=[],
                     now=now, new_key=True)
        other.flush()
        racing = threading.Thread(target=lambda: result.update(sent=remind_overdue_reviews(services)))
        racing.start()
        if engine.dialect.name == "postgresql":  # it waits on the key the other run holds
            wait_until(lambda: waiting_on_locks(engine) == 1)
        else:
            time.sleep(0.3)  # it waits for the write lock
        assert racing.is_alive()
    racing.join(timeout=10)
    assert result == {"sent": 0}  # none of our people: the reviewer's was the other run's
    with Session(engine) as session:
        messages = {m.key: m for m in session.exec(select(SlackMessage))}
        assert set(session.exec(select(Reminder.key)).all()) == {reviewers_key, partners_key} == set(messages)
        assert messages[reviewers_key].text == "the other run's"
        assert session.exec(select(SlaClock.counts_from)).one() == now - sla * 0.5  # its period is done


def waiting_on_locks(engine) -> int:
    with engine.connect() as connection:
        return connection.exec_driver_sql("SELECT count(*) FROM pg_locks WHERE NOT granted").scalar_one()


def test_nothing_due_is_one_query(engine, services, now):
    store(engine, lambda pid: [registration_row(pid, i, status=RegistrationStatus.approved,
                                                protection_expires_at=now + timedelta(days=30)) for i in range(50)]
          + [registration_row(pid, 50 + i, status=RegistrationStatus.under_review, updated_at=now)
             for i in range(50)])
    statements = Statements(engine)

    assert expire_registrations(services) == 0
    assert len(statements.seen) == 1
    assert remind_overdue_reviews(services) == 0
    assert len(statements.seen) == 2


def test_a_spent_write_budget_commits_early_and_the_next_transaction_goes_on(engine, services, now, monkeypatch):
    """However slow each write is, a transaction stops at its budget; nothing is skipped or done twice."""
    monkeypatch.setattr("workflows.services.WRITE_BUDGET_SECONDS", 0)  # spent at once: one item per commit
    due = BATCH + 50  # more than a page, so pages are read again after partial ones
    waiting = now - timedelta(hours=services.program.approval_sla_hours + 1)
    store(engine, lambda pid: [registration_row(pid, i, status=RegistrationStatus.under_review,
                                                assigned_to_slack_id="UAE", updated_at=waiting - timedelta(
                                                    seconds=i % 7)) for i in range(due)]
          + [registration_row(pid, due + i, status=RegistrationStatus.approved,
                              protection_expires_at=now - timedelta(minutes=i % 13 + 1)) for i in range(due)])
    reminders = WritesPerTransaction(engine, "INSERT INTO REMINDER")
    assert remind_overdue_reviews(services) == due
    expiries = WritesPerTransaction(engine, "UPDATE REGISTRATION")
    assert expire_registrations(services) == due

    # A reminder per commit (each row owes the reviewer's and the partner's notice: a row is left half done and
    # finished by the next transaction), an expiry per commit.
    assert reminders.per_commit == [1] * (2 * due) and expiries.per_commit == [1] * due
    calls = Counter((call[0], call[1]) for call in services.notifier.calls)
    assert len(calls) == 3 * due and set(calls.values()) == {1}  # each review and each expiry exactly once


def test_old_delivery_keys_and_sent_updates_are_forgotten_in_batches_and_posts_are_kept(engine, services, now):
    old, recent = now - timedelta(days=8), now - timedelta(days=2)
    message = dict(lane="l", channel="C1", text="t", blocks=[], created_at=LONG_AGO, next_attempt_at=LONG_AGO)
    with Session(engine) as session:
        session.exec(insert(ProcessedEvent), params=[
            {"event_id": f"old-{i}", "received_at": old} for i in range(3_000)] + [
            {"event_id": f"recent-{i}", "received_at": recent} for i in range(10)])
        session.exec(insert(SlackMessage), params=[
            message | {"key": f"root-{i}", "kind": SlackMessageKind.post, "status": SlackMessageStatus.sent,
                       "sent_at": LONG_AGO, "sent_channel": "C1", "sent_ts": f"1.{i}"} for i in range(20)] + [
            message | {"key": f"root-{i}~u", "kind": SlackMessageKind.update, "parent_key": f"root-{i}",
                       "status": status, "sent_at": sent_at}
            for i, (status, sent_at) in enumerate([(SlackMessageStatus.sent, now - timedelta(days=31))] * 12 + [
                (SlackMessageStatus.sent, now - timedelta(days=29)), (SlackMessageStatus.pending, None),
                (SlackMessageStatus.failed, LONG_AGO)])])
        session.commit()
    writes = WritesPerTransaction(engine, "DELETE FROM")

    assert forget_old_rows(services) == {"delivery keys": 3_000, "sent updates": 12}
    assert len(writes.per_commit) > 1  # in several short transactions, not one

    with Session(engine) as session:
        assert sorted(session.exec(select(ProcessedEvent.event_id)).all()) == sorted(f"recent-{i}" for i in range(10))
        kept = session.exec(select(SlackMessage.kind, SlackMessage.status)).all()
    # Every post (threads and later updates find their message through it), the recent, pending and failed updates.
    assert Counter(kept) == {(SlackMessageKind.post, SlackMessageStatus.sent): 20,
                             (SlackMessageKind.update, SlackMessageStatus.sent): 1,
                             (SlackMessageKind.update, SlackMessageStatus.pending): 1,
                             (SlackMessageKind.update, SlackMessageStatus.failed): 1}
    commits = []
    event.listen(engine, "commit", commits.append)
    assert forget_old_rows(services) == {"delivery keys": 0, "sent updates": 0}
    assert commits == []  # a day with nothing old takes no write lock
