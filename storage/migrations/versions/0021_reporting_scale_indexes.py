"""reporting scale indexes

Revision ID: 0021
Revises: 0020

What a million registrations showed (bench/bench_reporting.py): a partner manager's reports find their partners
by manager (each of the figures' queries starts there), and their usage-based deals through their partners' ids
rather than through every usage-based deal of the program.
"""

from alembic import op


revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

INDEXES = (
    ('ix_partner_manager', 'partner', ['manager_slack_id']),
    ('ix_registration_partner_pricing_status', 'registration', ['partner_id', 'pricing_model', 'status']),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
