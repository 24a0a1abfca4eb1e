"""With thousands of rows and fresh statistics, the hot queries find registrations by index, not by a scan."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import event, insert, update
from sqlmodel import Session, select

from storage.actors import Actor, ActorKind
from storage.conflict_index import index_unindexed
from storage.db import optimize
from storage.models import Partner, PartnerStage, PartnerType, PricingModel, Registration, RegistrationStatus, Role
from storage.models import ProcessedEvent
from storage.nudges.deals import expiring_registrations, stalled_registrations
from storage.nudges.managers import Stuck, stuck_counts
from storage.nudges.models import Nudge
from storage.nudges.partners import partners_without_registration, quiet_partners
from storage.nudges.qbr import quarter_closed, quarter_registrations
from storage.retention import old_delivery_keys, old_sent_updates
from storage.queries import (
    active_registrations_like,
    count_visible_registrations,
    home_registrations,
    partner_record,
    registrations_due_to_expire,
    reviews_due_reminders,
    similar_key_candidates,
    visible_registrations,
)
from storage.slack.models import SlackMessage, SlackMessageKind, SlackMessageStatus
from storage.slack.outbox import enqueue_update, fail_dependents
from tests.test_jobs_at_scale import registration_row, store
from workflows.conflicts import similarity_bound

ROWS = 6000
PARTNERS = 30
CLOSED = [RegistrationStatus.won, RegistrationStatus.lost, RegistrationStatus.rejected, RegistrationStatus.expired]


@pytest.fixture
def filled(engine, now):
    """Years of registrations, most of them closed, as a busy program has."""
    rng = random.Random(3)

    with Session(engine) as session:
        partners = [Partner(name=f"Partner {n}", type=PartnerType.reseller) for n in range(PARTNERS)]
        session.add_all(partners)
        session.commit()
        ids = [p.id for p in partners]

    def rows(_):
        out = []
        for i in range(ROWS):
            created = now - timedelta(days=rng.randrange(0, 1500), minutes=i)
            status = rng.choice(CLOSED) if rng.random() < 0.9 else rng.choice(
                [RegistrationStatus.approved, RegistrationStatus.under_review, RegistrationStatus.received])
            out.append(registration_row(
                ids[i % PARTNERS], i, submitted_by_slack_id=f"UP{i % 300}", assigned_to_slack_id=f"UAE{i % 200}",
                company_key="".join(rng.choice("abcdefghijklmnopqrstuvwxyz ") for _ in range(rng.randint(3, 25))),
                domain=f"d{i}.com", status=status, created_at=created, updated_at=created,
                protection_expires_at=created + timedelta(days=90) if status != RegistrationStatus.received else None))
        return out

    store(engine, rows)
    with Session(engine) as session:  # what change_status does for each registration stored one by one
        index_unindexed(session)
        session.commit()
    analyze(engine)
    return ids[1]


def analyze(engine) -> None:
    """Fresh planner statistics, as the worker keeps them."""
    if engine.dialect.name == "sqlite":
        optimize(engine)
    else:
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")


def statements(engine, run) -> list[tuple[str, object]]:
    """Every query `run(session)` sends, with its parameters (not a SET or BEGIN)."""
    sent = []

    def listener(conn, cursor, statement, parameters, context, many):
        if not statement.lstrip().upper().startswith(("SET", "BEGIN")):
            sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", listener)
    with Session(engine) as session:
        run(session)
    event.remove(engine, "before_cursor_execute", listener)
    return sent


def plans(engine, run) -> list[str]:
    """The plan of every query `run(session)` sends (not of a SET or BEGIN, which have none)."""
    sent = statements(engine, run)
    explain = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    with engine.connect() as connection:
        return ["\n".join(str(row[-1]) for row in connection.exec_driver_sql(explain + statement, parameters))
                for statement, parameters in sent]


def assert_indexed(plan: str) -> None:
    # SQLite: SEARCH is an index lookup, a bare SCAN reads the whole table (or walks a whole index).
    for table in ("registration", "conflict_trigram"):
        assert f"SCAN {table}" not in plan and f"Seq Scan on {table}" not in plan, plan
    # The SLA clocks here are a few hundred (the reviews among the open registrations): PostgreSQL rightly reads
    # their two pages whole; SQLite's plan must still search them.
    assert "SCAN sla_clock" not in plan, plan
    assert any(table in plan for table in ("registration", "conflict_trigram", "sla_clock")), plan


def test_hot_queries_use_an_index(engine, now, filled):
    partner_id = filled
    reseller = Actor("UP1", "T1", ActorKind.partner, partner_id=partner_id, partner_type=PartnerType.reseller)
    referral = Actor("UP1", "T1", ActorKind.partner, partner_id=partner_id, partner_type=PartnerType.referral)
    ae = Actor("UAE7", "T0", ActorKind.internal, role=Role.ae)
    queries = {  # name: (the query, the index SQLite should pick with these statistics)
        "deals of a partner": (lambda s: visible_registrations(s, reseller), "ix_registration_partner_created"),
        "deals of a referral partner's person": (lambda s: visible_registrations(s, referral),
                                                 "ix_registration_submitter_created"),
        "deals of an AE": (lambda s: visible_registrations(s, ae), "ix_registration_assignee_created"),
        "deal count of a partner": (lambda s: count_visible_registrations(s, reseller), "partner"),
        "an AE's home": (lambda s: home_registrations(s, ae), "ix_registration_assignee_created"),
        "a partner's record": (lambda s: partner_record(s, partner_id), "partner"),
        "expiry due": (lambda s: registrations_due_to_expire(s, now, limit=200, lock=False),
                       "ix_registration_status_expires"),
        "reviews with reminders due": (lambda s: reviews_due_reminders(s, now - timedelta(hours=48), limit=200),
                                       "ix_sla_clock_due"),
        "reviews with reminders due, a later page": (lambda s: reviews_due_reminders(
            s, now - timedelta(hours=48), after=(now - timedelta(days=30), 5), limit=200),
            "ix_sla_clock_due"),  # bounded by the due time: what is behind the cursor was
        # reminded and now counts from later, out of the range
        "stalled deals": (lambda s: stalled_registrations(s, quiet_since=now - timedelta(days=21), after=None,
                                                          limit=100), "ix_registration_status_updated"),
        "stalled deals, a later page": (lambda s: stalled_registrations(
            s, quiet_since=now - timedelta(days=21), after=(now - timedelta(days=300), 5), limit=100),
            "ix_registration_status_updated (status=? AND updated_at>?"),
        "protection ending": (lambda s: expiring_registrations(s, now=now, until=now + timedelta(days=14), after=None,
                                                               limit=100), "ix_registration_status_expires"),
        "protection ending, a later page": (lambda s: expiring_registrations(
            s, now=now, until=now + timedelta(days=14), after=(now + timedelta(days=3), 5), limit=100),
            "ix_registration_status_expires"),
        "exact conflicts": (lambda s: active_registrations_like(s, domain="d5.com", key="acme", now=now,
                                                                window_days=90), "ix_registration_company_key"),
        "a partner's quarter, registered": (lambda s: quarter_registrations(s, partner_id, now - timedelta(days=90),
                                                                            now), "ix_registration_partner_created"),
        "a partner's quarter, closed": (lambda s: quarter_closed(s, partner_id, now - timedelta(days=90), now),
                                        "ix_registration_partner_status_closed"),
        "fuzzy candidates": (lambda s: similar_key_candidates(
            s, numbers="", bound=similarity_bound("northwind traders", 90), now=now, window_days=90),
            "conflict_trigram USING PRIMARY KEY"),
    }
    for name, (run, index) in queries.items():
        plan, *later = plans(engine, run)  # the fuzzy candidates (reminders due): their ids, then their rows by id
        for each in (plan, *later):
            assert_indexed(each)
        if engine.dialect.name == "sqlite":
            assert index in plan, (name, plan)
            if "page" in name:  # the index range starts at the cursor and is already in order
                assert "TEMP B-TREE" not in plan, (name, plan)


def test_the_rollup_finds_stuck_partners_by_stage_and_their_registrations_by_partner(engine, now, filled):
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's planner reads small tables whole, whatever their indexes")
    rng, stages = random.Random(5), list(PartnerStage)
    with Session(engine) as session:  # a program of thousands, most of them long past the early stages
        session.exec(insert(Partner), params=[dict(
            name=f"Big {n}", type=PartnerType.reseller, stage=rng.choice(stages[3:] * 8 + stages[:3]),
            stage_since=now - timedelta(days=rng.randrange(0, 1000)), manager_slack_id=f"UPM{n % 40}",
            created_at=now, updated_at=now, tier="registered") for n in range(4000)])
        session.commit()
    with engine.begin() as connection:  # the partners' statistics anew (PRAGMA optimize might keep the old)
        connection.exec_driver_sql("ANALYZE")
    stuck = Stuck(entered_before=now - timedelta(days=14), quiet_since=now - timedelta(days=60))
    plan, = plans(engine, lambda s: stuck_counts(s, stuck, "UPM", ["UPM"]))
    assert_indexed(plan)
    assert "ix_partner_stage_since" in plan and "ix_registration_partner_created" in plan, plan


def test_the_daily_clean_up_reads_only_what_it_deletes(engine, now):
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's planner reads small tables whole, whatever their indexes")
    sent = [dict(key=f"m{n}", lane=f"reg:{n % 300}:partner", channel="C1",
                 kind=SlackMessageKind.post if n % 3 else SlackMessageKind.update, text="x", blocks=[], status=SlackMessageStatus.sent, attempts=1, maybe_sent=False,
                 next_attempt_at=now, created_at=now, sent_at=now) for n in range(3000)]
    with Session(engine) as session:
        session.exec(insert(SlackMessage), params=sent)
        session.exec(insert(ProcessedEvent), params=[dict(event_id=f"e{n}", received_at=now) for n in range(3000)])
        session.commit()
    analyze(engine)  # as the worker keeps the planner's statistics
    queries = {"old delivery keys": (lambda s: old_delivery_keys(s, now - timedelta(days=7), limit=50),
                                     "SEARCH processed_event USING INDEX ix_processed_event_received_at"),
               "old sent updates": (lambda s: old_sent_updates(s, now - timedelta(days=30), limit=50),
                                    "SEARCH slack_outbox USING INDEX ix_slack_outbox_sent_updates")}
    for name, (run, index) in queries.items():
        plan, = plans(engine, run)
        assert index in plan and "TEMP B-TREE" not in plan, (name, plan)


def test_an_update_finds_its_pending_twin_by_lane_not_by_reading_the_sent_history(engine, now):
    sent = [dict(key=f"reg:{n}:root", lane=f"reg:{n}:partner", kind=SlackMessageKind.post, channel="C1",
                 text="x", blocks=[], status=SlackMessageStatus.sent, attempts=1, maybe_sent=False,
                 next_attempt_at=now, created_at=now) for n in range(3000)]
    with Session(engine) as session:
        session.exec(insert(SlackMessage), params=sent)
        session.commit()
    analyze(engine)
    [plan, *_] = plans(engine, lambda s: enqueue_update(s, lane="reg:7:partner", parent_key="reg:7:root", text="y",
                                                        blocks=[], now=now))
    assert "SCAN slack_outbox" not in plan and "Seq Scan on slack_outbox" not in plan, plan
    if engine.dialect.name == "sqlite":  # either index holds only pending rows
        assert "ix_slack_outbox_lane" in plan or "ix_slack_outbox_parent" in plan, plan


def test_a_message_failing_for_good_finds_its_replies_by_its_key_not_by_reading_the_backlog(engine, now):
    pending = [dict(key=f"reg:{n}:root:update:{n}", lane=f"reg:{n % 3000}:partner", kind=SlackMessageKind.post,
                    channel="C1", parent_key=f"reg:{n % 3000}:root", text="x", blocks=[],
                    status=SlackMessageStatus.pending, attempts=0, maybe_sent=False, next_attempt_at=now,
                    created_at=now) for n in range(6000)]
    with Session(engine) as session:
        session.exec(insert(SlackMessage), params=pending)
        session.commit()
    analyze(engine)
    plan, = plans(engine, lambda s: fail_dependents(s, "reg:7:root", "parent_failed"))
    assert "SCAN slack_outbox" not in plan and "Seq Scan on slack_outbox" not in plan, plan
    if engine.dialect.name == "sqlite":
        assert "ix_slack_outbox_parent" in plan, plan
    with Session(engine) as session:
        assert fail_dependents(session, "reg:7:root", "parent_failed") == 2  # updates 7 and 3007


def test_the_partner_nudges_read_partners_by_stage_and_their_registrations_by_partner(engine, now):
    """Onboarding and re-engagement (storage/nudges/partners.py): a range of ix_partner_stage_since already in
    order, each partner's registrations and notes probed by their partner indexes; nothing read whole."""
    rng = random.Random(5)
    stages = list(PartnerStage)
    with Session(engine) as session:
        session.exec(insert(Partner), params=[dict(
            name=f"Partner {n}", type=PartnerType.reseller, tier="registered", stage=rng.choice(stages),
            stage_since=now - timedelta(days=rng.randrange(0, 900), minutes=n), slack_channel_id=f"C{n}",
            manager_slack_id=f"UM{n % 20}", created_at=now, updated_at=now) for n in range(3000)])
        session.commit()
        ids = list(session.exec(select(Partner.id)).all())
    store(engine, lambda _: [registration_row(ids[i % len(ids)], i, created_at=now - timedelta(days=rng.randrange(
        0, 900))) for i in range(ROWS)])
    with Session(engine) as session:
        session.exec(insert(Nudge), params=[dict(
            key=f"reengagement_note:partner:{p}:UM:{p}", kind="reengagement_note", subject=f"partner:{p}",
            recipient="UM", period=str(p), partner_id=p, message_key=f"nudge:{p}", deliver_at=now, created_at=now)
            for p in ids[::3]])
        session.commit()
    analyze(engine)
    queries = {
        "quiet partners": lambda s: quiet_partners(s, PartnerStage.activated, quiet_before=now - timedelta(days=60),
                                                   after=None, limit=100),
        "quiet partners, a later page": lambda s: quiet_partners(
            s, PartnerStage.producing, quiet_before=now - timedelta(days=60), after=(now - timedelta(days=400), 7),
            limit=100),
        "activation due, a later page": lambda s: partners_without_registration(
            s, (PartnerStage.recruited,), entered_before=now - timedelta(days=14),
            entered_after=now - timedelta(days=56), after=(now - timedelta(days=30), 7), limit=100),
        "onboarding steps due": lambda s: partners_without_registration(
            s, (PartnerStage.onboarded,), entered_before=now, entered_after=now - timedelta(days=14), after=None,
            limit=100),
    }
    for name, run in queries.items():
        plan, = plans(engine, run)
        assert_indexed(plan)  # PostgreSQL may read the small partner and nudge tables whole here, by its costs
        if engine.dialect.name == "sqlite":
            assert not any(line.strip().startswith(("SCAN partner", "SCAN nudge")) for line in plan.splitlines())
            assert "SEARCH partner USING INDEX ix_partner_stage_since" in plan, (name, plan)
            assert "ix_registration_partner_created" in plan, (name, plan)
            assert "TEMP B-TREE" not in plan, (name, plan)
            if name.startswith("quiet"):
                assert "ix_nudge_partner" in plan, (name, plan)


