"""Alembic environment: migrations run on the engine Partnerbot already has (see storage.db.migrate)."""

from alembic import context
from sqlmodel import SQLModel

import storage.crm  # noqa: F401  (registers the CRM tables)
import storage.models  # noqa: F401  (registers the tables)
import storage.nudges  # noqa: F401  (registers the nudge tables)
import storage.protection  # noqa: F401  (registers protection extensions)
import storage.slack  # noqa: F401  (registers the Slack outbox)

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=SQLModel.metadata,
                  render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
with context.begin_transaction():
    context.run_migrations()
