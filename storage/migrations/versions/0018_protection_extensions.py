"""protection extensions

Revision ID: 0018
Revises: 0017

Requests to extend an approved registration's protection window, with who asked, whom they went to, who decided,
when and why (protection_extension); and a registration's nudges by index (stalled deals, expiry warnings).
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.models


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

TS = storage.models.UTCDateTime(timezone=True)


def _text(length: int):
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table('protection_extension',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('requested_by_slack_id', _text(32), nullable=False),
    sa.Column('requested_at', TS, nullable=False),
    sa.Column('decider_slack_id', _text(32), nullable=False),
    sa.Column('status', sa.Enum('pending', 'extended', 'declined', name='extensionstatus'), nullable=False),
    sa.Column('expires_before', TS, nullable=True),
    sa.Column('expires_after', TS, nullable=True),
    sa.Column('decided_by_slack_id', _text(32), nullable=True),
    sa.Column('decided_at', TS, nullable=True),
    sa.Column('reason', _text(1000), nullable=True),
    sa.ForeignKeyConstraint(['partner_id'], ['partner.id'], ),
    sa.ForeignKeyConstraint(['registration_id'], ['registration.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_protection_extension_registration', 'protection_extension', ['registration_id', 'status'],
                    unique=False)
    op.create_index('ix_nudge_registration', 'nudge', ['registration_id', 'kind'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_nudge_registration', table_name='nudge')
    op.drop_index('ix_protection_extension_registration', table_name='protection_extension')
    op.drop_table('protection_extension')
    sa.Enum(name='extensionstatus').drop(op.get_bind(), checkfirst=True)
