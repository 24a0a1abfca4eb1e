"""The weekly roll-up for partner managers: their stuck partners per stage (names capped within Slack's limits), once a
week, and Nudge them all: each stuck partner's own nudge, once per period, pressed only by the roll-up's manager or an
admin, in the sandbox as in Slack."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import Session, select

from storage.actors import Actor, ActorKind
from storage.models import Partner, PartnerStage, Role
from storage.nudges.models import Nudge, NudgeKind, NudgeMute
from tests.e2e_support import copy_to, dm_messages, text_of
from tests.test_nudges import MovingClock, add_partner, any_hour, make_services, nudges, outbox
from tests.test_nudges_managers import MANAGER, MONDAY_NOON, add_people, registration
from workflows.nudge_jobs import send_due_nudges
from workflows.nudge_managers import SOURCES, nudge_them_all, rollup_nudges
from workflows.nudge_partners import activation_nudges
from workflows.nudges import run_nudges
from workflows.program import Program
from workflows.services import NotAllowed

# Every kind but the roll-up (and the QBR) off, so the roll-up's tests count it alone, whatever kinds join.
ROLLUP_ONLY = Program.model_validate({"nudges": {
    name: {"enabled": False} for name, rules in Program().nudges if hasattr(rules, "enabled")
    and name not in ("rollup", "qbr")}})


def stuck_program(engine, now: datetime) -> dict[str, int]:
    """UMGR: 13 stuck in onboarded, 2 in recruited, 3 in activated (and some that are not stuck); UM2: 1 stuck in
    producing; one stuck partner without a manager (the first program runner's)."""
    ids = {}
    for i in range(13):
        ids[f"Onb {i:02d}"] = add_partner(engine, f"Onb {i:02d}", since=now - timedelta(days=20 + i), channel=f"CO{i}")
    for i in range(2):
        ids[f"Rec {i}"] = add_partner(engine, f"Rec {i}", stage=PartnerStage.recruited,
                                      since=now - timedelta(days=40), channel=f"CR{i}")
    for i in range(3):
        ids[f"Act {i}"] = add_partner(engine, f"Act {i}", stage=PartnerStage.activated,
                                      since=now - timedelta(days=90), channel=f"CA{i}")
    ids["New Onb"] = add_partner(engine, "New Onb", since=now - timedelta(days=10), channel="CN")
    ids["Busy Onb"] = add_partner(engine, "Busy Onb", since=now - timedelta(days=30), channel="CB")
    ids["Busy Prod"] = add_partner(engine, "Busy Prod", stage=PartnerStage.producing, since=now - timedelta(days=200),
                                   channel="CP")
    ids["Quiet Strategic"] = add_partner(engine, "Quiet Strategic", stage=PartnerStage.strategic,
                                         since=now - timedelta(days=300), channel="CS")
    ids["Other Prod"] = add_partner(engine, "Other Prod", stage=PartnerStage.producing, manager="UM2",
                                    since=now - timedelta(days=100), channel="CX")
    ids["Orphan"] = add_partner(engine, "Orphan", since=now - timedelta(days=25), manager=None, channel="CZ")
    with Session(engine) as session:
        session.add(registration(ids["Busy Onb"], "Lead", created=now - timedelta(days=2), value=1))
        session.add(registration(ids["Busy Prod"], "Lead 2", created=now - timedelta(days=10), value=1))
        session.add(registration(ids["Act 0"], "Old", created=now - timedelta(days=95), value=1))
        session.commit()
    add_people(engine, ("URUN", Role.partner_manager), ("UADMIN", Role.admin))
    return ids


def rollups(engine) -> dict[str, Nudge]:
    return {n.recipient: n for n in nudges(engine) if n.kind == NudgeKind.rollup}


def test_the_rollup_counts_each_managers_stuck_partners_per_stage_with_capped_names_once_a_week(engine):
    clock = MovingClock(MONDAY_NOON)
    services = make_services(engine, clock, ROLLUP_ONLY, managers=True)
    stuck_program(engine, clock.now)
    assert send_due_nudges(services).created == {"rollup": 3}
    sent = rollups(engine)
    assert set(sent) == {"UMGR", "UM2", "URUN"}
    assert (sent["UMGR"].subject, sent["UMGR"].period) == ("manager:UMGR", "2026-W45")
    message = outbox(engine, sent["UMGR"].message_key)
    text = str(message.blocks)
    assert message.channel == "UMGR" and "18 partners stuck this week" in message.text
    longest_first = ", ".join(f"Onb {i:02d}" for i in range(12, 2, -1))
    assert f"13 partners stuck in onboarded for more than 14 days with no registration: {longest_first} and 3 more" \
        in text
    assert "2 partners stuck in recruited for more than 14 days with no registration: Rec 0, Rec 1" in text
    assert "3 partners stuck in activated for more than 60 days with no registration: Act 0, Act 1, Act 2" in text
    assert "New Onb" not in text and "Busy" not in text and "Strategic" not in text and "Orphan" not in text
    [actions] = [b for b in message.blocks if b["type"] == "actions"]
    assert [(e["action_id"], e.get("value")) for e in actions["elements"]][0] == \
        ("nudge_them_all", str(sent["UMGR"].id))
    assert "1 partner stuck in producing for more than 60 days with no registration: Other Prod" in \
        str(outbox(engine, sent["UM2"].message_key).blocks)
    assert "1 partner stuck in onboarded for more than 14 days with no registration: Orphan" in \
        str(outbox(engine, sent["URUN"].message_key).blocks)
    clock.now += timedelta(days=4)  # the same ISO week: nothing again
    assert send_due_nudges(services).total == 0
    clock.now += timedelta(days=3)  # Monday of the next week: again, for whoever is still stuck
    assert send_due_nudges(services).created == {"rollup": 3}


def test_long_names_keep_the_rollup_within_slacks_limits(engine):
    clock = MovingClock(MONDAY_NOON)
    services = make_services(engine, clock, ROLLUP_ONLY, managers=True)
    for stage in (PartnerStage.recruited, PartnerStage.onboarded, PartnerStage.activated, PartnerStage.producing):
        for i in range(30):
            add_partner(engine, f"{stage.value} & {i:02d} " + "x" * 180, stage=stage,
                        since=clock.now - timedelta(days=100 + i), channel=f"C{stage.value}{i}")
    send_due_nudges(services)
    message = outbox(engine, rollups(engine)["UMGR"].message_key)
    assert len(message.blocks) <= 50
    for block in message.blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
    text = str(message.blocks)
    assert text.count("and 28 more") == 4  # two names of ~200 characters per stage, the rest counted
    assert "Nudge them all sends each of them its nudge now" in text  # nothing cut off at the end


def test_nudge_them_all_gives_each_stuck_partner_its_nudge_once_per_period(engine):
    clock = MovingClock(MONDAY_NOON)
    services = make_services(engine, clock, managers=True)
    early = [add_partner(engine, f"Early {i}", since=clock.now - timedelta(days=20), channel=f"CE{i}")
             for i in range(2)]
    assert run_nudges(services, activation_nudges(services, clock.now)).total == 2  # the job nudged these
    clock.now += timedelta(hours=1)
    late = [add_partner(engine, f"Late {i}", since=clock.now - timedelta(days=15), channel=f"CL{i}")
            for i in range(3)]
    no_channel = add_partner(engine, "No Channel", since=clock.now - timedelta(days=20), channel=None)
    muted = add_partner(engine, "Muted", since=clock.now - timedelta(days=20), channel="CM")
    with Session(engine) as session:
        session.add(NudgeMute(kind=NudgeKind.activation, subject=f"partner:{muted}", by_slack_id="UPARTNER"))
        session.commit()
    run_nudges(services, rollup_nudges(services, clock.now))
    rollup = rollups(engine)["UMGR"]
    assert "7 partners stuck in onboarded" in outbox(engine, rollup.message_key).text + \
        str(outbox(engine, rollup.message_key).blocks)

    outcome = nudge_them_all(services, MANAGER, rollup.id)
    assert outcome.changed
    assert outcome.message == (":mega: <@UMGR> pressed Nudge them all: nudged 3, 2 already nudged this period, "
                               "1 muted (Snooze or Not relevant), 1 not nudgeable (no shared channel, or the nudge is "
                               "switched off).")
    activation = [n for n in nudges(engine) if n.kind == NudgeKind.activation]
    assert sorted(n.partner_id for n in activation) == sorted(early + late)  # each once, none for the others
    assert no_channel not in {n.partner_id for n in activation} and muted not in {n.partner_id for n in activation}
    for nudge in activation[2:]:
        assert outbox(engine, nudge.message_key).next_attempt_at == clock.now  # now: working hours in London
    with Session(engine) as session:
        pressed = session.get(Nudge, rollup.id)
        assert (pressed.response, pressed.responded_by_slack_id) == ("acted", "UMGR")
    [update] = [m for m in all_updates(engine) if m.parent_key == rollup.message_key]
    assert "<@UMGR> pressed Nudge them all: nudged 3, 2 already nudged this period" in str(update.blocks)
    assert not any(b["type"] == "actions" for b in update.blocks)  # the button gives way to who pressed it

    again = nudge_them_all(services, MANAGER, rollup.id)  # a second press (a stale client): nothing twice
    assert not again.changed and "already pressed Nudge them all" in again.message
    assert len([n for n in nudges(engine) if n.kind == NudgeKind.activation]) == 5
    assert send_due_nudges(services).created.get("activation") is None  # the job finds them all nudged


def test_nudge_them_all_after_the_job_counts_every_partner_as_already_nudged(engine):
    clock = MovingClock(MONDAY_NOON)
    services = make_services(engine, clock, managers=True)
    for i in range(4):
        add_partner(engine, f"Stuck {i}", since=clock.now - timedelta(days=30), channel=f"C{i}")
    assert send_due_nudges(services).created == {"activation": 4, "rollup": 1}
    outcome = nudge_them_all(services, MANAGER, rollups(engine)["UMGR"].id)
    assert outcome.tally.nudged == 0 and outcome.tally.already == 4
    assert len([n for n in nudges(engine) if n.kind == NudgeKind.activation]) == 4


def test_a_partner_nudged_as_often_as_the_program_allows_counts_as_already_nudged(engine):
    clock = MovingClock(MONDAY_NOON)
    services = make_services(engine, clock, Program.model_validate({"nudges": {"activation": {"max_times": 1}}}),
                             managers=True)
    once = add_partner(engine, "Once", since=clock.now - timedelta(days=15), channel="C1")
    assert run_nudges(services, activation_nudges(services, clock.now)).total == 1
    clock.now += timedelta(days=14)  # its second occurrence is due, but the program allows one
    add_partner(engine, "Never", since=clock.now - timedelta(days=29), channel="C2")  # past its one occurrence
    run_nudges(services, rollup_nudges(services, clock.now))
    outcome = nudge_them_all(services, MANAGER, rollups(engine)["UMGR"].id)
    assert (outcome.tally.nudged, outcome.tally.already, outcome.tally.not_nudgeable) == (0, 1, 1)
    assert [n.partner_id for n in nudges(engine) if n.kind == NudgeKind.activation] == [once]  # not `never`


def test_nudge_them_all_gives_quiet_partners_their_re_engagement_nudge_once(engine):
    if NudgeKind.reengagement not in SOURCES:
        pytest.skip("the re-engagement kind's source cannot be limited to some partners on this branch yet")
    clock = MovingClock(MONDAY_NOON)
    services = make_services(engine, clock, managers=True)
    quiet = [add_partner(engine, f"Quiet {i}", stage=PartnerStage.activated, since=clock.now - timedelta(days=70),
                         channel=f"CQ{i}") for i in range(2)]
    run_nudges(services, rollup_nudges(services, clock.now))
    outcome = nudge_them_all(services, MANAGER, rollups(engine)["UMGR"].id)
    assert (outcome.tally.nudged, outcome.tally.already) == (2, 0)
    sent = [n for n in nudges(engine) if n.kind in (NudgeKind.reengagement, NudgeKind.reengagement_note)]
    assert sorted((n.partner_id, n.kind, n.recipient) for n in sent) == sorted(
        [(p, NudgeKind.reengagement, f"CQ{i}") for i, p in enumerate(quiet)]
        + [(p, NudgeKind.reengagement_note, "UMGR") for p in quiet])
    assert send_due_nudges(services).created.get("reengagement") is None  # the job finds them nudged


def test_what_nudge_them_all_cannot_do_before_the_ack_is_left_to_the_job_with_the_same_keys(engine, monkeypatch):
    clock = MovingClock(MONDAY_NOON)
    services = make_services(engine, clock, managers=True)
    stuck = [add_partner(engine, f"Stuck {i}", since=clock.now - timedelta(days=30), channel=f"C{i}")
             for i in range(5)]
    run_nudges(services, rollup_nudges(services, clock.now))
    monkeypatch.setattr("workflows.nudge_managers.PRESS_CHUNK", 2)
    monkeypatch.setattr("workflows.nudge_managers.PRESS_SECONDS", 0)  # one chunk, then the time is up
    outcome = nudge_them_all(services, MANAGER, rollups(engine)["UMGR"].id)
    assert (outcome.tally.nudged, outcome.tally.left) == (2, 3)
    assert "nudged 2, 0 already nudged this period, 3 more left to the scheduled nudges (every 15 minutes)" \
        in outcome.message
    assert send_due_nudges(services).created == {"activation": 3}
    assert sorted(n.partner_id for n in nudges(engine) if n.kind == NudgeKind.activation) == stuck


def test_only_the_rollups_manager_or_an_admin_may_press_nudge_them_all(engine):
    clock = MovingClock(MONDAY_NOON)
    services = make_services(engine, clock, ROLLUP_ONLY, managers=True)
    stuck_program(engine, clock.now)
    send_due_nudges(services)
    sent = rollups(engine)
    for stranger in (Actor("UM2", None, ActorKind.internal, role=Role.partner_manager),
                     Actor("UAE", None, ActorKind.internal, role=Role.ae),
                     Actor("UPARTNER", "T1", ActorKind.partner, partner_id=1)):
        with pytest.raises(NotAllowed, match="Only the partner manager this roll-up was sent to, or an admin"):
            nudge_them_all(services, stranger, sent["UMGR"].id)
    assert not [n for n in nudges(engine) if n.kind == NudgeKind.activation]
    services = make_services(engine, clock, managers=True)  # activation on: the admin's press nudges UMGR's partners
    admin = Actor("UADMIN", None, ActorKind.internal, role=Role.admin)
    outcome = nudge_them_all(services, admin, sent["UMGR"].id)
    # 13 onboarded and 2 recruited get the activation nudge; the 3 activated ones the re-engagement nudge where
    # that kind can be limited to some partners (SOURCES), else they are not nudgeable
    assert (outcome.tally.nudged, outcome.tally.nudged + outcome.tally.not_nudgeable) in ((15, 18), (18, 18))
    partners = {n.partner_id for n in nudges(engine) if n.kind == NudgeKind.activation}
    with Session(engine) as session:
        names = set(session.exec(select(Partner.name).where(Partner.id.in_(partners))).all())
    assert names == {f"Onb {i:02d}" for i in range(13)} | {"Rec 0", "Rec 1"}  # not the orphan, not UM2's


def all_updates(engine):
    from storage.slack.models import SlackMessage
    with Session(engine) as session:
        return list(session.exec(select(SlackMessage).where(SlackMessage.kind == "update")).all())


def test_the_manager_presses_nudge_them_all_in_slack(bot, engine):
    """Through the sandbox: the roll-up DM, a wrong clicker refused privately, the manager's press nudging the
    stuck partner in its channel, and the roll-up showing who pressed it."""
    services = bot.services
    with Session(engine) as session:
        for name, days in (("Globex Referrals", 20), ("Initech Agency", 25)):  # Initech: no manager, no channel
            partner = session.exec(select(Partner).where(Partner.name == name)).one()
            partner.stage, partner.stage_since = PartnerStage.onboarded, services.clock() - timedelta(days=days)
            session.add(partner)
        session.commit()
    program = any_hour(services.program)
    services.program = program
    services.notifier.program = program
    assert run_nudges(services, rollup_nudges(services, services.clock())).total == 1
    bot.worker.kick()
    [rollup] = [m for m in dm_messages(bot.sandbox, "U0PRIYA") if "stuck this week" in text_of(m)]
    assert "2 partners stuck in onboarded for more than 14 days with no registration: Initech Agency, " \
           "Globex Referrals" in text_of(rollup)  # Initech has no manager: the first partner manager's roll-up
    admins_copy = copy_to(bot, rollup, bot.sandbox.dm_channel("U0ADMIN"))
    channel, ts = copy_to(bot, rollup, "C0NORTH")  # an AE presses a copy: not theirs
    bot.driver.click("U0ALEX", "nudge_them_all", message=(channel, ts))
    assert "Only the partner manager this roll-up was sent to" in text_of(bot.sandbox.ephemerals("U0ALEX")[-1])
    assert not [m for m in bot.sandbox.messages("C0GLOBEX") if "Ready to register your first lead" in text_of(m)]

    bot.driver.click("U0PRIYA", "nudge_them_all", message=(rollup.channel, rollup.ts))
    bot.worker.kick()
    [nudge] = [m for m in bot.sandbox.messages("C0GLOBEX") if "Ready to register your first lead" in text_of(m)]
    assert [b.action_id for b in bot.sandbox.buttons(nudge)][0] == "register_lead"
    [rollup] = [m for m in dm_messages(bot.sandbox, "U0PRIYA") if "stuck this week" in text_of(m)]
    assert bot.sandbox.buttons(rollup) == []
    assert "<@U0PRIYA> pressed Nudge them all: nudged 1, 0 already nudged this period, 1 not nudgeable" \
        in text_of(rollup)  # Initech Agency has no shared channel
    bot.driver.click("U0ADMIN", "nudge_them_all", message=admins_copy)  # an admin may press it: done already
    assert "<@U0PRIYA> already pressed Nudge them all on" in text_of(dm_messages(bot.sandbox, "U0ADMIN")[-1])
    assert len([m for m in bot.sandbox.messages("C0GLOBEX") if "Ready to register" in text_of(m)]) == 1
