"""outbox lean indexes

Revision ID: 0027
Revises: 0026

What a reminder writes to the write-ahead log (pg_walinspect, the SLA-reminder job at 1,000,000 registrations):
nearly all of it whole index pages, the first change to each after a checkpoint. Two of the outbox's indexes were
written for every message and read for few or none: ix_slack_outbox_partner_id was never searched (the partner is
read from the row), and ix_slack_outbox_parent is searched only for pending rows (fail_dependents), so it now holds
only those.
"""

import sqlalchemy as sa
from alembic import op


revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None

PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    op.drop_index('ix_slack_outbox_partner_id', table_name='slack_outbox')
    op.drop_index('ix_slack_outbox_parent', table_name='slack_outbox')
    op.create_index('ix_slack_outbox_parent', 'slack_outbox', ['parent_key'], unique=False,
                    sqlite_where=PENDING, postgresql_where=PENDING)


def downgrade() -> None:
    op.drop_index('ix_slack_outbox_parent', table_name='slack_outbox')
    op.create_index('ix_slack_outbox_parent', 'slack_outbox', ['parent_key', 'status'], unique=False)
    op.create_index('ix_slack_outbox_partner_id', 'slack_outbox', ['partner_id'], unique=False)
