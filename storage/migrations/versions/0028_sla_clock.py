"""sla clock

Revision ID: 0028
Revises: 0027

Where SLA reminders count from moves out of the registration (0024) and the upsell (0025) into a narrow table of its
own. The reminder job moves it once a period for every review it reminds; in the registration that update rewrote
an entry in each of the row's 19 indexes (it was in one of them, so PostgreSQL could not update in place), and
after a checkpoint each of those is a whole page in the write-ahead log: 61% of a reminder's log at 1,000,000
registrations. A clock row has two indexes. Every waiting row gets its clock here: a review under review, an open
upsell (storage/sla_clock.py).
"""

import sqlalchemy as sa
from alembic import op

import storage.models


revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None

REMINDERS_FROM = 'coalesce(reminders_from, updated_at)'  # 0024's and 0025's index expression
WAITING = {'registration': ('review', 'under_review', 'ix_registration_status_reminders_from'),
           'upsell': ('upsell', 'open', 'ix_upsell_status_reminders_from')}


def upgrade() -> None:
    op.create_table(
        'sla_clock',
        sa.Column('sla', sa.String(length=16), nullable=False),
        sa.Column('row_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('counts_from', storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('sla', 'row_id'),
    )
    op.create_index('ix_sla_clock_due', 'sla_clock', ['sla', 'counts_from', 'row_id'], unique=False)
    for table, (sla, status, index) in WAITING.items():
        op.execute(f"INSERT INTO sla_clock (sla, row_id, counts_from) SELECT '{sla}', id, {REMINDERS_FROM} "
                   f"FROM {table} WHERE status = '{status}'")
        op.drop_index(index, table_name=table)
        # In place, as 0024's downgrade: SQLite (3.35 and later) drops a column without copying the table.
        op.drop_column(table, 'reminders_from')


def downgrade() -> None:
    for table, (sla, status, index) in WAITING.items():
        op.add_column(table, sa.Column('reminders_from', storage.models.UTCDateTime(timezone=True), nullable=True))
        # A clock behind the row's last change counted from that change (the column's empty value).
        op.execute(f"UPDATE {table} SET reminders_from = (SELECT counts_from FROM sla_clock WHERE sla = '{sla}' "
                   f"AND row_id = {table}.id AND counts_from > {table}.updated_at) WHERE status = '{status}'")
        op.create_index(index, table, ['status', sa.text(REMINDERS_FROM), 'id'], unique=False)
    op.drop_index('ix_sla_clock_due', table_name='sla_clock')
    op.drop_table('sla_clock')
