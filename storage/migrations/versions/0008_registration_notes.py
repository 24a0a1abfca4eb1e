"""registration notes

Revision ID: 0008
Revises: 0007

A partner's updates on its registration (Add an update), kept for the AE and the registration's history.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.models


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'registration_note',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('registration_id', sa.Integer(), nullable=False),
        sa.Column('author_slack_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('text', sqlmodel.sql.sqltypes.AutoString(length=3000), nullable=False),
        sa.Column('created_at', storage.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['registration_id'], ['registration.id'], ),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('registration_note') as batch:
        batch.create_index(batch.f('ix_registration_note_registration_id'), ['registration_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('registration_note') as batch:
        batch.drop_index(batch.f('ix_registration_note_registration_id'))
    op.drop_table('registration_note')
