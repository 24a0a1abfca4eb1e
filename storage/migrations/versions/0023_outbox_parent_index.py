"""outbox parent index

Revision ID: 0023
Revises: 0022

What the ack benchmark showed (bench/bench_ack.py): a Slack message that fails for good fails its pending replies
and updates (storage/slack/outbox.py fail_dependents), which read every pending row through the due index. With a
backlog of 20,000 pending rows that held SQLite's write lock for 20-50 ms, and acks waited behind it.
"""

from alembic import op


revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_slack_outbox_parent', 'slack_outbox', ['parent_key', 'status'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_slack_outbox_parent', table_name='slack_outbox')
