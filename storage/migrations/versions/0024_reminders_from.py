"""reminders from

Revision ID: 0024
Revises: 0023

What a million registrations showed (bench/bench_scale.py, run again right after a backlog): the SLA-reminder job
read every review past its SLA, 50 to a page, to find each one's reminders already sent, so a run with nothing due
took 0.4 s (SQLite) and 0.95 s (PostgreSQL) at 100,000 registrations and 1.9 s at a million. A review now keeps
where its reminders count from (none: from its last change), and the job reads by this index only the reviews
whose next reminder is due.
"""

import sqlalchemy as sa
from alembic import op

import storage.models


revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None

INDEX = 'ix_registration_status_reminders_from'
REMINDERS_FROM = 'coalesce(reminders_from, updated_at)'  # where its reminders counted from (until 0028)


def upgrade() -> None:
    op.add_column('registration', sa.Column('reminders_from', storage.models.UTCDateTime(timezone=True), nullable=True))
    op.create_index(INDEX, 'registration', ['status', sa.text(REMINDERS_FROM), 'id'], unique=False)


def downgrade() -> None:
    op.drop_index(INDEX, table_name='registration')
    # Not in batch mode: SQLite (3.35 and later) drops a column in place, where copying the table would fail on
    # the rows other tables hold against it.
    op.drop_column('registration', 'reminders_from')
