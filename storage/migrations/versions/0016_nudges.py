"""nudges

Revision ID: 0016
Revises: 0015

Nudges (workflows/nudges.py): each one a row with a unique key, created with the Slack message it owes (nudge);
the kinds people stopped or snoozed per subject (nudge_mute); people's time zones as Slack gave them, so their
nudges go out in working hours (slack_user_zone); and partners by stage and how long in it, by index.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.models


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

TS = storage.models.UTCDateTime(timezone=True)


def _text(length: int):
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table('nudge',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('kind', _text(32), nullable=False),
    sa.Column('subject', _text(64), nullable=False),
    sa.Column('recipient', _text(32), nullable=False),
    sa.Column('period', _text(64), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=True),
    sa.Column('registration_id', sa.Integer(), nullable=True),
    sa.Column('message_key', _text(200), nullable=False),
    sa.Column('deliver_at', TS, nullable=False),
    sa.Column('created_at', TS, nullable=False),
    sa.Column('response', _text(32), nullable=True),
    sa.Column('responded_by_slack_id', _text(32), nullable=True),
    sa.Column('responded_at', TS, nullable=True),
    sa.ForeignKeyConstraint(['partner_id'], ['partner.id'], ),
    sa.ForeignKeyConstraint(['registration_id'], ['registration.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    op.create_index('ix_nudge_partner', 'nudge', ['partner_id', 'created_at'], unique=False)
    op.create_table('nudge_mute',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', _text(32), nullable=False),
    sa.Column('subject', _text(64), nullable=False),
    sa.Column('until', TS, nullable=True),
    sa.Column('by_slack_id', _text(32), nullable=False),
    sa.Column('nudge_id', sa.Integer(), nullable=True),
    sa.Column('at', TS, nullable=False),
    sa.ForeignKeyConstraint(['nudge_id'], ['nudge.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('kind', 'subject')
    )
    op.create_table('slack_user_zone',
    sa.Column('slack_user_id', sa.String(length=32), nullable=False),
    sa.Column('tz', _text(64), nullable=True),
    sa.Column('fetched_at', TS, nullable=False),
    sa.PrimaryKeyConstraint('slack_user_id')
    )
    op.create_index('ix_partner_stage_since', 'partner', ['stage', 'stage_since'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_partner_stage_since', table_name='partner')
    op.drop_table('slack_user_zone')
    op.drop_table('nudge_mute')
    op.drop_index('ix_nudge_partner', table_name='nudge')
    op.drop_table('nudge')
