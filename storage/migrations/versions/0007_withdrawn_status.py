"""withdrawn status

Revision ID: 0007
Revises: 0006

A partner may withdraw its registration (open or approved): `withdrawn` joins the registration status type.
SQLite stores the status as text (no constraint to change); PostgreSQL has a type, which gains the value.
"""

from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("ALTER TYPE registrationstatus ADD VALUE IF NOT EXISTS 'withdrawn'")


def downgrade() -> None:
    # PostgreSQL cannot drop a value from a type; rows that use it would have nowhere to go anyway.
    pass
