"""Migration 0013 on a database in use: the CRM outbox and mirror keep every row, and take upsells afterwards."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from storage.db import alembic_config

ROWS = [
    "INSERT INTO partner (id, name, type, tier, stage, created_at, updated_at) "
    "VALUES (1, 'Northwind', 'reseller', 'registered', 'prospect', :at, :at)",
    "INSERT INTO registration (id, partner_id, submitted_by_slack_id, company, company_key, contact_name, "
    "contact_email, region, product_line, estimated_value, currency, pricing_model, company_size, budget, timeline, "
    "attribution, notes, status, conflict_with, score_breakdown, created_at, updated_at) VALUES (1, 1, 'U1', 'Acme', "
    "'acme', 'Ada', 'ada@acme.com', 'EMEA', 'x', 10, 'EUR', 'subscription', '', '', '', 'sourced', '', 'approved', "
    "'[]', '{}', :at, :at)",
    "INSERT INTO crm_outbox (id, registration_id, event, payload, urgent, status, attempts, next_attempt_at, "
    "created_at) VALUES (1, 1, 'approved', '{}', false, 'pending', 0, :at, :at)",
    "INSERT INTO crm_mirrored_write (outbox_id, mirrored_at) VALUES (1, :at)",
    "INSERT INTO crm_record (id, sobject, external_key, registration_id, partner_id, field_values, version, "
    "mirrored_at) VALUES (1, 'Opportunity', 'REG-00001', 1, 1, '{}', 1, :at)",
]


def migrate(engine, revision: str, *, down: bool = False) -> None:
    with engine.begin() as connection:
        (command.downgrade if down else command.upgrade)(alembic_config(connection), revision)


def test_upgrading_a_database_with_crm_rows_keeps_them_and_takes_upsells(engine, now):
    migrate(engine, "0012", down=True)  # as the database was before upsells' CRM work
    with engine.begin() as connection:
        for statement in ROWS:
            connection.execute(text(statement), {"at": now.replace(tzinfo=None)})
        if connection.dialect.name == "postgresql":  # rows with their own ids: the next one is the sequence's
            connection.execute(text("SELECT setval('crm_outbox_id_seq', (SELECT max(id) FROM crm_outbox))"))
    migrate(engine, "head")
    with engine.connect() as connection:
        # (0015 adds the partner's stage row: tests/test_lifecycle.py)
        assert connection.execute(text("SELECT id, registration_id, upsell_id FROM crm_outbox "
                                        "WHERE partner_id IS NULL")).all() == [(1, 1, None)]
        assert connection.execute(text("SELECT outbox_id FROM crm_mirrored_write")).scalars().all() == [1]
        assert connection.execute(text("SELECT upsell_id FROM crm_record")).scalars().all() == [None]
    with pytest.raises(IntegrityError):  # a row is about a registration or an upsell, never neither
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO crm_outbox (event, payload, urgent, status, attempts, "
                                    "next_attempt_at, created_at) VALUES ('won', '{}', false, 'pending', 0, :at, :at)"),
                               {"at": now.replace(tzinfo=None)})
    migrate(engine, "0012", down=True)  # and back, for an operator who must
    with engine.connect() as connection:
        assert connection.execute(text("SELECT id, registration_id FROM crm_outbox")).all() == [(1, 1)]
        assert connection.execute(text("SELECT outbox_id FROM crm_mirrored_write")).scalars().all() == [1]
    migrate(engine, "head")  # the fixture's database ends as it began
