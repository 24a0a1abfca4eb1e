"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

from storage.db import create_schema
from storage.models import REMINDERS_FROM


@pytest.mark.filterwarnings("ignore:.*expression-based index")  # looked for below: SQLite cannot reflect them
def test_migrations_match_the_models(engine):
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == [], "run: alembic revision --autogenerate (see README) and commit the migration"


@pytest.mark.parametrize("index", ["ix_registration_status_reminders_from", "ix_upsell_status_reminders_from"])
def test_the_indexes_on_an_expression_are_there_as_the_models_have_them(engine, index):
    """The comparison above skips an index on an expression where the database cannot reflect it (SQLite)."""
    with engine.connect() as connection:
        definition = connection.exec_driver_sql(
            f"SELECT sql FROM sqlite_master WHERE name = '{index}'" if engine.dialect.name == "sqlite"
            else f"SELECT indexdef FROM pg_indexes WHERE indexname = '{index}'").scalar()
    assert definition is not None
    assert f"(status, {REMINDERS_FROM}, id)" in definition.lower().replace('"', ""), definition


def test_upgrading_twice_changes_nothing(engine):
    before = sorted(inspect(engine).get_table_names())
    create_schema(engine)  # at head already: a no-op, as on every start
    assert sorted(inspect(engine).get_table_names()) == before
    assert "alembic_version" in before and "registration" in before
