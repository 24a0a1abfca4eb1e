"""Partners' lifecycle stages: every change kept (imports included), on the real database (SQLite or PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text
from sqlmodel import Session, select

from bot.demo_data import import_demo_records
from storage.actors import resolve_actor
from storage.crm.status import mirror_of
from storage.crm.writer import drain_outbox
from storage.db import alembic_config, transaction
from storage.lifecycle import stage_history
from storage.models import (
    CrmOutbox,
    Partner,
    PartnerStage,
    PartnerStageEvent,
    Registration,
    utcnow,
)
from tests.e2e_support import (  # noqa: F401  (bot, clock: fixtures, the bot on a clock the test moves)
    bot,
    clock,
    dm_messages,
    register_via_desk,
    text_of,
)
from tests.support import RecordingNotifier
from workflows.imports import PARTNER_COLUMNS, import_partners, rows_as_csv
from workflows.lifecycle import change_stage, move_stage
from workflows.partner_card import show_partner
from workflows.people import identify
from workflows.program import Program
from workflows.services import NotAllowed, Services


class FixedClock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


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
    migrate(engine, "0014", down=True)  # a database in use before stages had a history
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
        stage_rows = session.exec(select(CrmOutbox.partner_id, CrmOutbox.event, CrmOutbox.status)).all()
        assert stage_rows == [(1, "stage", "pending"), (2, "stage", "pending")]  # Salesforce hears each stage once
    assert_history_is_whole(engine)
    migrate(engine, "0014", down=True)  # and back, for an operator who must
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


# /partner stage ----------------------------------------------------------------------------------------------

def slash_partner(bot, user_id: str, text: str) -> str:
    """Run `/partner <text>` in the user's DM with the bot; what they were told."""
    assert bot.driver.command(user_id, "/partner", text).status == 200
    return text_of(dm_messages(bot.sandbox, user_id)[-1])


def test_partner_managers_and_admins_move_partners_by_name_with_a_reason_kept_and_escaped(bot, engine):
    told = slash_partner(bot, "U0PRIYA", "stage globex onboarded no deals yet <!channel>")
    assert "Globex Referrals moved from activated to onboarded." in told
    assert history(engine, "Globex Referrals")[-1] == ("activated", "onboarded", "U0PRIYA",
                                                       "no deals yet <!channel>", None)
    globex = partner_named(engine, "Globex Referrals")
    with Session(engine) as session:  # each stage it had is on its way to its Salesforce Account
        assert session.exec(select(CrmOutbox.event).where(CrmOutbox.partner_id == globex.id)).all() == [
            "stage", "stage"]
    drain_outbox(engine, bot.runtime.settings, notify=lambda text: None)  # no Salesforce: the local mirror
    [account] = mirror_of(engine, f"PARTNER-{globex.id:05d}")
    assert (account.field_values["Partner_Stage__c"], account.field_values["Partner_Stage_Since__c"]) == (
        "onboarded", globex.stage_since.date().isoformat())
    told = slash_partner(bot, "U0ADMIN", '"Northwind Consulting" strategic')  # not a subcommand: says so
    assert "I don't know `/partner" in told
    told = slash_partner(bot, "U0ADMIN", 'stage "Northwind Consulting" Strategic')
    assert "Northwind Consulting moved from producing to strategic." in told
    assert history(engine, "Northwind Consulting")[-1][:4] == ("producing", "strategic", "U0ADMIN", None)
    assert_history_is_whole(engine)


def test_only_partner_managers_and_admins_change_stages(bot, engine):
    for user_id in ("U0ALEX", "U0GUEST"):  # an AE; a partner's guest in our workspace
        told = slash_partner(bot, user_id, "stage Globex producing")
        assert "Only partner managers and admins can change a partner's stage." in told
    assert partner_named(engine, "Globex Referrals").stage == PartnerStage.activated


