"""Reviewer workflows on a real database with a fixed clock: partner names kept apart, undo when the partner
was not told yet, reassignment rules, and reminder links."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from handlers.notify import SlackNotifier
from storage.models import Partner, PartnerType, Registration, RegistrationStatus
from storage.slack.models import SlackMessage
from tests.support import lead
from tests.test_workflows_registration import clock, services  # noqa: F401  (the same fixtures)
from workflows.decisions import Decision, decide_registration
from workflows.partner_names import other_partner_named
from workflows.people import identify
from workflows.reassignment import ChooseAnother, reassign_registration
from workflows.registrations import register_lead
from workflows.reminders import remind_overdue_reviews
from workflows.services import WorkflowError
from workflows.undo import undo_decision


def actor(services, user_id, team_id="T0OURS"):
    return identify(services, user_id=user_id, team_id=team_id)


def dana(services):
    return actor(services, "U0DANA", "T0NORTH")


def test_other_partners_are_recognised_by_name_first_word_and_domain(services, engine):
    with Session(engine) as session:
        session.add_all([Partner(name="Acme Partners", type=PartnerType.agency),
                         Partner(name="Global Partners Ltd", type=PartnerType.agency)])
        session.commit()
        globex = session.exec(select(Partner).where(Partner.name == "Globex Referrals")).one()
        northwind = session.exec(select(Partner).where(Partner.name == "Northwind Consulting")).one()
        reg = Registration(company="Acme Inc.", domain="acme.com", partner_id=globex.id)

        def named(text):
            return other_partner_named(session, text, partner=globex, registration=reg)

        assert named("Northwind registered it first") == "Northwind Consulting"
        assert named("see NORTHWIND.IO's registration") == "Northwind Consulting"
        assert named("It was northwind consulting, sorry") == "Northwind Consulting"
        assert named("Acme is already our customer") is None  # the customer, not the partner Acme Partners
        assert named("a global company with partners everywhere") is None  # generic words alone
        assert named("Global Partners had it first") == "Global Partners Ltd"
        assert named("Globex, please add the budget") is None  # their own name
        assert named("Initech Agency registered it") == "Initech Agency"
        assert other_partner_named(session, "Globex had it", partner=northwind) == "Globex Referrals"


def test_undo_before_the_partner_was_told_sends_them_nothing(services, engine, clock):
    services.notifier = SlackNotifier(services.program, clock)  # real messages in the outbox, no sender
    reg = register_lead(services, actor=dana(services), lead=lead()).registration
    alex = actor(services, "U0ALEX")
    decided = decide_registration(services, actor=alex, registration_id=reg.id, decision=Decision.approve)
    with Session(engine) as session:
        decision_update = session.exec(select(SlackMessage).where(SlackMessage.key.contains(":update:"))
                                       .order_by(SlackMessage.id.desc())).first()
        assert "Approved" in decision_update.text
    clock.now += timedelta(minutes=2)
    assert undo_decision(services, actor=alex, decision_id=decided.undo_id).changed
    with Session(engine) as session:
        keys = session.exec(select(SlackMessage.key)).all()
        root_update = session.exec(select(SlackMessage).where(SlackMessage.parent_key == f"reg:{reg.id}:root",
                                                              SlackMessage.kind == "update")).one()
    assert decision_update.key not in keys  # never sent, so withheld
    assert not any(":withdrawn:" in key for key in keys)  # and no correction of what they never saw
    assert root_update.text.endswith("under review")  # the root, not yet updated, shows the restored status


def test_undo_is_for_the_latest_decision_within_its_window(services, clock):
    reg = register_lead(services, actor=dana(services), lead=lead()).registration
    alex = actor(services, "U0ALEX")
    accepted = decide_registration(services, actor=alex, registration_id=reg.id, decision=Decision.approve)
    from workflows.decisions import close_deal

    won = close_deal(services, actor=alex, registration_id=reg.id, won=True)
    stale = undo_decision(services, actor=alex, decision_id=accepted.undo_id)
    assert not stale.changed and "changed since" in stale.message
    assert undo_decision(services, actor=alex, decision_id=won.undo_id).changed  # back to approved
    bea = actor(services, "U0BEA")
    with pytest.raises(WorkflowError):
        undo_decision(services, actor=bea, decision_id=accepted.undo_id)  # not hers, not her lead
    priya = actor(services, "U0PRIYA")  # a partner manager may undo anyone's
    assert undo_decision(services, actor=priya, decision_id=accepted.undo_id).changed
    assert ("restored", reg.id, "under_review", "U0PRIYA") in services.notifier.calls
    assert ("withdrawn", reg.id, "approved", True) in services.notifier.calls


def bob(services):
    return actor(services, "U0BOB", "T0GLOBEX")


def test_undo_of_a_clearance_before_anything_was_sent_withholds_the_review_and_the_co_sell(services, engine, clock):
    services.notifier = SlackNotifier(services.program, clock)  # real messages in the outbox, no sender
    first = register_lead(services, actor=dana(services), lead=lead()).registration
    decide_registration(services, actor=actor(services, "U0ALEX"), registration_id=first.id,
                        decision=Decision.approve)
    second = register_lead(services, actor=bob(services), lead=lead()).registration
    priya = actor(services, "U0PRIYA")
    cleared = decide_registration(services, actor=priya, registration_id=second.id, decision=Decision.approve,
                                  reason="Both partners bring different teams")
    ae_review = cleared.registration.review_message_key
    with Session(engine) as session:
        co_sell = session.exec(select(SlackMessage.key).where(SlackMessage.text.contains("Co-sell"))).one()
        assert session.exec(select(SlackMessage).where(SlackMessage.key == ae_review)).one()
    clock.now += timedelta(minutes=2)
    assert undo_decision(services, actor=priya, decision_id=cleared.undo_id).changed
    with Session(engine) as session:
        keys = set(session.exec(select(SlackMessage.key)).all())
        updates_of_ae_review = session.exec(select(SlackMessage).where(SlackMessage.parent_key == ae_review)).all()
        assert session.get(Registration, first.id).attribution == "partner_sourced"
    assert ae_review not in keys and updates_of_ae_review == []  # never sent, so withheld: the AE sees nothing
    assert co_sell not in keys  # Northwind never saw the co-sell, so it is not sent, nor corrected
    assert not any("co-sell-withdrawn" in key for key in keys)


def test_a_clearance_can_not_be_undone_once_its_lead_moved_on(services):
    register_lead(services, actor=dana(services), lead=lead())
    second = register_lead(services, actor=bob(services), lead=lead()).registration
    priya = actor(services, "U0PRIYA")
    cleared = decide_registration(services, actor=priya, registration_id=second.id, decision=Decision.approve)
    ae = cleared.registration.assigned_to_slack_id
    other = "U0BEA" if ae != "U0BEA" else "U0ALEX"
    reassign_registration(services, actor=actor(services, ae), registration_id=second.id, to_slack_id=other)
    stale = undo_decision(services, actor=priya, decision_id=cleared.undo_id)
    assert not stale.changed and "conflict cleared: it has changed since" in stale.message
    assert not any(call[0] == "review_withdrawn" for call in services.notifier.calls)


def test_reassignment_rules(services):
    reg = register_lead(services, actor=dana(services), lead=lead()).registration
    alex = actor(services, "U0ALEX")
    with pytest.raises(ChooseAnother, match="account executives"):
        reassign_registration(services, actor=alex, registration_id=reg.id, to_slack_id="U0PRIYA")
    with pytest.raises(ChooseAnother, match="already with"):
        reassign_registration(services, actor=alex, registration_id=reg.id, to_slack_id="U0ALEX")
    with pytest.raises(WorkflowError):
        reassign_registration(services, actor=actor(services, "U0CARL"), registration_id=reg.id,
                              to_slack_id="U0CARL")  # not his lead
    done = reassign_registration(services, actor=alex, registration_id=reg.id, to_slack_id="U0CARL",
                                 request_key="view:V1:h1")
    assert done.changed and done.registration.assigned_to_slack_id == "U0CARL"
    assert not reassign_registration(services, actor=alex, registration_id=reg.id, to_slack_id="U0BEA",
                                     request_key="view:V1:h1").changed  # a replay
    assert ("handed_over", reg.id, "U0ALEX", "U0CARL", None) in services.notifier.calls
    assert not any(call[0] == "partner_update" and call[2] != "under_review" for call in services.notifier.calls)
    decide_registration(services, actor=actor(services, "U0CARL"), registration_id=reg.id,
                        decision=Decision.approve)
    late = reassign_registration(services, actor=actor(services, "U0CARL"), registration_id=reg.id,
                                 to_slack_id="U0BEA")
    assert not late.changed and "only a lead waiting" in late.message


def test_reminders_link_the_review_for_the_reviewer_only(services, clock):
    asked = []
    services.message_link = lambda channel, ts: asked.append((channel, ts)) or f"https://x.slack.com/{ts}"
    reg = register_lead(services, actor=dana(services), lead=lead()).registration
    clock.now += timedelta(hours=97)  # a second SLA period: the partner's manager is reminded too
    assert remind_overdue_reviews(services) == 2
    recipients = [call[2] for call in services.notifier.calls if call[0] == "overdue"]
    assert sorted(recipients) == ["U0ALEX", "U0PRIYA"]
    # The review message was never sent here (no Slack), so there is nothing to link yet.
    assert asked == [] and not [c for c in services.notifier.calls if c[0] == "overdue_link"]
    with Session(services.engine) as session:
        stored = session.get(Registration, reg.id)
        session.add(SlackMessage(key=stored.review_message_key, lane="x", channel="U0ALEX", status="sent",
                                 sent_channel="D0ALEX", sent_ts="1700000000.000100"))
        stored.updated_at = clock.now  # a change: its reminders count from it
        session.add(stored)
        session.commit()
    clock.now += timedelta(hours=49)  # a period after the change, so reminders are owed again
    assert remind_overdue_reviews(services) == 1
    assert asked == [("D0ALEX", "1700000000.000100")]
    assert ("overdue_link", reg.id, "U0ALEX", "https://x.slack.com/1700000000.000100") in services.notifier.calls
    assert RegistrationStatus.under_review == reg.status


def test_reviewer_queries_use_their_indexes(engine, now):
    """App Home's filters, the thread lookup of a reply, the undo list and a review's reminders, by index."""
    from sqlalchemy import insert

    from storage.actors import Actor, ActorKind
    from storage.lists import HomeFilter, home_page
    from storage.models import Reminder, ReviewDecision, Role
    from storage.reviews import registration_of_thread, reminder_keys, undoable_decisions
    from tests.test_query_plans import analyze, assert_indexed, plans
    from tests.test_jobs_at_scale import registration_row, store

    with Session(engine) as session:
        session.add(Partner(name="P", type=PartnerType.reseller))
        session.commit()
    statuses = list(RegistrationStatus)
    store(engine, lambda _: [registration_row(1, i, assigned_to_slack_id=f"UAE{i % 50}", status=statuses[i % 7],
                                              created_at=now - timedelta(minutes=i), updated_at=now)
                             for i in range(3000)])
    with Session(engine) as session:
        session.exec(insert(SlackMessage), params=[dict(
            key=f"reg:{n}:root", lane=f"reg:{n}:partner", kind="post", channel="C1", text="x", blocks=[],
            status="sent", attempts=1, maybe_sent=False, next_attempt_at=now, created_at=now, sent_channel="C1",
            sent_ts=f"1700000000.{n:06d}") for n in range(1, 3000)])
        session.exec(insert(ReviewDecision), params=[dict(
            registration_id=n, actor_slack_id=f"UAE{n % 50}", from_status="under_review", to_status="approved",
            previous={}, decided_at=now, undo_until=now - timedelta(minutes=n)) for n in range(1, 3000)])
        session.exec(insert(Reminder), params=[dict(key=f"review-sla:{n}:UAE1:x:1", sent_at=now)
                                               for n in range(1, 3000)])
        session.commit()
    analyze(engine)
    ae = Actor("UAE7", "T0", ActorKind.internal, role=Role.ae)
    for show in (HomeFilter.waiting, HomeFilter.open, HomeFilter.closed):
        for plan in plans(engine, lambda s: home_page(s, ae, show=show)):
            assert_indexed(plan)
            if engine.dialect.name == "sqlite":
                assert "ix_registration_assignee_status_created" in plan, (show, plan)
    for run, table in ((lambda s: registration_of_thread(s, "C1", "1700000000.000042"), "slack_outbox"),
                       (lambda s: undoable_decisions(s, "UAE7", now), "review_decision"),
                       (lambda s: reminder_keys(s, 42), "reminder")):
        plan = plans(engine, run)[0]
        assert f"SCAN {table}" not in plan and f"Seq Scan on {table}" not in plan, plan
    with Session(engine) as session:
        assert registration_of_thread(session, "C1", "1700000000.000042")[0].id == 42
        assert reminder_keys(session, 42) == ["review-sla:42:UAE1:x:1"]
