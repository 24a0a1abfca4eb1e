"""outbox pins

Revision ID: 0009
Revises: 0008

The Slack outbox owes pins too (the partner desk is pinned once posted): `pin` joins the outbox kind type.
SQLite stores the kind as text (no constraint to change); PostgreSQL has a type, which gains the value.
"""

from alembic import op


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("ALTER TYPE slackmessagekind ADD VALUE IF NOT EXISTS 'pin'")


def downgrade() -> None:
    # PostgreSQL cannot drop a value from a type; rows that use it would have nowhere to go anyway.
    pass