@pytest.fixture
def reported(engine, now, filled):
    """The filled program with the times reports read: approved a day after submission, decided a month after."""
    decided = {RegistrationStatus.won, RegistrationStatus.lost, RegistrationStatus.rejected, RegistrationStatus.expired}
    with Session(engine) as session:
        rows = session.exec(select(Registration.id, Registration.created_at, Registration.status)).all()
        session.execute(update(Registration), [
            dict(id=row_id, approved_at=created + timedelta(days=1) if status in (
                RegistrationStatus.approved, RegistrationStatus.won, RegistrationStatus.lost) else None,
                 closed_at=created + timedelta(days=30) if status in decided else None)
            for row_id, created, status in rows])
        session.commit()
    analyze(engine)
    return filled


def test_report_queries_read_a_period_by_index(engine, now, reported):
    from storage import reporting as store
    from storage.reporting_scope import Scope

    partner_id, start, end = reported, now - timedelta(days=7), now
    everything, one, managed = Scope(), Scope.of_partner(partner_id), Scope.of_manager("UMGR")
    queries = {  # name: (the query, the index SQLite should pick for the registrations)
        "new pipeline": (lambda s: store.new_pipeline(s, everything, (start, end)), "ix_registration_approved"),
        "a partner's new pipeline": (lambda s: store.new_pipeline(s, one, (start, end)),
                                     "ix_registration_partner_approved"),
        "a manager's movers": (lambda s: store.new_pipeline(s, managed, (start - timedelta(days=7), start, end),
                                                            by_partner=True, sourced_only=True),
                               "ix_registration_partner_approved"),
        "won and lost": (lambda s: store.decided(s, everything, start, end), "ix_registration_status_closed"),
        "a partner's won and lost": (lambda s: store.decided(s, one, start, end),
                                     "ix_registration_partner_status_closed"),
        "lead to close": (lambda s: store.lead_to_close(s, everything, start, end), "ix_registration_created_at"),
        "lead to close by type": (lambda s: store.lead_to_close(s, everything, start, end, by="type"),
                                  "created_at>? AND created_at<?"),  # by creation, or per partner by creation
        "a partner's lead to close": (lambda s: store.lead_to_close(s, one, start, end),
                                      "ix_registration_partner_created"),
        "pending and past the SLA": (lambda s: store.pending_registrations(s, everything, now - timedelta(hours=48)),
                                     "ix_registration_status"),
        "usage growth": (lambda s: store.usage_growth(s, everything, end, "2026-11"),
                         "ix_registration_pricing_status"),
    }
    for name, (run, index) in queries.items():
        for plan in plans(engine, run):
            if "registration" not in plan:
                continue  # the upsells' half
            assert_indexed(plan)
            if engine.dialect.name == "sqlite":
                assert index in plan, (name, plan)


