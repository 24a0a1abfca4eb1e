"""The onboarding sequence and re-engagement (workflows/nudge_partners.py): each step once and only the latest after
downtime, nothing once the partner registers; a quiet partner and its manager told once per quiet spell; Not
relevant on either stops both; a kind switched off sends nothing; the welcome's button opens the form."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, select

from storage.actors import Actor, ActorKind
from storage.models import Partner, PartnerStage, Registration, Role, TeamMember
from storage.nudges.models import Nudge, NudgeResponse
from storage.slack.models import SlackMessage
from tests.e2e_support import GOOD_FORM, finish_details, text_of
from tests.test_nudges import (  # noqa: F401 (clock: a fixture)
    add_partner,
    globex_onboarded,
    clock,
    make_services,
    nudges,
    outbox,
)
from workflows.nudge_jobs import send_due_nudges
from workflows.nudges import answer_nudge
from workflows.program import Program

LINKS = [{"title": "Partner academy", "url": "https://academy.example.com/start"},
         {"title": "What to register", "url": "https://example.com/register-guide"}]


def add_registration(engine, partner_id: int, at: datetime, company: str = "Acme") -> int:
    with Session(engine) as session:
        registration = Registration(
            partner_id=partner_id, submitted_by_slack_id="UP", company=company, company_key=company.lower(),
            contact_name="A", contact_email=f"a@{company.lower()}.com", region="EMEA", product_line="Platform",
            estimated_value=1, currency="USD", pricing_model="subscription", company_size="", budget="",
            timeline="", created_at=at, updated_at=at)
        session.add(registration)
        session.commit()
        return registration.id


def of_kind(engine, *kinds: str) -> list[Nudge]:
    return [n for n in nudges(engine) if n.kind in kinds]


def text(engine, nudge: Nudge) -> str:
    message = outbox(engine, nudge.message_key)
    return message.text + "\n" + str(message.blocks)


def buttons(engine, nudge: Nudge) -> list[str]:
    message = outbox(engine, nudge.message_key)
    return [e["action_id"] for b in message.blocks if b["type"] == "actions" for e in b["elements"]]


# Onboarding --------------------------------------------------------------------------------------------------
def test_each_onboarding_step_goes_once_on_days_0_3_and_7_then_the_sequence_ends(engine, clock):
    program = Program.model_validate({"nudges": {"onboarding": {"links": LINKS}}})
    services = make_services(engine, clock, program)
    start = clock.now
    partner_id = add_partner(engine, "New Co", since=start)
    runs = {}
    for day in (0, 0, 1, 3, 3, 5, 7, 8, 13, 20):
        clock.now = start + timedelta(days=day, hours=1)
        runs.setdefault(day, []).append(send_due_nudges(services).created.get("onboarding", 0))
    assert runs == {0: [1, 0], 1: [0], 3: [1, 0], 5: [0], 7: [1], 8: [0], 13: [0], 20: [0]}
    welcome, day3, day7 = of_kind(engine, "onboarding")
    assert [n.period.split(":")[1] for n in (welcome, day3, day7)] == ["day0", "day3", "day7"]
    assert {(n.recipient, n.subject) for n in (welcome, day3, day7)} == {("C1", f"partner:{partner_id}")}
    assert "Welcome to the partner program, New Co!" in text(engine, welcome)
    assert "partner desk pinned in this channel" in text(engine, welcome)
    assert "academy.example.com" not in text(engine, welcome)  # the training links are the follow-ups'
    assert "3 days in: ready for your first lead, New Co?" in text(engine, day3)
    assert "<https://academy.example.com/start|Partner academy>" in text(engine, day7)
    assert all(buttons(engine, n) == ["register_lead", "nudge_snooze", "nudge_not_relevant"]
               for n in (welcome, day3, day7))


def test_the_steps_stop_once_the_partner_registers_a_lead_since_it_was_onboarded(engine, clock):
    services = make_services(engine, clock)
    start = clock.now
    busy = add_partner(engine, "Busy Co", since=start, channel="C1")
    back = add_partner(engine, "Back Co", since=start, channel="C2")
    add_registration(engine, back, start - timedelta(days=200), "Oldco")  # before it was onboarded: not counted
    send_due_nudges(services)
    add_registration(engine, busy, start + timedelta(days=1))
    for day in (3, 7):
        clock.now = start + timedelta(days=day)
        send_due_nudges(services)
    sent = [(n.partner_id, n.period.split(":")[1]) for n in of_kind(engine, "onboarding")]
    assert sent == [(busy, "day0"), (back, "day0"), (back, "day3"), (back, "day7")]
    day3 = of_kind(engine, "onboarding")[2]
    assert "Not sure what to register? Ask here" in text(engine, day3)  # no training links in this program file


def test_after_downtime_only_the_latest_step_due_goes(engine, clock):
    services = make_services(engine, clock)
    day8 = add_partner(engine, "Day Eight Co", since=clock.now - timedelta(days=8), channel="C1")
    day4 = add_partner(engine, "Day Four Co", since=clock.now - timedelta(days=4), channel="C2")
    add_partner(engine, "Long Ago Co", since=clock.now - timedelta(days=15), channel="C3")  # activation's now
    add_partner(engine, "No Channel Co", since=clock.now, channel=None)  # nowhere to welcome it: skipped
    assert send_due_nudges(services).created == {"onboarding": 2, "activation": 1}
    assert send_due_nudges(services).total == 0
    clock.now += timedelta(days=3)  # Day Four Co reaches day 7
    send_due_nudges(services)
    sent = [(n.partner_id, n.period.split(":")[1]) for n in of_kind(engine, "onboarding")]
    assert sent == [(day8, "day7"), (day4, "day3"), (day4, "day7")]
    [late] = [n for n in of_kind(engine, "onboarding") if n.partner_id == day8]
    assert "8 days in: ready for your first lead, Day Eight Co?" in text(engine, late)


def test_a_partner_onboarded_again_starts_the_sequence_again(engine, clock):
    services = make_services(engine, clock)
    partner_id = add_partner(engine, "Again Co", since=clock.now)
    send_due_nudges(services)
    clock.now += timedelta(days=30)
    with Session(engine) as session:  # a manager moved it away and back: a new stay in the stage
        partner = session.get(Partner, partner_id)
        partner.stage_since = clock.now
        session.add(partner)
        session.commit()
    assert send_due_nudges(services).created.get("onboarding") == 1
    assert len({n.period for n in of_kind(engine, "onboarding")}) == 2


# Re-engagement -----------------------------------------------------------------------------------------------
def test_a_quiet_partner_and_its_manager_are_told_once_per_quiet_spell(engine, clock):
    services = make_services(engine, clock)
    quiet = add_partner(engine, "Quiet Co", stage=PartnerStage.activated, since=clock.now - timedelta(days=100))
    last = add_registration(engine, quiet, clock.now - timedelta(days=63), "Acme")
    add_registration(engine, quiet, clock.now - timedelta(days=90), "Older")
    recent = add_partner(engine, "Recent Co", stage=PartnerStage.producing, since=clock.now - timedelta(days=100),
                         channel="C2")
    add_registration(engine, recent, clock.now - timedelta(days=59))
    assert send_due_nudges(services).created == {"reengagement": 1, "reengagement_note": 1}
    partner_nudge, note = of_kind(engine, "reengagement", "reengagement_note")
    assert (partner_nudge.recipient, note.recipient) == ("C1", "UMGR")
    assert partner_nudge.subject == note.subject == f"partner:{quiet}"
    assert "Anything new to register, Quiet Co?" in text(engine, partner_nudge)
    assert "Your last lead registration was 63 days ago." in text(engine, partner_nudge)
    assert "Acme" not in text(engine, partner_nudge)  # a referral partner's people see only their own
    assert buttons(engine, partner_nudge) == ["register_lead", "nudge_snooze", "nudge_not_relevant"]
    assert (f"Quiet Co has registered nothing for 63 days; its last registration was REG-{last:05d} (Acme) on "
            f"{(clock.now - timedelta(days=63)):%-d %b %Y}.") in text(engine, note)
    assert "Stage: Activated since" in text(engine, note) and "no deal won" in text(engine, note)
    assert "https://slack.com/app_redirect?channel=C1" in text(engine, note)
    assert outbox(engine, note.message_key).channel == "UMGR"  # a DM
    assert buttons(engine, note) == ["nudge_snooze", "nudge_not_relevant"]
    counts = []
    for _ in range(3):
        clock.now += timedelta(days=30)
        counts.append(send_due_nudges(services).total)
    assert counts == [2, 0, 0]  # Recent Co's turn (89 quiet days); Quiet Co's spell goes on: nothing more for it
    add_registration(engine, quiet, clock.now)  # a new spell begins, and after 60 quiet days...
    clock.now += timedelta(days=59)
    assert send_due_nudges(services).created.get("reengagement") is None
    clock.now += timedelta(days=2)
    assert send_due_nudges(services).created == {"reengagement": 1, "reengagement_note": 1}
    assert [n.partner_id for n in of_kind(engine, "reengagement", "reengagement_note")] == [quiet] * 2 + [recent] * 2 \
        + [quiet] * 2


def test_quiet_since_its_stage_without_a_channel_or_a_manager(engine, clock):
    services = make_services(engine, clock)
    with Session(engine) as session:
        session.add(TeamMember(slack_user_id="UPM", name="Pat Manager", role=Role.partner_manager))
        session.commit()
    never = add_partner(engine, "Never Co", stage=PartnerStage.producing, since=clock.now - timedelta(days=61),
                        channel=None)
    won_long_ago = add_partner(engine, "Orphan Co", stage=PartnerStage.producing,
                               since=clock.now - timedelta(days=65), manager=None, channel="C2")
    add_registration(engine, won_long_ago, clock.now - timedelta(days=300))  # before its stage: 300 days quiet
    fresh = add_partner(engine, "Fresh Co", stage=PartnerStage.producing, since=clock.now - timedelta(days=30),
                        channel="C3")
    add_registration(engine, fresh, clock.now - timedelta(days=200))  # became producing 30 days ago: not quiet
    assert send_due_nudges(services).created == {"reengagement": 1, "reengagement_note": 2}
    sent = {(n.partner_id, n.kind): n for n in of_kind(engine, "reengagement", "reengagement_note")}
    assert set(sent) == {(never, "reengagement_note"), (won_long_ago, "reengagement"),
                         (won_long_ago, "reengagement_note")}
    note = text(engine, sent[(never, "reengagement_note")])
    assert "Never Co has registered nothing since it became producing on" in note and "61 days ago" in note
    assert "no shared channel, so only you were told" in note
    assert sent[(never, "reengagement_note")].recipient == "UMGR"
    assert sent[(won_long_ago, "reengagement_note")].recipient == "UPM"  # no manager: the partner manager
    orphan_note = text(engine, sent[(won_long_ago, "reengagement_note")])
    assert "Orphan Co has registered nothing for 300 days" in orphan_note and "no partner manager" in orphan_note
    assert send_due_nudges(services).total == 0


def test_not_relevant_on_the_note_or_the_nudge_stops_both(engine, clock):
    services = make_services(engine, clock)
    by_manager = add_partner(engine, "Manager Stops Co", stage=PartnerStage.activated,
                             since=clock.now - timedelta(days=70), channel="C1")
    by_partner = add_partner(engine, "Partner Stops Co", stage=PartnerStage.activated,
                             since=clock.now - timedelta(days=70), channel="C2")
    control = add_partner(engine, "Control Co", stage=PartnerStage.activated, since=clock.now - timedelta(days=70),
                          channel="C3")
    send_due_nudges(services)
    sent = {(n.partner_id, n.kind): n for n in nudges(engine)}
    answer_nudge(services, Actor("UMGR", None, ActorKind.internal, role=Role.ae),
                 sent[(by_manager, "reengagement_note")].id, NudgeResponse.not_relevant)
    answer_nudge(services, Actor("UPEOPLE", "T1", ActorKind.partner, partner_id=by_partner),
                 sent[(by_partner, "reengagement")].id, NudgeResponse.not_relevant)
    for partner_id in (by_manager, by_partner, control):  # a new spell for each
        add_registration(engine, partner_id, clock.now + timedelta(hours=1))
    clock.now += timedelta(days=61)
    assert send_due_nudges(services).created == {"reengagement": 1, "reengagement_note": 1}
    assert {n.partner_id for n in nudges(engine)[6:]} == {control}


def test_a_note_lost_between_two_transactions_is_still_written_and_the_nudge_not_repeated(engine, clock):
    services = make_services(engine, clock)
    partner_id = add_partner(engine, "Quiet Co", stage=PartnerStage.activated, since=clock.now - timedelta(days=70))
    send_due_nudges(services)
    with Session(engine) as session:  # as if the run stopped after the partner's nudge was committed
        note = session.exec(select(Nudge).where(Nudge.kind == "reengagement_note")).one()
        session.delete(session.exec(select(SlackMessage).where(SlackMessage.key == note.message_key)).one())
        session.delete(note)
        session.commit()
    assert send_due_nudges(services).created == {"reengagement_note": 1}
    assert sorted(n.kind for n in nudges(engine)) == ["reengagement", "reengagement_note"]
    assert {n.partner_id for n in nudges(engine)} == {partner_id}


def test_pages_walk_one_stage_after_the_other_and_miss_no_partner(engine, clock, monkeypatch):
    monkeypatch.setattr("workflows.nudges.BATCH", 4)  # pages of 4: cursors inside a stage and across stages
    services = make_services(engine, clock)
    for n in range(9):
        for stage, days in ((PartnerStage.recruited, 15), (PartnerStage.onboarded, 20), (PartnerStage.activated, 61),
                            (PartnerStage.producing, 90)):
            add_partner(engine, f"{stage} {n}", stage=stage, since=clock.now - timedelta(days=days, minutes=n % 3),
                        channel=f"C{stage}{n}")
    add_partner(engine, "Done Co", stage=PartnerStage.onboarded, since=clock.now - timedelta(days=14 + 3 * 14))
    assert send_due_nudges(services).created == {"activation": 18, "reengagement": 18, "reengagement_note": 18}
    assert send_due_nudges(services).total == 0
    assert len({n.partner_id for n in nudges(engine)}) == 36  # each once; Done Co had its three activation nudges


def test_kinds_switched_off_in_the_program_file_send_nothing(engine, clock):
    program = Program.model_validate({"nudges": {"onboarding": {"enabled": False},
                                                 "reengagement": {"enabled": False}}})
    services = make_services(engine, clock, program)
    add_partner(engine, "New Co", since=clock.now, channel="C1")
    add_partner(engine, "Quiet Co", stage=PartnerStage.producing, since=clock.now - timedelta(days=90),
                channel="C2")
    assert send_due_nudges(services).total == 0
    no_steps = Program.model_validate({"nudges": {"onboarding": {"days": []}}})
    assert send_due_nudges(make_services(engine, clock, no_steps)).created == {"reengagement": 1,
                                                                              "reengagement_note": 1}
    assert not of_kind(engine, "onboarding")


def test_the_program_file_orders_the_onboarding_days_and_refuses_negative_ones():
    assert Program.model_validate({"nudges": {"onboarding": {"days": [7, 0, 3, 3]}}}).nudges.onboarding.days == \
        (0, 3, 7)
    try:
        Program.model_validate({"nudges": {"onboarding": {"days": [-1, 3]}}})
    except ValueError as error:
        assert "between 0 and 365" in str(error)
    else:
        raise AssertionError("a negative day was accepted")


# End to end --------------------------------------------------------------------------------------------------
def test_the_welcome_appears_in_the_partners_channel_and_its_button_opens_the_form(bot, engine):
    services = globex_onboarded(bot, timedelta(minutes=5))
    # Initech Agency is onboarded too, but has no shared channel: nothing for it
    assert send_due_nudges(services).created == {"onboarding": 1}
    bot.worker.kick()
    [welcome] = [m for m in bot.sandbox.messages("C0GLOBEX") if "Welcome to the partner program" in text_of(m)]
    assert "<@U0BOB> <@U0BETH>" in text_of(welcome) and "partner desk pinned in this channel" in text_of(welcome)
    assert bot.sandbox.buttons(welcome)[0].action_id == "register_lead"
    assert bot.driver.click("U0BOB", "register_lead", message=(welcome.channel, welcome.ts)).status == 200
    modal = bot.sandbox.open_modal("U0BOB")
    assert modal is not None and modal.callback_id == "lead_registration"
    submitted = bot.driver.submit("U0BOB", modal.id, dict(GOOD_FORM, company="Welcome Corp", domain="welcome.com"))
    assert submitted.status == 200 and "errors" not in submitted.text
    finish_details(bot, "U0BOB", {})
    with Session(engine) as session:
        assert session.exec(select(Registration).where(Registration.company == "Welcome Corp")).one()
    later = services.clock() + timedelta(days=3, hours=1)
    services.clock = lambda: later  # day 3: Globex has registered (and is activated now), so no follow-up
    assert send_due_nudges(services).total == 0