def test_bad_stage_commands_get_specific_answers_and_change_nothing(bot, engine):
    import_partners_rows(engine, [("Acme Strategic Group", "agency", "registered", "recruited", "acme-group.com",
                                   "", "", "", "")])
    answers = {
        "stage": "Name the partner and its new stage",
        "stage Globex": "Which stage? Give one of: prospect, recruited, onboarded, activated, producing, strategic",
        "stage Globex superstar": "Which stage?",
        "stage Nortwind producing": "No partner is called “Nortwind”. Did you mean Northwind Consulting?",
        "stage Zzyzx producing": "No partner is called “Zzyzx”.",
        "stage in producing": "“in” fits several partners: Initech Agency, Northwind Consulting. Give more of the "
                              "name.",
        "stage Globex activated": "Globex Referrals is already activated: nothing changed.",
        "stage Globex producing " + "x" * 1001: "Keep the reason under 1000 characters.",
    }
    for text, expected in answers.items():
        assert expected in slash_partner(bot, "U0PRIYA", text), text
    assert "Did you mean" not in slash_partner(bot, "U0PRIYA", "stage Zzyzx producing")
    assert [len(history(engine, name)) for name in ("Globex Referrals", "Northwind Consulting")] == [1, 1]
    # A name with a stage word in it: the reading that is a partner's whole name wins.
    told = slash_partner(bot, "U0PRIYA", "stage acme strategic group onboarded signed the agreement")
    assert "Acme Strategic Group moved from recruited to onboarded." in told
    assert history(engine, "Acme Strategic Group")[-1][3] == "signed the agreement"


def import_partners_rows(engine, rows) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "partners.csv")
        path.write_text(rows_as_csv(PARTNER_COLUMNS, rows), encoding="utf-8")
        report = import_partners(engine, path)
    assert not report.errors, report.errors


# /partner show and the card's stage menu ----------------------------------------------------------------------

def card_of(bot, user_id: str, name: str):
    assert bot.driver.command(user_id, "/partner", f"show {name}").status == 200
    return dm_messages(bot.sandbox, user_id)[-1]


def stage_menu(message) -> dict | None:
    return next((block["accessory"] for block in message.blocks
                 if (block.get("accessory") or {}).get("action_id") == "partner_stage"), None)


def test_the_partner_card_counts_with_sql_and_shows_stage_people_deals_and_history(bot, engine, clock):
    win(bot, register(bot, "U0DANA", "C0NORTH", "Acme"))
    umbrella = register(bot, "U0DANA", "C0NORTH", "Umbrella")
    ae, review = review_of(bot, umbrella)
    bot.driver.click(ae, "review_accept", message=(review.channel, review.ts))
    since = partner_named(engine, "Northwind Consulting").stage_since
    clock.offset = timedelta(days=100)
    register(bot, "U0DANA", "C0NORTH", "Initrode")
    card = card_of(bot, "U0PRIYA", "northwind")
    shown = text_of(card)
    assert "*Northwind Consulting* · Reseller · Gold tier" in shown
    assert f"*Stage:* Producing for 100 days (since {since:%-d %b %Y})" in shown
    assert "<@U0PRIYA> (Priya Nair)" in shown and "<@U0DANA>" in shown
    assert "*Registrations*\n2 open · 1 won" in shown and "*Upsells*\n0 open · 0 won" in shown
    assert "*Lead-to-close*\n50% (1 won of 2 submitted more than 90 days ago)" in shown
    assert "*Won in the last 12 months*\n1 deal won for 48,000 USD" in shown
    assert f"*Last activity*\n{clock():%-d %b %Y}" in shown
    assert f"• {since:%-d %b %Y} · started as Producing · partner import: partnerbot import partners" in shown
    assert "Recent nudges" not in shown  # none sent to this partner (tests/test_nudges.py shows them listed)
    menu = stage_menu(card)
    assert menu["initial_option"]["value"] == f"{partner_named(engine, 'Northwind Consulting').id}:producing"
    assert [o["value"].split(":")[1] for o in menu["options"]] == [s.value for s in PartnerStage]


