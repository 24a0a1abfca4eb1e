"""Who is who, and who may see which registrations: the permission filters in storage queries."""

from __future__ import annotations

import pytest

from bot.demo_data import import_demo_records
from storage.actors import ActorKind
from tests.support import RecordingNotifier, lead
from workflows.people import deals_for, home_for, identify, partner_options
from workflows.program import Program
from workflows.registrations import register_lead
from workflows.services import Services


@pytest.fixture
def services(engine, now):
    import_demo_records(engine)
    return Services(engine=engine, program=Program(), notifier=RecordingNotifier(), clock=lambda: now,
                    our_team_id="T0OURS", bot_user_id="U0BOT")


def who(services, user_id, team_id):
    return identify(services, user_id=user_id, team_id=team_id)


def test_actors_are_resolved_from_our_records(services):
    assert who(services, "U0ALEX", "T0OURS").role == "ae"
    listed = who(services, "U0DANA", "T0NORTH")
    assert (listed.kind, listed.partner_name, listed.is_listed_contact) == (ActorKind.partner,
                                                                           "Northwind Consulting", True)
    colleague = who(services, "U0ERIK", "T0NORTH")  # not a listed contact, but from Northwind's own Slack org
    assert (colleague.kind, colleague.partner_name, colleague.is_listed_contact) == (ActorKind.partner,
                                                                                    "Northwind Consulting", False)
    guest = who(services, "U0GUEST", "T0OURS")  # a guest in our workspace, listed as Initech's contact
    assert guest.partner_name == "Initech Agency"
    assert who(services, "U0NOBODY", "T0OURS").kind == ActorKind.unknown
    assert who(services, "U0STRANGER", "T0ELSEWHERE").kind == ActorKind.unknown


def test_deals_are_filtered_by_who_asks(services):
    northwind = register_lead(services, actor=who(services, "U0DANA", "T0NORTH"), lead=lead()).registration
    by_erik = register_lead(services, actor=who(services, "U0ERIK", "T0NORTH"),
                            lead=lead(company="Hooli", domain="hooli.com")).registration
    by_bob = register_lead(services, actor=who(services, "U0BOB", "T0GLOBEX"),
                           lead=lead(company="Wayne", domain="wayne.com", region="North America")).registration
    by_beth = register_lead(services, actor=who(services, "U0BETH", "T0GLOBEX"),
                            lead=lead(company="Stark", domain="stark.com", region="North America")).registration

    def seen(user_id, team_id):
        page = deals_for(services, who(services, user_id, team_id))
        assert page.total == len(page.rows) and not page.capped and page.next is None
        return {r.id for r, _ in page.rows}

    assert seen("U0DANA", "T0NORTH") == {northwind.id, by_erik.id}  # resellers see their organisation's
    assert seen("U0BOB", "T0GLOBEX") == {by_bob.id}  # referral contacts only what they submitted
    assert seen("U0BETH", "T0GLOBEX") == {by_beth.id}
    assert seen("U0CARL", "T0OURS") == {by_bob.id, by_beth.id}  # an AE sees what is assigned to them
    assert seen("U0PRIYA", "T0OURS") == {northwind.id, by_erik.id, by_bob.id, by_beth.id}
    assert seen("U0ADMIN", "T0OURS") == {northwind.id, by_erik.id, by_bob.id, by_beth.id}
    assert seen("U0NOBODY", "T0OURS") == set()


def test_home_lists_owned_and_conflicts_to_review_newest_first(services):
    dana = who(services, "U0DANA", "T0NORTH")
    first = register_lead(services, actor=dana, lead=lead()).registration
    conflict = register_lead(services, actor=who(services, "U0BOB", "T0GLOBEX"), lead=lead()).registration
    assert [r.id for r, _ in home_for(services, who(services, "U0ALEX", "T0OURS")).rows] == [first.id]
    assert [r.id for r, _ in home_for(services, who(services, "U0PRIYA", "T0OURS")).rows] == [conflict.id]
    assert home_for(services, dana).rows == []


def test_only_internal_users_pick_partners(services):
    assert [name for _, name in partner_options(services, who(services, "U0ALEX", "T0OURS"), "glo")] == [
        "Globex Referrals"]
    assert partner_options(services, who(services, "U0DANA", "T0NORTH"), "") == []
