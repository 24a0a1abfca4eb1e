"""Who may see which customer accounts: the permission filter in storage/accounts.py, tried as an attacker would
(another partner's account id, a referral contact's colleague, an AE who does not own it, wildcards typed into
the search)."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from bot.demo_data import import_demo_records
from storage.accounts import account_for_actor, attached_partners, is_attached, visible_accounts
from storage.models import AccountPartner, CustomerAccount, Partner
from tests.support import RecordingNotifier
from workflows.normalize import company_key
from workflows.people import identify
from workflows.program import Program
from workflows.services import Services

# name, domain, owner, {partner: submitter (None: attached by an import)}
ACCOUNTS = [
    ("Acme Inc.", "acme.com", "U0ALEX", {"Northwind Consulting": "U0DANA"}),
    ("Wayne Enterprises", "wayne.com", "U0CARL", {"Globex Referrals": "U0BOB"}),
    ("Stark Industries", "stark.com", "U0CARL", {"Globex Referrals": None}),
    ("Hooli", "hooli.com", "U0BEA", {"Northwind Consulting": None, "Globex Referrals": "U0BETH"}),
    ("Umbrella", None, None, {}),
]


@pytest.fixture
def services(engine, now):
    import_demo_records(engine)
    with Session(engine) as session:
        partners = {p.name: p.id for p in session.exec(select(Partner)).all()}
        for name, domain, owner, attached in ACCOUNTS:
            account = CustomerAccount(name=name, name_key=company_key(name), domain=domain, owner_slack_id=owner)
            session.add(account)
            session.flush()
            for partner, submitter in attached.items():
                session.add(AccountPartner(account_id=account.id, partner_id=partners[partner],
                                           submitted_by_slack_id=submitter))
        session.commit()
    return Services(engine=engine, program=Program(), notifier=RecordingNotifier(), clock=lambda: now,
                    our_team_id="T0OURS", bot_user_id="U0BOT")


def who(services, user_id, team_id="T0OURS"):
    return identify(services, user_id=user_id, team_id=team_id)


def seen(services, user_id, team_id="T0OURS", search="") -> list[str]:
    with Session(services.engine) as session:
        return [a.name for a in visible_accounts(session, who(services, user_id, team_id), search=search)]


def account_id(services, name) -> int:
    with Session(services.engine) as session:
        return session.exec(select(CustomerAccount.id).where(CustomerAccount.name == name)).one()


def may_open(services, user_id, team_id, name) -> bool:
    with Session(services.engine) as session:
        found = account_for_actor(session, account_id(services, name), who(services, user_id, team_id))
        assert found is None or found.name == name
        return found is not None


def test_partners_see_the_accounts_they_are_attached_to(services):
    assert seen(services, "U0DANA", "T0NORTH") == ["Acme Inc.", "Hooli"]
    # Erik is not a listed contact, but from Northwind's own Slack org: a reseller's people see its accounts.
    assert seen(services, "U0ERIK", "T0NORTH") == ["Acme Inc.", "Hooli"]


def test_a_referral_contact_sees_only_accounts_from_their_own_registrations(services):
    assert seen(services, "U0BOB", "T0GLOBEX") == ["Wayne Enterprises"]
    assert seen(services, "U0BETH", "T0GLOBEX") == ["Hooli"]  # not her colleague Bob's, nor the imported Stark
    assert not may_open(services, "U0BETH", "T0GLOBEX", "Wayne Enterprises")
    assert not may_open(services, "U0BOB", "T0GLOBEX", "Stark Industries")
    assert may_open(services, "U0BOB", "T0GLOBEX", "Wayne Enterprises")


def test_our_team_sees_what_it_owns_and_program_runners_see_everything(services):
    assert seen(services, "U0ALEX") == ["Acme Inc."]
    assert seen(services, "U0CARL") == ["Stark Industries", "Wayne Enterprises"]
    assert seen(services, "U0BEA") == ["Hooli"]
    everything = ["Acme Inc.", "Hooli", "Stark Industries", "Umbrella", "Wayne Enterprises"]
    assert seen(services, "U0PRIYA") == everything and seen(services, "U0ADMIN") == everything


def test_nobody_else_sees_any(services):
    assert seen(services, "U0GUEST") == []  # Initech's guest: Initech is attached to nothing
    assert seen(services, "U0NOBODY") == []
    assert seen(services, "U0STRANGER", "T0ELSEWHERE") == []
    assert seen(services, "U0DANA", "T0GLOBEX") == ["Acme Inc.", "Hooli"]  # a listed contact is who they are


@pytest.mark.parametrize("user_id,team_id,name", [
    ("U0DANA", "T0NORTH", "Wayne Enterprises"),  # another partner's account
    ("U0DANA", "T0NORTH", "Umbrella"),  # an account with no partner at all
    ("U0ERIK", "T0NORTH", "Stark Industries"),
    ("U0BOB", "T0GLOBEX", "Hooli"),  # a colleague's registration
    ("U0GUEST", "T0OURS", "Acme Inc."),
    ("U0ALEX", "T0OURS", "Wayne Enterprises"),  # an AE who does not own it
    ("U0BEA", "T0OURS", "Acme Inc."),
    ("U0NOBODY", "T0OURS", "Acme Inc."),
])
def test_an_account_id_from_a_form_or_a_button_is_refused_to_who_may_not_see_it(services, user_id, team_id, name):
    assert not may_open(services, user_id, team_id, name)


def test_an_account_id_is_opened_for_who_may_see_it_and_an_unknown_id_for_nobody(services):
    assert may_open(services, "U0DANA", "T0NORTH", "Hooli")
    assert may_open(services, "U0CARL", "T0OURS", "Stark Industries")
    assert may_open(services, "U0PRIYA", "T0OURS", "Umbrella")
    with Session(services.engine) as session:
        assert account_for_actor(session, 9999, who(services, "U0ADMIN")) is None


def test_search_finds_names_and_domains_within_what_the_actor_may_see(services):
    assert seen(services, "U0PRIYA", search="  INDUS ") == ["Stark Industries"]  # any case, trimmed
    assert seen(services, "U0PRIYA", search="wayne.c") == ["Wayne Enterprises"]
    # "o" is in Hooli's name and in three domains (.com); not in Umbrella, which has no domain.
    assert seen(services, "U0PRIYA", search="o") == ["Acme Inc.", "Hooli", "Stark Industries", "Wayne Enterprises"]
    assert seen(services, "U0DANA", "T0NORTH", search="wayne") == []  # found, but not theirs
    assert seen(services, "U0CARL", search="acme") == []


def test_wildcards_typed_into_the_search_are_taken_literally(services):
    with Session(services.engine) as session:
        for name in ("100% Juice", "1000 Juice", "A_B Labs", "AxB Labs", "Back\\Slash"):
            session.add(CustomerAccount(name=name, name_key=company_key(name)))
        session.commit()
    assert seen(services, "U0ADMIN", search="%") == ["100% Juice"]
    assert seen(services, "U0ADMIN", search="0% j") == ["100% Juice"]
    assert seen(services, "U0ADMIN", search="a_b") == ["A_B Labs"]
    assert seen(services, "U0ADMIN", search="_") == ["A_B Labs"]
    assert seen(services, "U0ADMIN", search="k\\s") == ["Back\\Slash"]
    assert seen(services, "U0ADMIN", search="\\") == ["Back\\Slash"]


def test_search_returns_at_most_the_limit_in_name_order(services):
    with Session(services.engine) as session:
        session.add_all([CustomerAccount(name=f"Zeta {i:03d}", name_key=f"zeta {i:03d}") for i in range(105)])
        session.commit()
        names = [a.name for a in visible_accounts(session, who(services, "U0ADMIN"), search="zeta")]
        assert len(names) == 100 and names == sorted(names) and names[0] == "Zeta 000"
        assert len(visible_accounts(session, who(services, "U0ADMIN"), search="zeta", limit=5)) == 5


def test_attached_partners_and_is_attached(services):
    hooli, wayne = account_id(services, "Hooli"), account_id(services, "Wayne Enterprises")
    with Session(services.engine) as session:
        assert [p.name for p in attached_partners(session, hooli)] == ["Globex Referrals", "Northwind Consulting"]
        northwind = session.exec(select(Partner.id).where(Partner.name == "Northwind Consulting")).one()
        assert is_attached(session, hooli, northwind) and not is_attached(session, wayne, northwind)
