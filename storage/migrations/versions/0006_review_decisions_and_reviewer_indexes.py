"""review decisions and reviewer indexes

Revision ID: 0006
Revises: 0005

Decisions a reviewer may still undo (review_decision), why a deal was lost (registration.close_reason), the
index App Home's filters read (one assignee's registrations in one status), and the index that finds a
registration from a reply in its thread (the Slack outbox row of the thread root, by channel and ts).
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

import storage.models


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

STATUSES = ('received', 'under_review', 'approved', 'rejected', 'expired', 'won', 'lost')


def _status() -> sa.types.TypeEngine:
    # The type exists since 0001: PostgreSQL must not be asked to create it again.
    return postgresql.ENUM(*STATUSES, name='registrationstatus', create_type=False)


def upgrade() -> None:
    op.create_table('review_decision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=False),
    sa.Column('actor_slack_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('from_status', _status(), nullable=False),
    sa.Column('to_status', _status(), nullable=False),
    sa.Column('previous', sa.JSON(), nullable=False),
    sa.Column('partner_message_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('decided_at', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('undo_until', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('undone_at', storage.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('undone_by_slack_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.ForeignKeyConstraint(['registration_id'], ['registration.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('review_decision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_decision_registration_id'), ['registration_id'], unique=False)
        batch_op.create_index('ix_review_decision_actor_until', ['actor_slack_id', 'undo_until'], unique=False)
    with op.batch_alter_table('registration', schema=None) as batch_op:
        batch_op.add_column(sa.Column('close_reason', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True))
        batch_op.create_index('ix_registration_assignee_status_created',
                              ['assigned_to_slack_id', 'status', 'created_at'], unique=False)
    with op.batch_alter_table('slack_outbox', schema=None) as batch_op:
        batch_op.create_index('ix_slack_outbox_sent', ['sent_channel', 'sent_ts'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('slack_outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_slack_outbox_sent')
    with op.batch_alter_table('registration', schema=None) as batch_op:
        batch_op.drop_index('ix_registration_assignee_status_created')
        batch_op.drop_column('close_reason')
    with op.batch_alter_table('review_decision', schema=None) as batch_op:
        batch_op.drop_index('ix_review_decision_actor_until')
        batch_op.drop_index(batch_op.f('ix_review_decision_registration_id'))
    op.drop_table('review_decision')
