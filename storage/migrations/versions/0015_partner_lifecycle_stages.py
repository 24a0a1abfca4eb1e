"""partner lifecycle stages

Revision ID: 0015
Revises: 0014

Partners' lifecycle: when each entered its stage (partner.stage_since), every stage change kept
(partner_stage_event, started with each partner's stage as it was), the strategic proposals a rule sends to a
partner's manager once (stage_proposal), an index for a partner's won deals, and CRM outbox rows about a partner
(crm_outbox.partner_id: its stage on its Salesforce Account), one of exactly three subjects. Every partner's stage
is queued for Salesforce once.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

import storage.models


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

# The stage type exists since 0001: PostgreSQL must not be asked to create it again.
STAGE = postgresql.ENUM('prospect', 'recruited', 'onboarded', 'activated', 'producing', 'strategic',
                        name='partnerstage', create_type=False)
TWO_SUBJECTS = '(registration_id IS NULL) <> (upsell_id IS NULL)'
THREE_SUBJECTS = storage.models.CRM_OUTBOX_ONE_SUBJECT


def _rebuilding_outbox(change) -> None:
    """Run `change`, which makes SQLite copy crm_outbox into a new table (as 0013 does: crm_mirrored_write's marks
    wait aside meanwhile, since foreign keys stay on inside the migration)."""
    if op.get_bind().dialect.name != 'sqlite':
        change()
        return
    op.execute('CREATE TEMP TABLE crm_mirrored_write_aside AS SELECT outbox_id, mirrored_at FROM crm_mirrored_write')
    op.execute('DELETE FROM crm_mirrored_write')
    change()
    op.execute('INSERT INTO crm_mirrored_write (outbox_id, mirrored_at) '
               'SELECT outbox_id, mirrored_at FROM crm_mirrored_write_aside')
    op.execute('DROP TABLE crm_mirrored_write_aside')


def _upgrade_outbox() -> None:
    with op.batch_alter_table('crm_outbox', schema=None) as batch_op:
        batch_op.drop_constraint('ck_crm_outbox_one_subject', type_='check')
        batch_op.add_column(sa.Column('partner_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_crm_outbox_partner_id_partner', 'partner', ['partner_id'], ['id'])
        batch_op.create_index(batch_op.f('ix_crm_outbox_partner_id'), ['partner_id'], unique=False)
        batch_op.create_check_constraint('ck_crm_outbox_one_subject', THREE_SUBJECTS)


def _downgrade_outbox() -> None:
    with op.batch_alter_table('crm_outbox', schema=None) as batch_op:
        batch_op.drop_constraint('ck_crm_outbox_one_subject', type_='check')
        batch_op.drop_index(batch_op.f('ix_crm_outbox_partner_id'))
        batch_op.drop_constraint('fk_crm_outbox_partner_id_partner', type_='foreignkey')
        batch_op.drop_column('partner_id')
        batch_op.create_check_constraint('ck_crm_outbox_one_subject', TWO_SUBJECTS)


def _add_stage_since() -> None:
    """partner.stage_since, NOT NULL, set from updated_at. SQLite cannot rebuild the partner table (every table
    points at it and foreign keys stay on), so it gets the column with a placeholder default, at once overwritten;
    the models always give a value."""
    column = sa.Column('stage_since', storage.models.UTCDateTime(timezone=True), nullable=op.get_bind().dialect.name
                       != 'sqlite', server_default=None)
    if op.get_bind().dialect.name == 'sqlite':
        column.server_default = sa.DefaultClause(sa.text("'1970-01-01 00:00:00.000000'"))
    op.add_column('partner', column)
    op.execute('UPDATE partner SET stage_since = updated_at')
    if op.get_bind().dialect.name != 'sqlite':
        op.alter_column('partner', 'stage_since', existing_type=storage.models.UTCDateTime(timezone=True),
                        nullable=False)


def upgrade() -> None:
    # When each partner entered its stage is not known: its last change is the best guess, and the history's
    # first row says so.
    _add_stage_since()
    op.create_index('ix_registration_partner_status_closed', 'registration', ['partner_id', 'status', 'closed_at'],
                    unique=False)
    op.create_table('partner_stage_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('from_stage', STAGE, nullable=True),
    sa.Column('to_stage', STAGE, nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=3000), nullable=True),
    sa.Column('registration_id', sa.Integer(), nullable=True),
    sa.Column('at', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['partner_id'], ['partner.id'], ),
    sa.ForeignKeyConstraint(['registration_id'], ['registration.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_partner_stage_event_partner', 'partner_stage_event', ['partner_id', 'id'], unique=False)
    op.execute("INSERT INTO partner_stage_event (partner_id, to_stage, actor, reason, at) "
               "SELECT id, stage, 'migration', 'its stage when stage history began', stage_since FROM partner "
               "ORDER BY id")
    op.create_table('stage_proposal',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('to_stage', STAGE, nullable=False),
    sa.Column('rule', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('recipient_slack_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('status', sa.Enum('pending', 'accepted', 'dismissed', name='proposalstatus'), nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=True),
    sa.Column('proposed_at', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_by_slack_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('decided_at', storage.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['partner_id'], ['partner.id'], ),
    sa.ForeignKeyConstraint(['registration_id'], ['registration.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('partner_id', 'to_stage')
    )
    _rebuilding_outbox(_upgrade_outbox)
    # Salesforce hears every partner's stage once (the partner's Account, found or created by its key).
    postgres = op.get_bind().dialect.name == 'postgresql'
    payload, pending, no = ("CAST('{}' AS JSON)", "CAST('pending' AS outboxstatus)", "false") if postgres \
        else ("'{}'", "'pending'", "0")
    op.execute("INSERT INTO crm_outbox (partner_id, event, payload, urgent, status, attempts, next_attempt_at, "
               f"created_at) SELECT id, 'stage', {payload}, {no}, {pending}, 0, stage_since, stage_since "
               "FROM partner ORDER BY id")


def downgrade() -> None:
    # Partners' CRM rows have no place in the older schema; the stage history goes with its tables.
    op.execute('DELETE FROM crm_mirrored_write WHERE outbox_id IN '
               '(SELECT id FROM crm_outbox WHERE partner_id IS NOT NULL)')
    op.execute('DELETE FROM crm_outbox WHERE partner_id IS NOT NULL')
    _rebuilding_outbox(_downgrade_outbox)
    op.drop_table('stage_proposal')
    op.drop_index('ix_partner_stage_event_partner', table_name='partner_stage_event')
    op.drop_table('partner_stage_event')
    op.drop_index('ix_registration_partner_status_closed', table_name='registration')
    op.execute('ALTER TABLE partner DROP COLUMN stage_since')  # SQLite 3.35+ drops it in place, too
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TYPE IF EXISTS proposalstatus')
