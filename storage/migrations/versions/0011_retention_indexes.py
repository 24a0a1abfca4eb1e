"""retention indexes

Revision ID: 0011
Revises: 0010

The daily clean-up (workflows/retention.py) finds old delivery keys by when they were received, and sent
updates through a partial index that holds only them, so it never reads the posts that are kept.
"""

import sqlalchemy as sa
from alembic import op


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

SENT_UPDATE = sa.text("kind = 'update' AND status = 'sent'")


def upgrade() -> None:
    op.create_index('ix_processed_event_received_at', 'processed_event', ['received_at'], unique=False)
    op.create_index('ix_slack_outbox_sent_updates', 'slack_outbox', ['sent_at'], unique=False,
                    sqlite_where=SENT_UPDATE, postgresql_where=SENT_UPDATE)


def downgrade() -> None:
    op.drop_index('ix_slack_outbox_sent_updates', table_name='slack_outbox')
    op.drop_index('ix_processed_event_received_at', table_name='processed_event')