def test_the_card_is_for_our_team_and_its_menu_for_those_who_change_stages(bot, engine):
    ae_card = card_of(bot, "U0ALEX", "Globex")
    assert "*Globex Referrals*" in text_of(ae_card) and stage_menu(ae_card) is None
    refused = text_of(card_of(bot, "U0GUEST", "Globex"))  # a partner's guest in our workspace
    assert "The partner card is for our own team." in refused and "Globex" not in refused
    assert "Name the partner" in text_of(card_of(bot, "U0PRIYA", ""))
    assert "fits several partners" in text_of(card_of(bot, "U0PRIYA", "n"))
    with Session(engine) as session:
        alex = resolve_actor(session, user_id="U0ALEX", team_id="T0OURS", our_team_id="T0OURS")
    with pytest.raises(NotAllowed):  # a forged menu click by an AE
        change_stage(bot.services, actor=alex, partner_id=partner_named(engine, "Globex Referrals").id,
                     stage=PartnerStage.producing)
    assert len(history(engine, "Globex Referrals")) == 1


def test_the_cards_stage_menu_moves_the_partner_and_shows_the_card_again(bot, engine):
    card = card_of(bot, "U0PRIYA", "Globex")
    globex = partner_named(engine, "Globex Referrals")
    picked = bot.driver.click("U0PRIYA", "partner_stage", message=(card.channel, card.ts),
                              selected=f"{globex.id}:producing")
    assert picked.status == 200
    assert partner_named(engine, "Globex Referrals").stage == PartnerStage.producing
    assert history(engine, "Globex Referrals")[-1] == ("activated", "producing", "U0PRIYA", None, None)
    card = dm_messages(bot.sandbox, "U0PRIYA")[-1]  # replaced in place
    assert "*Stage:* Producing since today" in text_of(card)
    assert "Activated → Producing · <@U0PRIYA>" in text_of(card)
    assert stage_menu(card)["initial_option"]["value"] == f"{globex.id}:producing"
    assert bot.driver.redeliver(picked).status == 200  # a replay changes nothing
    assert len(history(engine, "Globex Referrals")) == 2
    forged = {"text": {"type": "plain_text", "text": "Strategic"}, "value": "99999:strategic"}
    bot.driver.click("U0PRIYA", "partner_stage", message=(card.channel, card.ts), selected=forged)
    assert "That partner is no longer in the program." in text_of(dm_messages(bot.sandbox, "U0PRIYA")[-1])


def test_the_card_costs_the_same_queries_whatever_the_number_of_deals(engine, now):
    """Counted by SQL aggregates: a partner with 60 deals costs what one with 3 does, none of them loaded."""
    from sqlalchemy import event, insert

    from tests.crm.crm_factories import registration_values

    import_demo_records(engine)
    services = Services(engine=engine, program=Program(), notifier=RecordingNotifier(), clock=lambda: now,
                        our_team_id="T0OURS", bot_user_id="U0BOT")
    priya = identify(services, user_id="U0PRIYA", team_id="T0OURS")
    northwind = partner_named(engine, "Northwind Consulting")

    def add_deals(count: int, start: int) -> None:
        template = Registration(**registration_values(now, partner_id=northwind.id)).model_dump(exclude={"id"})
        with Session(engine) as session:
            session.execute(insert(Registration), [template | {
                "company": f"Customer {n}", "company_key": f"customer {n}", "domain": None,
                "created_at": now - timedelta(days=3 * n), "status": "won" if n % 3 == 0 else "approved",
                "closed_at": now - timedelta(days=3 * n - 1) if n % 3 == 0 else None} for n in range(start, start + count)])
            session.commit()

    def statements() -> tuple[int, object]:
        seen = []
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            card = show_partner(services, actor=priya, text="Northwind")
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len(seen), card

    add_deals(3, 0)
    few, card = statements()
    assert (card.figures.won_registrations, card.figures.open_registrations) == (1, 2)
    add_deals(57, 3)
    many, card = statements()
    assert (card.figures.won_registrations, card.figures.open_registrations) == (20, 40)
    assert many == few
    # Submitted more than 90 days ago: deals 30 to 59, of which every third won.
    assert (card.figures.decided, card.figures.decided_won) == (30, 10)
