"""review kind index

Revision ID: 0022
Revises: 0021

What a million registrations showed (bench/bench_reporting.py): every digest counts the reader's App Home list
of registrations waiting for them, whose conflicts branch (open, review kind conflict) read every open
registration through the status index; led by the review kind it reads the conflicts only.
"""

from alembic import op


revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

INDEXES = (
    ('ix_registration_review_kind_status_created', 'registration', ['review_kind', 'status', 'created_at']),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
