"""outbox uploads

Revision ID: 0020
Revises: 0019

The Slack outbox owes file uploads too (the weekly digest's chart): `upload` joins the outbox kind type.
SQLite stores the kind as text (no constraint to change); PostgreSQL has a type, which gains the value.
"""

from alembic import op


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("ALTER TYPE slackmessagekind ADD VALUE IF NOT EXISTS 'upload'")


def downgrade() -> None:
    # PostgreSQL cannot drop a value from a type; rows that use it would have nowhere to go anyway.
    pass
