"""crm outbox for upsells

Revision ID: 0013
Revises: 0012

The CRM outbox and the local CRM mirror serve upsells too: an outbox row is about one registration or one upsell
(exactly one of the two ids), so upsells share the drain, its backoff and `partnerbot crm status`; a mirror row
may belong to an upsell (its expansion Opportunity and Partner record).
"""

import sqlalchemy as sa
from alembic import op


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

ONE_SUBJECT = '(registration_id IS NULL) <> (upsell_id IS NULL)'


def _rebuilding_outbox(change) -> None:
    """Run `change`, which makes SQLite copy crm_outbox into a new table and drop the old one.

    With foreign keys on (storage/db.py), dropping crm_outbox while crm_mirrored_write points at its rows fails,
    and the pragma cannot be turned off inside the migration's transaction: the marks wait aside meanwhile.
    """
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
        batch_op.add_column(sa.Column('upsell_id', sa.Integer(), nullable=True))
        batch_op.alter_column('registration_id', existing_type=sa.Integer(), nullable=True)
        batch_op.create_foreign_key('fk_crm_outbox_upsell_id_upsell', 'upsell', ['upsell_id'], ['id'])
        batch_op.create_index(batch_op.f('ix_crm_outbox_upsell_id'), ['upsell_id'], unique=False)
        batch_op.create_check_constraint('ck_crm_outbox_one_subject', ONE_SUBJECT)


def _downgrade_outbox() -> None:
    with op.batch_alter_table('crm_outbox', schema=None) as batch_op:
        batch_op.drop_constraint('ck_crm_outbox_one_subject', type_='check')
        batch_op.drop_index(batch_op.f('ix_crm_outbox_upsell_id'))
        batch_op.drop_constraint('fk_crm_outbox_upsell_id_upsell', type_='foreignkey')
        batch_op.alter_column('registration_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('upsell_id')


def upgrade() -> None:
    _rebuilding_outbox(_upgrade_outbox)
    with op.batch_alter_table('crm_record', schema=None) as batch_op:
        batch_op.add_column(sa.Column('upsell_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_crm_record_upsell_id_upsell', 'upsell', ['upsell_id'], ['id'])
        batch_op.create_index(batch_op.f('ix_crm_record_upsell_id'), ['upsell_id'], unique=False)


def downgrade() -> None:
    # Upsells' CRM rows have no place in the older schema.
    op.execute('DELETE FROM crm_mirrored_write WHERE outbox_id IN '
               '(SELECT id FROM crm_outbox WHERE upsell_id IS NOT NULL)')
    op.execute('DELETE FROM crm_outbox WHERE upsell_id IS NOT NULL')
    op.execute("DELETE FROM crm_record WHERE upsell_id IS NOT NULL OR external_key LIKE 'customer:%'")
    with op.batch_alter_table('crm_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_crm_record_upsell_id'))
        batch_op.drop_constraint('fk_crm_record_upsell_id_upsell', type_='foreignkey')
        batch_op.drop_column('upsell_id')
    _rebuilding_outbox(_downgrade_outbox)
