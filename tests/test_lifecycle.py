"""Partners' lifecycle stages: every change kept (imports included), on the real database (SQLite or PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from alembic import command
from sqlalchemy import text
from sqlmodel import Session, select

from bot.demo_data import import_demo_records
from storage.db import alembic_config, transaction
from storage.lifecycle import stage_history
from storage.models import Partner, PartnerStage, PartnerStageEvent, Registration, utcnow
from tests.e2e_support import (  # noqa: F401  (bot, clock: fixtures, the bot on a clock the test moves)
    bot,
    clock,
    dm_messages,
    register_via_desk,
    text_of,
)
from workflows.imports import PARTNER_COLUMNS, import_partners, rows_as_csv
from workflows.lifecycle import move_stage


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


# Automatic transitions, through the real flows: a partner's people register on its desk, the AE decides ----------

def set_stage(engine, name: str, stage: PartnerStage, who: str = "U0PRIYA") -> None:
    """A partner manager's move (what /partner stage does), to set the scene."""
    with transaction(engine) as session:
        partner = session.exec(select(Partner).where(Partner.name == name)).one()
        move_stage(session, partner, stage, actor=who, now=utcnow(), reason="setting the scene")


def register(bot, user_id: str, channel_id: str, company: str) -> str:
    """A lead for `company` from the partner's desk; returns its reference."""
    register_via_desk(bot, user_id, channel_id, form={"company": company, "domain": f"{company.lower()}.com"})
    with Session(bot.engine) as session:
        reg = session.exec(select(Registration).order_by(Registration.id.desc())).first()
    return reg.reference


def review_of(bot, reference: str):
    """The AE it was routed to, and their review message."""
    for ae in ("U0ALEX", "U0BEA"):
        for message in dm_messages(bot.sandbox, ae):
            if reference in text_of(message) and bot.sandbox.buttons(message):
                return ae, message
    raise AssertionError(f"no review message for {reference}")


def win(bot, reference: str) -> str:
    """The routed AE accepts the lead (unless it is approved already) and marks its deal won; returns who."""
    ae, review = review_of(bot, reference)
    if any(b.action_id == "review_accept" for b in bot.sandbox.buttons(review)):
        assert bot.driver.click(ae, "review_accept", message=(review.channel, review.ts)).status == 200
        ae, review = review_of(bot, reference)
    assert bot.driver.click(ae, "deal_won", message=(review.channel, review.ts)).status == 200
    return ae


def undo_last(bot, ae: str) -> None:
    prompt = next(e for e in reversed(bot.sandbox.ephemerals(ae))
                  if any(b.action_id == "review_undo" for b in bot.sandbox.buttons(e)))
    assert bot.driver.click(ae, "review_undo", message=(prompt.channel, prompt.ts)).status == 200


def test_a_partners_first_registration_makes_it_activated_once(bot, engine):
    set_stage(engine, "Globex Referrals", PartnerStage.onboarded)
    first = register(bot, "U0BOB", "C0GLOBEX", "Acme")
    globex = partner_named(engine, "Globex Referrals")
    assert globex.stage == PartnerStage.activated
    assert history(engine, "Globex Referrals")[-1] == ("onboarded", "activated", "rule:first_registration",
                                                       f"first registration: {first}", 1)
    register(bot, "U0BETH", "C0GLOBEX", "Umbrella")
    assert len(history(engine, "Globex Referrals")) == 3  # import, the manager's move, the rule: nothing more
    assert partner_named(engine, "Globex Referrals").stage_since == globex.stage_since
    assert_history_is_whole(engine)


def test_the_first_won_deal_makes_a_partner_producing_and_undoing_that_win_takes_it_back(bot, engine):
    activated_since = partner_named(engine, "Globex Referrals").stage_since  # activated by the import
    reference = register(bot, "U0BOB", "C0GLOBEX", "Acme")
    ae = win(bot, reference)
    assert partner_named(engine, "Globex Referrals").stage == PartnerStage.producing
    assert history(engine, "Globex Referrals")[-1] == ("activated", "producing", "rule:first_win",
                                                       f"first won deal: {reference}", 1)
    undo_last(bot, ae)
    globex = partner_named(engine, "Globex Referrals")
    assert (globex.stage, globex.stage_since) == (PartnerStage.activated, activated_since)
    assert history(engine, "Globex Referrals")[-1] == (
        "producing", "activated", ae, f"the win of {reference} that made it producing was undone", 1)
    assert len(history(engine, "Globex Referrals")) == 3  # nothing is lost: the move and its undo stay
    assert_history_is_whole(engine)


def test_an_undone_win_leaves_the_stage_alone_when_it_did_not_make_it(bot, engine):
    first = register(bot, "U0BOB", "C0GLOBEX", "Acme")
    win(bot, first)
    second = register(bot, "U0BETH", "C0GLOBEX", "Umbrella")
    ae = win(bot, second)  # not the first win: no move
    undo_last(bot, ae)
    assert partner_named(engine, "Globex Referrals").stage == PartnerStage.producing
    win(bot, second)
    set_stage(engine, "Globex Referrals", PartnerStage.activated)  # the manager moves it back by hand
    win(bot, register(bot, "U0BOB", "C0GLOBEX", "Initrode"))  # not a first win: the manager's move stands
    assert partner_named(engine, "Globex Referrals").stage == PartnerStage.activated
    assert [h[2] for h in history(engine, "Globex Referrals")] == ["import", "rule:first_win", "U0PRIYA"]
    assert_history_is_whole(engine)


def test_an_undone_first_win_leaves_a_stage_the_manager_gave_since(bot, engine):
    reference = register(bot, "U0BOB", "C0GLOBEX", "Acme")
    ae = win(bot, reference)
    set_stage(engine, "Globex Referrals", PartnerStage.strategic)
    undo_last(bot, ae)
    assert partner_named(engine, "Globex Referrals").stage == PartnerStage.strategic
    assert [h[2] for h in history(engine, "Globex Referrals")] == ["import", "rule:first_win", "U0PRIYA"]


def test_automatic_rules_never_move_a_partner_backwards(bot, engine):
    set_stage(engine, "Globex Referrals", PartnerStage.strategic)
    win(bot, register(bot, "U0BOB", "C0GLOBEX", "Acme"))  # a first registration and a first win
    assert partner_named(engine, "Globex Referrals").stage == PartnerStage.strategic
    win(bot, register(bot, "U0DANA", "C0NORTH", "Umbrella"))  # producing already
    assert partner_named(engine, "Northwind Consulting").stage == PartnerStage.producing
    assert [h[2] for h in history(engine, "Globex Referrals")] == ["import", "U0PRIYA"]
    assert [h[2] for h in history(engine, "Northwind Consulting")] == ["import"]
