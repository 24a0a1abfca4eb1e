"""registration country

Revision ID: 0005
Revises: 0004

The customer's country (ISO 3166-1 alpha-2) on each registration: the form asks for it and derives the
region from the program's regions. Registrations stored before have none, and keep their region.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('registration') as batch:
        batch.add_column(sa.Column('country', sqlmodel.sql.sqltypes.AutoString(length=2), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('registration') as batch:
        batch.drop_column('country')