def test_a_managers_reports_find_their_partners_and_their_usage_deals_by_index(engine, now, reported):
    """bench/bench_reporting.py at a million registrations: a manager's figures start from their partners, found by
    manager (ix_partner_manager) rather than by reading every partner, and their usage-based deals are read
    through those partners' ids (ix_registration_partner_pricing_status), not among every usage-based deal of the
    program."""
    from storage import reporting as store
    from storage.reporting_scope import Scope

    with Session(engine) as session:
        ids = list(session.exec(select(Partner.id)).all())
        session.execute(update(Partner), [dict(id=pid, manager_slack_id=f"UM{pid % 10}") for pid in ids])
        session.execute(update(Registration).where(Registration.id % 3 == 0)
                        .values(pricing_model=PricingModel.usage_based, starting_monthly_usage=100))
        session.commit()
    analyze(engine)
    managed = Scope.of_manager("UM3")
    for name, run in {
        "a manager's usage growth": lambda s: store.usage_growth(s, managed, now, "2026-11"),
        "a manager's new pipeline": lambda s: store.new_pipeline(s, managed, (now - timedelta(days=7), now)),
    }.items():
        for plan in plans(engine, run):
            assert "Seq Scan on registration" not in plan and "SCAN registration" not in plan, (name, plan)
            if engine.dialect.name == "sqlite":
                assert "SCAN partner" not in plan, (name, plan)
                assert "ix_partner_manager" in plan, (name, plan)
                if name == "a manager's usage growth":
                    assert "ix_registration_partner_pricing_status" in plan, (name, plan)
