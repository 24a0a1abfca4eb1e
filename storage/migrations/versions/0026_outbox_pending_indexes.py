"""outbox pending indexes

Revision ID: 0026
Revises: 0025

The Slack sender's search for the messages it may send now (storage/slack/outbox.py due_messages) walked the
outbox in id order, reading every message ever sent and every one waiting behind a paced channel: at 147,000
rows, 26,000 of them pending, 38 ms to find nothing, after every wake-up (bench/bench_ack.py at 1,000,000
registrations). The outbox keeps the posts it sent, so the indexes the sender and the queueing read now hold only
the rows they look for:
- ix_slack_outbox_due: pending rows by when they are due (the oldest due first; the worker's next wake-up);
  it held every row by status;
- ix_slack_outbox_pending_posts: pending posts by channel, so a channel that must wait is stepped over without
  reading what waits for it; ix_slack_outbox_pending_others: the other pending kinds by when they are due;
- ix_slack_outbox_lane: pending rows by lane (is a row first in its lane; an update's pending twin); it held
  every row;
- ix_slack_outbox_failed: failed rows (`partnerbot slack status` and `retry`), which the status index served;
- ix_slack_outbox_channel: sent and failed rows by channel (a moved channel's pending rows are found by the
  pending indexes), so SQLite's planner, from sampled statistics, cannot take it for the pending posts' index
  and walk a channel's history.
"""

import sqlalchemy as sa
from alembic import op


revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None

PENDING = sa.text("status = 'pending'")
FAILED = sa.text("status = 'failed'")
PENDING_POST = sa.text("status = 'pending' AND kind = 'post'")
PENDING_OTHER = sa.text("status = 'pending' AND kind <> 'post'")
SETTLED = sa.text("status <> 'pending'")


def upgrade() -> None:
    op.drop_index('ix_slack_outbox_lane', table_name='slack_outbox')
    op.create_index('ix_slack_outbox_lane', 'slack_outbox', ['lane', 'id'], unique=False,
                    sqlite_where=PENDING, postgresql_where=PENDING)
    op.drop_index('ix_slack_outbox_channel', table_name='slack_outbox')
    op.create_index('ix_slack_outbox_channel', 'slack_outbox', ['channel'], unique=False,
                    sqlite_where=SETTLED, postgresql_where=SETTLED)
    op.drop_index('ix_slack_outbox_due', table_name='slack_outbox')
    op.create_index('ix_slack_outbox_due', 'slack_outbox', ['next_attempt_at', 'id'], unique=False,
                    sqlite_where=PENDING, postgresql_where=PENDING)
    op.create_index('ix_slack_outbox_failed', 'slack_outbox', ['id'], unique=False,
                    sqlite_where=FAILED, postgresql_where=FAILED)
    op.create_index('ix_slack_outbox_pending_posts', 'slack_outbox', ['channel', 'id', 'next_attempt_at', 'lane'],
                    unique=False, sqlite_where=PENDING_POST, postgresql_where=PENDING_POST)
    op.create_index('ix_slack_outbox_pending_others', 'slack_outbox', ['next_attempt_at', 'id'], unique=False,
                    sqlite_where=PENDING_OTHER, postgresql_where=PENDING_OTHER)


def downgrade() -> None:
    op.drop_index('ix_slack_outbox_pending_others', table_name='slack_outbox')
    op.drop_index('ix_slack_outbox_pending_posts', table_name='slack_outbox')
    op.drop_index('ix_slack_outbox_failed', table_name='slack_outbox')
    op.drop_index('ix_slack_outbox_due', table_name='slack_outbox')
    op.create_index('ix_slack_outbox_due', 'slack_outbox', ['status', 'next_attempt_at'], unique=False)
    op.drop_index('ix_slack_outbox_channel', table_name='slack_outbox')
    op.create_index('ix_slack_outbox_channel', 'slack_outbox', ['channel'], unique=False)
    op.drop_index('ix_slack_outbox_lane', table_name='slack_outbox')
    op.create_index('ix_slack_outbox_lane', 'slack_outbox', ['lane', 'status', 'id'], unique=False)
