"""End to end: commands, deals lists, App Home, bad requests, retries, failures and the manifest."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import jsonschema
import requests
import yaml
from sqlmodel import Session, select

from bot.local import local_bot
from bot.server import make_wsgi_app, HttpServer
from handlers.ids import MESSAGE_SUBSCRIPTIONS, Command, Event
from storage.db import make_engine
from storage.models import ProcessedEvent, Registration
from tests.e2e_support import (
    GOOD_FORM,
    desk_message,
    dm_messages,
    register_via_desk,
    submit_form_in_production_mode,
    text_of,
)
from workflows import registrations as registrations_module

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT.parent / "shared" / "slack" / "manifest.schema.1.0.0.json"


def count(engine, model) -> int:
    with Session(engine) as session:
        return len(session.exec(select(model)).all())


def test_internal_user_registers_for_a_partner_with_the_picker(bot, engine):
    sandbox, driver = bot.sandbox, bot.driver
    assert driver.command("U0PRIYA", "/lead", "https://www.hooli.com/about").status == 200
    modal = sandbox.open_modal("U0PRIYA")
    domain = next(b for b in modal.blocks if b.get("block_id") == "domain")
    assert domain["element"]["initial_value"] == "https://www.hooli.com/about"
    options = driver.suggest("U0PRIYA", modal.id, "partner", "north").json["options"]
    assert [(o["value"], o["text"]["text"]) for o in options] == [("1", "Northwind Consulting")]
    assert driver.submit("U0PRIYA", modal.id, dict(GOOD_FORM, company="Hooli", domain="hooli.com",
                                                   partner="1")).status == 200
    with Session(engine) as session:
        reg = session.exec(select(Registration)).one()
        assert (reg.partner_id, reg.submitted_by_slack_id) == (1, "U0PRIYA")
    assert any("Registered REG-00001" in text_of(m) for m in dm_messages(sandbox, "U0PRIYA"))
    assert any(reg.reference in text_of(m) for m in sandbox.messages("C0NORTH"))  # the partner is told too


def test_deals_lists_respect_who_asks(bot):
    sandbox, driver = bot.sandbox, bot.driver
    register_via_desk(bot, "U0BOB", "C0GLOBEX")
    register_via_desk(bot, "U0BETH", "C0GLOBEX", {"company": "Umbrella", "domain": "umbrella.com"})
    desk = desk_message(sandbox, "C0GLOBEX")
    driver.click("U0BETH", "my_deals", message=("C0GLOBEX", desk.ts))
    [beth_view] = sandbox.ephemerals("U0BETH")
    assert "Umbrella" in text_of(beth_view) and "Acme" not in text_of(beth_view)  # referral: own leads only
    driver.command("U0PRIYA", "/partner", "deals")
    [priya_view] = sandbox.ephemerals("U0PRIYA") or dm_messages(sandbox, "U0PRIYA")[-1:]
    assert "Umbrella" in text_of(priya_view) and "Acme" in text_of(priya_view)
    driver.command("U0CARL", "/partner", "deals")
    assert "No registrations" in text_of((sandbox.ephemerals("U0CARL") or dm_messages(sandbox, "U0CARL"))[-1])


def test_help_and_unknown_users(bot):
    sandbox, driver = bot.sandbox, bot.driver
    driver.command("U0ALEX", "/partner", "")
    assert "/lead [company or domain]" in text_of(dm_messages(sandbox, "U0ALEX")[-1])
    driver.command("U0ALEX", "/partner", "frobnicate")
    assert "I don't know `/partner frobnicate`" in text_of(dm_messages(sandbox, "U0ALEX")[-1])
    sandbox.add_user("U0NEW", "T0OURS", "New Hire")
    assert driver.command("U0NEW", "/lead", "acme.com").status == 200
    assert sandbox.open_modal("U0NEW") is None
    assert "I don't know you yet" in text_of(dm_messages(sandbox, "U0NEW")[-1])
    driver.mention("U0DANA", "C0NORTH", "hello?")
    reply = [e for e in sandbox.ephemerals("U0DANA") if e.channel == "C0NORTH" and "partner desk" in text_of(e)]
    assert reply and reply[-1].thread_ts, "a mention without 'lead' gets the partner's help, in the thread"
    assert not [m for m in sandbox.messages("C0NORTH") if m.thread_ts and "partner desk" in text_of(m)], \
        "help is private: the partner's other contacts in the shared channel do not see it"
    driver.mention("U0ALEX", "C0NORTH", "what can you do?")
    internal_help = [e for e in sandbox.ephemerals("U0ALEX") if e.channel == "C0NORTH"]
    assert internal_help and "/lead" in text_of(internal_help[-1])
    assert not any("/lead" in text_of(m) for m in sandbox.messages("C0NORTH")), \
        "our internal commands are never described in the partner's shared channel"


def test_app_home_lists_the_users_leads(bot):
    register_via_desk(bot, "U0DANA", "C0NORTH")
    bot.driver.home_opened("U0ALEX")
    home = bot.sandbox.home("U0ALEX")
    assert "REG-00001" in str(home.blocks) and "Acme" in str(home.blocks)
    bot.driver.home_opened("U0CARL")
    assert "Nothing waiting for you" in str(bot.sandbox.home("U0CARL").blocks)


def test_forged_and_stale_requests_get_401_and_change_nothing(bot, engine):
    desk = desk_message(bot.sandbox, "C0NORTH")
    assert bot.driver.click("U0DANA", "register_lead", message=("C0NORTH", desk.ts), forge=True).status == 401
    assert bot.driver.command("U0ALEX", "/lead", "acme.com", stale=True).status == 401
    assert bot.driver.mention("U0DANA", "C0NORTH", "lead", forge=True).status == 401
    assert bot.sandbox.open_modal("U0DANA") is None and bot.sandbox.open_modal("U0ALEX") is None
    assert count(engine, Registration) == 0


def test_event_retries_are_processed_once(bot, engine):
    before = len(bot.sandbox.messages("C0NORTH"))
    first = bot.driver.mention("U0DANA", "C0NORTH", "register a lead please", event_id="Ev0RETRY1")
    retry = bot.driver.event(first.payload["event"], event_id="Ev0RETRY1", retry_num=1)
    # Both are acknowledged at once (the de-duplication runs after the ack, so a busy database never
    # delays it); the retry is recognised and does nothing.
    assert first.status == retry.status == 200
    bot_replies = [m for m in bot.sandbox.messages("C0NORTH")[before:] if m.user == "U0BOT"]
    assert len(bot_replies) == 1
    with Session(engine) as session:
        assert session.get(ProcessedEvent, "Ev0RETRY1") is not None


def test_failure_after_ack_keeps_the_registration_and_finishes_it_later(engine, monkeypatch, caplog):
    """The partner saw "received": that stays true. The failed step is logged, and done once it can be."""
    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    with local_bot(engine, process_before_response=False) as bot, caplog.at_level(logging.ERROR):
        with monkeypatch.context() as patch:
            patch.setattr(registrations_module, "find_conflicts", broken)
            response = submit_form_in_production_mode(bot)
            assert response.status == 200  # stored, then acknowledged
            bot.sandbox.wait_for(lambda: any(r.exc_info and "disk on fire" in str(r.exc_info[1])
                                             for r in caplog.records))
            assert count(engine, Registration) == 1
            assert bot.sandbox.wait_for(lambda: [m for m in bot.sandbox.messages("C0NORTH")
                                                 if "REG-00001" in text_of(m) and not m.thread_ts])
        review = bot.sandbox.wait_for(lambda: [m for m in dm_messages(bot.sandbox, "U0ALEX")
                                               if "REG-00001" in text_of(m)], timeout=15)
        assert len(review) == 1
        token = bot.runtime.settings.slack_bot_token.get_secret_value()
    assert token not in caplog.text


def test_rate_limited_slack_is_retried(bot, engine):
    bot.sandbox.fail("chat.postMessage", status=429, retry_after=1, times=1)
    register_via_desk(bot, "U0DANA", "C0NORTH")
    posts = [c for c in bot.sandbox.calls("chat.postMessage")]
    assert any(c.status == 429 for c in posts)
    reg_root = bot.sandbox.wait_for(lambda: [m for m in bot.sandbox.messages("C0NORTH")
                                             if "REG-00001" in text_of(m) and not m.thread_ts])
    assert len(reg_root) == 1  # posted once, after waiting out Retry-After


def test_production_mode_acks_first_and_works_after(engine):
    with local_bot(engine, process_before_response=False) as bot:
        response = submit_form_in_production_mode(bot)
        assert response.status == 200 and response.elapsed < 3
        review = bot.sandbox.wait_for(lambda: dm_messages(bot.sandbox, "U0ALEX"))
        assert "Acme" in text_of(review[0])


def test_healthz_answers_only_while_the_database_does(engine, tmp_path):
    healthy = HttpServer(make_wsgi_app(None, engine)).start()
    broken_engine = make_engine(f"sqlite:///{tmp_path}/missing-dir/x.db")
    broken = HttpServer(make_wsgi_app(None, broken_engine)).start()
    try:
        assert requests.get(healthy.url + "/healthz", timeout=5).status_code == 200
        assert requests.get(broken.url + "/healthz", timeout=5).status_code == 503
        assert requests.post(healthy.url + "/other", timeout=5).status_code == 404
    finally:
        healthy.stop()
        broken.stop()


def test_manifest_is_valid_and_matches_the_listeners(bot):
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    assert SCHEMA.exists(), f"Slack's manifest schema is expected at {SCHEMA} (the shared folder beside the repo)"
    jsonschema.validate(manifest, json.loads(SCHEMA.read_text()))
    commands = {c["command"] for c in manifest["features"]["slash_commands"]}
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert commands == {c.value for c in Command}
    # `message` events come through one subscription per conversation type.
    assert events == {e.value for e in Event if e is not Event.message} | set(MESSAGE_SUBSCRIPTIONS)
    for command in commands:  # every command in the manifest has a listener (Bolt answers 404 otherwise)
        assert bot.driver.command("U0ALEX", command, "help").status == 200
    assert bot.driver.mention("U0ALEX", "C0NORTH", "help").status == 200
    assert bot.driver.home_opened("U0ALEX").status == 200
    assert bot.driver.bot_joined("C0NORTH").status == 200
    unknown = bot.driver.command("U0ALEX", "/not-ours", "")
    assert unknown.status == 404  # and nothing answers what the manifest does not declare


def test_partner_usage_is_for_partner_managers_only(bot, engine):
    from storage.crm.models import UsageRevenue

    register_via_desk(bot, "U0DANA", "C0NORTH", {"pricing_model": "usage_based", "starting_monthly_usage": "5000"})
    [review] = dm_messages(bot.sandbox, "U0ALEX")
    bot.driver.click("U0ALEX", "review_accept", message=(review.channel, review.ts))
    bot.driver.command("U0ALEX", "/partner", "usage REG-00001 2026-10 15000")
    assert "Only partner managers and admins" in text_of(dm_messages(bot.sandbox, "U0ALEX")[-1])
    bot.driver.command("U0PRIYA", "/partner", "usage REG-00001 2026-13 15000")
    assert "2026-13" in text_of(dm_messages(bot.sandbox, "U0PRIYA")[-1])
    bot.driver.command("U0PRIYA", "/partner", "usage REG-00001 2026-10 15000")
    assert "Recorded 15,000.00 USD for 2026-10 on REG-00001" in text_of(dm_messages(bot.sandbox, "U0PRIYA")[-1])
    with Session(engine) as session:
        assert [(u.month, int(u.amount)) for u in session.exec(select(UsageRevenue)).all()] == [("2026-10", 15000)]


def test_a_channel_that_changes_id_keeps_its_partner_and_threads(bot, engine):
    register_via_desk(bot, "U0DANA", "C0NORTH")
    response = bot.driver.event({"type": "channel_id_changed", "old_channel_id": "C0NORTH",
                                 "new_channel_id": "C0NORTH2"})
    assert response.status == 200
    with Session(engine) as session:
        from storage.models import Partner

        northwind = session.exec(select(Partner).where(Partner.name == "Northwind Consulting")).one()
        [reg] = session.exec(select(Registration)).all()
    assert (northwind.slack_channel_id, reg.partner_channel_id) == ("C0NORTH2", "C0NORTH2")


def test_the_scheduled_crm_drain_mirrors_and_managers_hear_crm_problems(bot, engine):
    from bot.scheduler import JobContext, job_named, run_job
    from storage.crm.status import mirror_of
    from workflows.people import tell_program_runners

    register_via_desk(bot, "U0DANA", "C0NORTH")
    drain = job_named("crm_drain")
    assert drain.schedule.describe() == "every minute"
    ran = run_job(JobContext(bot.services, bot.runtime.settings), drain, ran_by="test")
    # The registration's Account and Lead, and the two demo partners' stages on their Accounts.
    assert (ran.outcome, ran.result) == ("ok", "4 written (mirror), 0 refused, 0 to retry")
    assert [r.sobject for r in mirror_of(engine, 1)] == ["Account", "Lead"]
    assert tell_program_runners(bot.services, "REG-00001 refused: <!channel> Amount too low") == 1
    [notice] = dm_messages(bot.sandbox, "U0PRIYA")
    assert "&lt;!channel&gt; Amount too low" in text_of(notice)  # Salesforce's words, escaped
