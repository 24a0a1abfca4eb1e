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
