"""upsells waiting for their AE, by index

Revision ID: 0014
Revises: 0013

The accept-SLA reminder (workflows/upsell_reminders.py) reads open upsells by the time of their last status
change, oldest first, a page at a time: an index on (status, updated_at), as registrations have.
"""

from alembic import op


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_upsell_status_updated', 'upsell', ['status', 'updated_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_upsell_status_updated', table_name='upsell')
