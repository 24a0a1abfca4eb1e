"""conflict trigram index

Revision ID: 0004
Revises: 0003

The trigram index of protected company keys (conflict_trigram), filled from the registrations that protect a
company now. It replaces the key-length index and PostgreSQL's pg_trgm index on every registration: those
grew with everything ever registered, this grows with what is protected. Single-column indexes that the
composite indexes of 0003 already lead with are dropped, as every registration paid for them.
"""

import sqlalchemy as sa
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

REDUNDANT = {  # index -> column; each is the first column of a composite index
    'ix_registration_partner_id': 'partner_id',
    'ix_registration_submitted_by_slack_id': 'submitted_by_slack_id',
    'ix_registration_assigned_to_slack_id': 'assigned_to_slack_id',
    'ix_registration_status': 'status',
}
BATCH = 5_000


def _code(trigram: str) -> int:
    # Frozen copy of storage.conflict_index.trigram_code: a migration must not change when the code does.
    code = 0
    for character in trigram:
        code = (code << 21) | ord(character)
    return code


def upgrade() -> None:
    op.create_table('conflict_trigram',
                    sa.Column('trigram', sa.BigInteger(), autoincrement=False, nullable=False),
                    sa.Column('key_length', sa.Integer(), autoincrement=False, nullable=False),
                    sa.Column('registration_id', sa.Integer(), autoincrement=False, nullable=False),
                    sa.ForeignKeyConstraint(['registration_id'], ['registration.id']),
                    sa.PrimaryKeyConstraint('trigram', 'key_length', 'registration_id'),
                    sqlite_with_rowid=False)
    op.create_index('ix_conflict_trigram_registration', 'conflict_trigram', ['registration_id'], unique=False)
    bind = op.get_bind()
    table = sa.table('conflict_trigram', sa.column('trigram'), sa.column('key_length'),
                     sa.column('registration_id'))
    rows = bind.execute(sa.text("SELECT id, company_key FROM registration "
                                "WHERE status IN ('received', 'under_review', 'approved') ORDER BY id")).fetchall()
    batch = []
    for registration_id, key in rows:
        codes = {_code(key[i:i + 3]) for i in range(len(key) - 2)} | {-1}
        batch += [{'trigram': c, 'key_length': len(key), 'registration_id': registration_id} for c in codes]
        if len(batch) >= BATCH:
            bind.execute(table.insert(), batch)
            batch = []
    if batch:
        bind.execute(table.insert(), batch)
    op.drop_index('ix_registration_company_key_trgm', table_name='registration')
    op.drop_index('ix_registration_key_length', table_name='registration')
    for name in REDUNDANT:
        op.drop_index(name, table_name='registration')


def downgrade() -> None:
    for name, column in REDUNDANT.items():
        op.create_index(name, 'registration', [column], unique=False)
    op.create_index('ix_registration_key_length', 'registration', [sa.text('length(company_key)'), 'company_key'],
                    unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        op.create_index('ix_registration_company_key_trgm', 'registration', ['company_key'], unique=False,
                        postgresql_using='gin', postgresql_ops={'company_key': 'gin_trgm_ops'})
    else:
        op.create_index('ix_registration_company_key_trgm', 'registration', ['company_key'], unique=False,
                        sqlite_where=sa.text('0'))
    op.drop_index('ix_conflict_trigram_registration', table_name='conflict_trigram')
    op.drop_table('conflict_trigram')
