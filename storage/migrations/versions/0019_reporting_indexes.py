"""reporting indexes

Revision ID: 0019
Revises: 0018

The reports' range reads (storage/reporting.py): registrations by approval time (program-wide and per partner),
registrations and upsells decided in a period by status and close time, upsells by acceptance time, and the
usage-based registrations by pricing model and status.
"""

from alembic import op


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

INDEXES = (
    ('ix_registration_approved', 'registration', ['approved_at']),
    ('ix_registration_partner_approved', 'registration', ['partner_id', 'approved_at']),
    ('ix_registration_status_closed', 'registration', ['status', 'closed_at']),
    ('ix_registration_pricing_status', 'registration', ['pricing_model', 'status']),
    ('ix_upsell_accepted', 'upsell', ['accepted_at']),
    ('ix_upsell_status_closed', 'upsell', ['status', 'closed_at']),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
