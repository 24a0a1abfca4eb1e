"""upsell reminders from

Revision ID: 0025
Revises: 0024

As 0024 did for registrations: the accept-SLA reminder job read every open upsell past its SLA at every run, to find
each one's reminders already sent. An upsell now keeps where its reminders count from (none: from its last status
change), and the job reads by this index only the upsells whose next period has come. The index it replaces
(status, updated_at) had no other reader.
"""

import sqlalchemy as sa
from alembic import op

import storage.models


revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None

INDEX = 'ix_upsell_status_reminders_from'
REMINDERS_FROM = 'coalesce(reminders_from, updated_at)'  # as 0024's
OLD_INDEX = 'ix_upsell_status_updated'


def upgrade() -> None:
    op.add_column('upsell', sa.Column('reminders_from', storage.models.UTCDateTime(timezone=True), nullable=True))
    op.create_index(INDEX, 'upsell', ['status', sa.text(REMINDERS_FROM), 'id'], unique=False)
    op.drop_index(OLD_INDEX, table_name='upsell')


def downgrade() -> None:
    op.create_index(OLD_INDEX, 'upsell', ['status', 'updated_at'], unique=False)
    op.drop_index(INDEX, table_name='upsell')
    # In place, as 0024's: SQLite (3.35 and later) drops a column without copying the table.
    op.drop_column('upsell', 'reminders_from')
