"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

from storage.db import create_schema


def test_migrations_match_the_models(engine):
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == [], "run: alembic revision --autogenerate (see README) and commit the migration"


def test_upgrading_twice_changes_nothing(engine):
    before = sorted(inspect(engine).get_table_names())
    create_schema(engine)  # at head already: a no-op, as on every start
    assert sorted(inspect(engine).get_table_names()) == before
    assert "alembic_version" in before and "registration" in before


def test_where_reminders_count_from_moves_to_the_clocks_and_back(engine, now):
    """0028 moves each waiting row's `reminders_from` (else its `updated_at`) into an SLA clock; its downgrade puts
    it back, and a clock behind the row's last change becomes "from the change" (NULL)."""
    from datetime import timedelta

    from alembic import command
    from sqlalchemy import bindparam, insert, text
    from sqlmodel import Session, select

    from storage.db import alembic_config
    from storage.models import (CustomerAccount, Partner, Registration, RegistrationStatus, SlaClock, Upsell,
                                UpsellStatus, UTCDateTime)
    from tests.test_jobs_at_scale import registration_row
    from tests.test_upsell_jobs import upsell_row

    def at(sql: str):
        return text(sql).bindparams(bindparam("t", type_=UTCDateTime()))

    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0027")
    with Session(engine) as session:
        session.execute(insert(Partner.__table__), [dict(id=1, name="P", type="reseller", tier="registered",
                                                         stage="prospect", stage_since=now, created_at=now,
                                                         updated_at=now)])
        session.execute(insert(CustomerAccount.__table__), [dict(id=1, name="A", name_key="a", created_at=now,
                                                                 updated_at=now)])
        statuses = [RegistrationStatus.under_review] * 3 + [RegistrationStatus.approved]
        session.execute(insert(Registration.__table__), [
            registration_row(1, i, id=i + 1, status=status, updated_at=now - timedelta(hours=i))
            for i, status in enumerate(statuses)])
        session.execute(insert(Upsell.__table__), [
            upsell_row(1, 1, i, id=i + 1, status=status, updated_at=now - timedelta(hours=i))
            for i, status in enumerate([UpsellStatus.open, UpsellStatus.accepted])])
        # Review 1 was reminded: it counts from an hour after its change. The others count from their change.
        session.execute(at("UPDATE registration SET reminders_from = :t WHERE id = 1"), {"t": now + timedelta(hours=1)})
        session.commit()
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "head")
    with Session(engine) as session:
        clocks = sorted((c.sla, c.row_id, c.counts_from) for c in session.exec(select(SlaClock)))
    assert clocks == [("review", 1, now + timedelta(hours=1)), ("review", 2, now - timedelta(hours=1)),
                      ("review", 3, now - timedelta(hours=2)), ("upsell", 1, now)]

    with engine.begin() as connection:  # review 3's clock behind its last change
        connection.execute(at("UPDATE sla_clock SET counts_from = :t WHERE sla = 'review' AND row_id = 3"),
                           {"t": now - timedelta(hours=9)})
        command.downgrade(alembic_config(connection), "0027")
    with engine.connect() as connection:
        reviews = connection.execute(text("SELECT reminders_from FROM registration ORDER BY id")
                                     .columns(reminders_from=UTCDateTime())).scalars().all()
        upsells = connection.execute(text("SELECT reminders_from FROM upsell ORDER BY id")).scalars().all()
    assert reviews == [now + timedelta(hours=1), None, None, None] and upsells == [None, None]
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "head")
