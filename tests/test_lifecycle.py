"""Partners' lifecycle stages: every change kept (imports included), on the real database (SQLite or PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from alembic import command
from sqlalchemy import text
from sqlmodel import Session, select

from bot.demo_data import import_demo_records
from storage.db import alembic_config
from storage.lifecycle import stage_history
from storage.models import Partner, PartnerStage, PartnerStageEvent
from workflows.imports import PARTNER_COLUMNS, import_partners, rows_as_csv


def partner_named(engine, name: str) -> Partner:
    with Session(engine) as session:
        return session.exec(select(Partner).where(Partner.name == name)).one()


def history(engine, name: str) -> list[tuple]:
    """(from, to, actor, reason, registration id) of a partner's stage changes, oldest first."""
    with Session(engine) as session:
        partner = session.exec(select(Partner).where(Partner.name == name)).one()
        return [(e.from_stage, e.to_stage, e.actor, e.reason, e.registration_id)
                for e in reversed(stage_history(session, partner.id))]


def assert_history_is_whole(engine) -> None:
    """Every partner's history is a chain from its first stage to the one it has: no change missing."""
    with Session(engine) as session:
        for partner in session.exec(select(Partner)).all():
            events = list(reversed(stage_history(session, partner.id)))
            assert events and events[0].from_stage is None
            for before, after in zip(events, events[1:]):
                assert after.from_stage == before.to_stage and after.at >= before.at
            assert events[-1].to_stage == partner.stage


INITECH = ("Initech Agency", "agency", "registered", "onboarded", "initech.dev", "", "", "", "U0GUEST")


def test_an_import_records_each_new_partners_stage_and_each_change_of_it(engine, tmp_path):
    import_demo_records(engine)
    assert history(engine, "Northwind Consulting") == [(None, "producing", "import", "partnerbot import partners",
                                                        None)]
    northwind = partner_named(engine, "Northwind Consulting")
    assert northwind.stage_since == northwind.created_at

    again = tmp_path / "again.csv"
    again.write_text(rows_as_csv(PARTNER_COLUMNS, [INITECH]), encoding="utf-8")
    report = import_partners(engine, again)
    assert (report.unchanged, report.warnings) == (1, [])
    assert len(history(engine, "Initech Agency")) == 1  # nothing changed, nothing recorded

    back = tmp_path / "back.csv"
    back.write_text(rows_as_csv(PARTNER_COLUMNS, [INITECH[:3] + ("recruited",) + INITECH[4:]]), encoding="utf-8")
    report = import_partners(engine, back)
    assert report.updated == 1
    assert report.warnings == [(2, "stage: moves Initech Agency back from onboarded to recruited (its stage history "
                                   "keeps both)")]
    assert history(engine, "Initech Agency") == [
        (None, "onboarded", "import", "partnerbot import partners", None),
        ("onboarded", "recruited", "import", "partnerbot import partners", None)]
    initech = partner_named(engine, "Initech Agency")
    assert initech.stage == PartnerStage.recruited and initech.stage_since > initech.created_at
    assert_history_is_whole(engine)


def migrate(engine, revision: str, *, down: bool = False) -> None:
    with engine.begin() as connection:
        (command.downgrade if down else command.upgrade)(alembic_config(connection), revision)


def test_the_migration_starts_each_partners_history_with_the_stage_it_had(engine, now):
    migrate(engine, "0013", down=True)  # a database in use before stages had a history
    earlier = (now - timedelta(days=40)).replace(tzinfo=None)
    with engine.begin() as connection:
        for number, stage in ((1, "producing"), (2, "onboarded")):
            connection.execute(text("INSERT INTO partner (id, name, type, tier, stage, created_at, updated_at) "
                                    "VALUES (:id, :name, 'reseller', 'registered', :stage, :created, :updated)"),
                               {"id": number, "name": f"Partner {number}", "stage": stage,
                                "created": earlier - timedelta(days=300), "updated": earlier})
    migrate(engine, "head")
    with Session(engine) as session:
        partners = session.exec(select(Partner).order_by(Partner.id)).all()
        assert [p.stage_since for p in partners] == [earlier.replace(tzinfo=now.tzinfo)] * 2  # its last change
        events = session.exec(select(PartnerStageEvent).order_by(PartnerStageEvent.id)).all()
        assert [(e.partner_id, e.from_stage, e.to_stage, e.actor) for e in events] == [
            (1, None, "producing", "migration"), (2, None, "onboarded", "migration")]
    assert_history_is_whole(engine)
    migrate(engine, "0013", down=True)  # and back, for an operator who must
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM partner")).scalar_one() == 2
    migrate(engine, "head")  # the fixture's database ends as it began
