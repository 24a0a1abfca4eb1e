"""conflict prefilter and hot-query indexes

Revision ID: 0003
Revises: 0002

Composite indexes for the lists and the jobs, a length index for fuzzy conflict candidates, and on
PostgreSQL a trigram (pg_trgm) index on the company key.
"""

import sqlalchemy as sa
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

COMPOSITES = {
    'ix_registration_partner_created': ['partner_id', 'created_at'],
    'ix_registration_assignee_created': ['assigned_to_slack_id', 'created_at'],
    'ix_registration_submitter_created': ['submitted_by_slack_id', 'created_at'],
    'ix_registration_status_expires': ['status', 'protection_expires_at'],
    'ix_registration_status_updated': ['status', 'updated_at'],
    'ix_registration_status_created': ['status', 'created_at'],
}


def upgrade() -> None:
    for name, columns in COMPOSITES.items():
        op.create_index(name, 'registration', columns, unique=False)
    op.create_index('ix_registration_key_length', 'registration', [sa.text('length(company_key)'), 'company_key'],
                    unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        # A trusted extension: the database owner may create it.
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
        op.create_index('ix_registration_company_key_trgm', 'registration', ['company_key'], unique=False,
                        postgresql_using='gin', postgresql_ops={'company_key': 'gin_trgm_ops'})
    else:
        # Empty on SQLite (WHERE 0 costs no writes): the model declares one index for both databases.
        op.create_index('ix_registration_company_key_trgm', 'registration', ['company_key'], unique=False,
                        sqlite_where=sa.text('0'))


def downgrade() -> None:
    op.drop_index('ix_registration_company_key_trgm', table_name='registration')
    op.drop_index('ix_registration_key_length', table_name='registration')
    for name in reversed(list(COMPOSITES)):
        op.drop_index(name, table_name='registration')
