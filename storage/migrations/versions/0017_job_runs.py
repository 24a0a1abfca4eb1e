"""job runs

Revision ID: 0017
Revises: 0016

The scheduled jobs' record (job_run): per job name its last run's start, end, outcome and short result, who ran it,
and the scheduler's next planned run. `partnerbot jobs list` shows it; the scheduler catches up from it once after
downtime.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.models


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('job_run',
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('started_at', storage.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', storage.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('result', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('ran_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('next_run_at', storage.models.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('name')
    )


def downgrade() -> None:
    op.drop_table('job_run')
