"""conflict index by numbers

Revision ID: 0010
Revises: 0009

The trigram index of protected company keys leads with the numbers in each key ("" for none). Names whose
numbers differ are different companies ("Studio 1", "Studio 2"), so the fuzzy check only ever scans the keys
with the same numbers: for a numbered name a handful of rows, for the others only the keys without numbers.
The table is rebuilt from the registrations that protect a company now (its key changes).
"""

import re

import sqlalchemy as sa
from alembic import op


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

BATCH = 5_000
PROTECTING = "status IN ('received', 'under_review', 'approved')"


def _code(trigram: str) -> int:
    # Frozen copy of storage.conflict_index.trigram_code: a migration must not change when the code does.
    code = 0
    for character in trigram:
        code = (code << 21) | ord(character)
    return code


def _create(with_numbers: bool) -> None:
    columns = [sa.Column('numbers', sa.String(), nullable=False)] if with_numbers else []
    op.create_table('conflict_trigram', *columns,
                    sa.Column('trigram', sa.BigInteger(), autoincrement=False, nullable=False),
                    sa.Column('key_length', sa.Integer(), autoincrement=False, nullable=False),
                    sa.Column('registration_id', sa.Integer(), autoincrement=False, nullable=False),
                    sa.ForeignKeyConstraint(['registration_id'], ['registration.id']),
                    sa.PrimaryKeyConstraint(*(['numbers'] if with_numbers else []), 'trigram', 'key_length',
                                            'registration_id'),
                    sqlite_with_rowid=False)
    op.create_index('ix_conflict_trigram_registration', 'conflict_trigram', ['registration_id'], unique=False)


def _fill(with_numbers: bool) -> None:
    bind = op.get_bind()
    names = (['numbers'] if with_numbers else []) + ['trigram', 'key_length', 'registration_id']
    table = sa.table('conflict_trigram', *(sa.column(name) for name in names))
    rows = bind.execute(sa.text(f"SELECT id, company_key FROM registration WHERE {PROTECTING} ORDER BY id"))
    batch = []
    for registration_id, key in rows.fetchall():
        extra = {'numbers': " ".join(re.findall(r"\d+", key))} if with_numbers else {}
        codes = {_code(key[i:i + 3]) for i in range(len(key) - 2)} | {-1}
        batch += [{**extra, 'trigram': c, 'key_length': len(key), 'registration_id': registration_id}
                  for c in codes]
        if len(batch) >= BATCH:
            bind.execute(table.insert(), batch)
            batch = []
    if batch:
        bind.execute(table.insert(), batch)


def _rebuild(with_numbers: bool) -> None:
    op.drop_index('ix_conflict_trigram_registration', table_name='conflict_trigram')
    op.drop_table('conflict_trigram')
    _create(with_numbers)
    _fill(with_numbers)


def upgrade() -> None:
    _rebuild(True)


def downgrade() -> None:
    _rebuild(False)
