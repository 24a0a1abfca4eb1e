"""customer accounts and upsells

Revision ID: 0012
Revises: 0011

Customer accounts (from won registrations and `partnerbot import accounts`) with their attached partners and the
product lines they bought, and the upsells partners flag on them with each status change.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

import storage.models


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

# These types exist already (attribution since 0001) or are made with the upsell table: PostgreSQL must not be
# asked to create them again.
ATTRIBUTION = postgresql.ENUM('sourced', 'influenced', 'co_sell', name='attributiontype', create_type=False)
STATUS_EXISTING = postgresql.ENUM('duplicate_review', 'open', 'accepted', 'declined', 'rejected', 'won', 'lost',
                                  name='upsellstatus', create_type=False)
NEW_TYPES = ('upsellsignal', 'recurrence', 'upsellstatus')


def upgrade() -> None:
    op.create_table('customer_account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('name_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('domain', sa.String(length=253), nullable=True),
    sa.Column('owner_slack_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('landing_zone', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('monthly_revenue', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('currency', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=True),
    sa.Column('source_registration_id', sa.Integer(), nullable=True),
    sa.Column('created_at', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['source_registration_id'], ['registration.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('domain')
    )
    op.create_index(op.f('ix_customer_account_name_key'), 'customer_account', ['name_key'], unique=False)
    op.create_index(op.f('ix_customer_account_owner_slack_id'), 'customer_account', ['owner_slack_id'], unique=False)
    op.create_table('account_partner',
    sa.Column('account_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('partner_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=True),
    sa.Column('submitted_by_slack_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('attached_at', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['customer_account.id'], ),
    sa.ForeignKeyConstraint(['partner_id'], ['partner.id'], ),
    sa.ForeignKeyConstraint(['registration_id'], ['registration.id'], ),
    sa.PrimaryKeyConstraint('account_id', 'partner_id')
    )
    op.create_index('ix_account_partner_partner', 'account_partner', ['partner_id', 'account_id'], unique=False)
    op.create_table('upsell',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('flagged_by_slack_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('flagged_by_team_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('attribution', ATTRIBUTION, nullable=False),
    sa.Column('signal', sa.Enum('plan_upgrade', 'more_seats', 'usage_growth', 'new_product_line', 'renewal_at_risk', name='upsellsignal'), nullable=False),
    sa.Column('target', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('expected_value', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('currency', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
    sa.Column('recurrence', sa.Enum('monthly', 'one_time', name='recurrence'), nullable=False),
    sa.Column('timeline', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('notes', sqlmodel.sql.sqltypes.AutoString(length=3000), nullable=False),
    sa.Column('status', sa.Enum('duplicate_review', 'open', 'accepted', 'declined', 'rejected', 'won', 'lost', name='upsellstatus'), nullable=False),
    sa.Column('assigned_to_slack_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('duplicate_of', sa.Integer(), nullable=True),
    sa.Column('partner_joined_at', storage.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decision_reason', sqlmodel.sql.sqltypes.AutoString(length=3000), nullable=True),
    sa.Column('close_reason', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
    sa.Column('final_amount', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('partner_channel_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('partner_thread_ts', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('root_message_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('created_at', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('accepted_at', storage.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', storage.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['customer_account.id'], ),
    sa.ForeignKeyConstraint(['duplicate_of'], ['upsell.id'], ),
    sa.ForeignKeyConstraint(['partner_id'], ['partner.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_upsell_account_target_status', 'upsell', ['account_id', 'target', 'status'], unique=False)
    op.create_index('ix_upsell_assignee_status_created', 'upsell', ['assigned_to_slack_id', 'status', 'created_at'], unique=False)
    op.create_index('ix_upsell_flagger_created', 'upsell', ['flagged_by_slack_id', 'created_at'], unique=False)
    op.create_index('ix_upsell_partner_created', 'upsell', ['partner_id', 'created_at'], unique=False)
    op.create_index('ix_upsell_status_created', 'upsell', ['status', 'created_at'], unique=False)
    op.create_table('account_product_line',
    sa.Column('account_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('product_line', sa.String(length=100), autoincrement=False, nullable=False),
    sa.Column('since', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('upsell_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['customer_account.id'], ),
    sa.ForeignKeyConstraint(['upsell_id'], ['upsell.id'], ),
    sa.PrimaryKeyConstraint('account_id', 'product_line')
    )
    op.create_table('upsell_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('upsell_id', sa.Integer(), nullable=False),
    sa.Column('from_status', STATUS_EXISTING, nullable=True),
    sa.Column('to_status', STATUS_EXISTING, nullable=False),
    sa.Column('actor_slack_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=3000), nullable=True),
    sa.Column('at', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['upsell_id'], ['upsell.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_upsell_event_upsell_id'), 'upsell_event', ['upsell_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_upsell_event_upsell_id'), table_name='upsell_event')
    op.drop_table('upsell_event')
    op.drop_table('account_product_line')
    op.drop_index('ix_upsell_status_created', table_name='upsell')
    op.drop_index('ix_upsell_partner_created', table_name='upsell')
    op.drop_index('ix_upsell_flagger_created', table_name='upsell')
    op.drop_index('ix_upsell_assignee_status_created', table_name='upsell')
    op.drop_index('ix_upsell_account_target_status', table_name='upsell')
    op.drop_table('upsell')
    op.drop_index('ix_account_partner_partner', table_name='account_partner')
    op.drop_table('account_partner')
    op.drop_index(op.f('ix_customer_account_owner_slack_id'), table_name='customer_account')
    op.drop_index(op.f('ix_customer_account_name_key'), table_name='customer_account')
    op.drop_table('customer_account')
    if op.get_bind().dialect.name == 'postgresql':
        for name in NEW_TYPES:
            op.execute(f'DROP TYPE IF EXISTS {name}')
