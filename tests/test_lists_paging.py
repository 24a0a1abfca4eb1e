"""Paged deals lists and App Home: every actor pages through exactly what it may see, and cursors are not trusted."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlmodel import Session

from bot.demo_data import import_demo_records
from handlers.blocks.lists import build_deals_list, showing
from storage.lists import PAGE_SIZE, Cursor
from storage.models import PricingModel, Registration, RegistrationStatus, ReviewKind
from tests.e2e_support import desk_message, dm_messages, text_of
from tests.support import RecordingNotifier
from workflows.people import deals_for, home_for, identify
from workflows.program import Program
from workflows.services import Services

CONTACTS = {1: ["U0DANA", "U0ERIK"], 2: ["U0BOB", "U0BETH"], 3: ["U0GUEST"]}
AES = ["U0ALEX", "U0BEA", "U0CARL", None]


def seed(engine, now, count: int = 300) -> list[Registration]:
    """A few hundred registrations across partners and AEs, with many created_at ties (so id must break them)."""
    chance = random.Random(7)
    rows = []
    for i in range(count):
        partner_id = chance.choice([1, 2, 3])
        conflict = chance.random() < 0.1
        rows.append(Registration(
            partner_id=partner_id, submitted_by_slack_id=chance.choice(CONTACTS[partner_id]),
            company=f"Company {i}", company_key=f"company{i}", contact_name="Jo", contact_email="jo@x.com",
            region="EMEA", product_line="Platform", estimated_value=Decimal(1000), currency="USD",
            pricing_model=PricingModel.subscription, company_size="1-50", budget="approved", timeline="1-3m",
            assigned_to_slack_id=chance.choice(AES),
            status=RegistrationStatus.under_review if conflict else chance.choice(list(RegistrationStatus)),
            review_kind=ReviewKind.conflict if conflict else None,
            created_at=now - timedelta(minutes=chance.randrange(count // 3))))
    with Session(engine) as session:
        session.add_all(rows)
        session.commit()
        for row in rows:
            session.refresh(row)
        session.expunge_all()
    return rows


def newest_first(rows) -> list[int]:
    return [r.id for r in sorted(rows, key=lambda r: (r.created_at, r.id), reverse=True)]


ALLOWED = {  # what each actor may see, written out from the rules rather than from the query
    ("U0DANA", "T0NORTH"): lambda r: r.partner_id == 1,
    ("U0BOB", "T0GLOBEX"): lambda r: r.partner_id == 2 and r.submitted_by_slack_id == "U0BOB",
    ("U0GUEST", "T0OURS"): lambda r: r.partner_id == 3,
    ("U0ALEX", "T0OURS"): lambda r: r.assigned_to_slack_id == "U0ALEX",
    ("U0PRIYA", "T0OURS"): lambda r: True,
    ("U0ADMIN", "T0OURS"): lambda r: True,
    ("U0NOBODY", "T0OURS"): lambda r: False,
}


@pytest.fixture
def services(engine, now):
    import_demo_records(engine)
    return Services(engine=engine, program=Program(), notifier=RecordingNotifier(), clock=lambda: now,
                    our_team_id="T0OURS", bot_user_id="U0BOT")


def walk(fetch, actor):
    """Every page forward, then back again; returns the pages going forward."""
    pages = [fetch(actor, None)]
    while pages[-1].next is not None:
        pages.append(fetch(actor, Cursor.parse(pages[-1].next.encode())))  # through the button value
    back = pages[-1]
    for expected in reversed(pages[:-1]):
        back = fetch(actor, Cursor.parse(back.previous.encode()))
        assert [r.id for r, _ in back.rows] == [r.id for r, _ in expected.rows]
        assert back.position == expected.position
    assert back.previous is None
    return pages


@pytest.mark.parametrize("who", list(ALLOWED))
def test_each_actor_pages_through_exactly_what_it_may_see(services, engine, now, who):
    rows = seed(engine, now)
    actor = identify(services, user_id=who[0], team_id=who[1])
    pages = walk(lambda a, c: deals_for(services, a, c), actor)
    listed = [r.id for page in pages for r, _ in page.rows]
    expected = newest_first([r for r in rows if ALLOWED[who](r)])
    assert listed == expected  # no gaps, no duplicates, nothing of anyone else's, newest first
    assert all(len(page.rows) == PAGE_SIZE for page in pages[:-1])
    assert all(page.total == len(expected) and not page.capped for page in pages)
    assert [page.position for page in pages] == list(range(0, max(len(expected), 1), PAGE_SIZE))


def test_home_pages_through_owned_leads_and_open_conflicts(services, engine, now):
    rows = seed(engine, now)
    for user_id, mine in [("U0ALEX", lambda r: r.assigned_to_slack_id == "U0ALEX"),
                          ("U0PRIYA", lambda r: r.status in (RegistrationStatus.received, RegistrationStatus.under_review)
                           and r.review_kind == ReviewKind.conflict)]:
        actor = identify(services, user_id=user_id, team_id="T0OURS")
        pages = walk(lambda a, c: home_for(services, a, c), actor)
        assert [r.id for page in pages for r, _ in page.rows] == newest_first([r for r in rows if mine(r)])
    assert home_for(services, identify(services, user_id="U0DANA", team_id="T0NORTH")).rows == []


def test_showing_says_where_the_page_is(services, engine, now):
    rows = seed(engine, now)
    manager = identify(services, user_id="U0PRIYA", team_id="T0OURS")
    second = deals_for(services, manager, deals_for(services, manager).next)
    assert showing(second) == f"Showing 21–40 of {len(rows)}"
    message = build_deals_list(second, manager)
    assert len(message.blocks) <= 50 and [b.to_dict() for b in message.blocks]
    assert [e.text.text for e in message.blocks[-1].elements] == ["Previous", "Next"]


def test_counting_stops_at_the_cap(services, engine, now, monkeypatch):
    import storage.lists

    seed(engine, now, count=60)
    monkeypatch.setattr(storage.lists, "COUNT_CAP", 50)
    page = deals_for(services, identify(services, user_id="U0ADMIN", team_id="T0OURS"))
    assert (page.total, page.capped) == (50, True) and showing(page) == "Showing 1–20 of more than 50"


@pytest.mark.parametrize("value", ["", "garbage", "n:1:2", "x:0:1:2", "n:0:abc:1", "n:0:1:99999999999999999999999",
                                   "n:-5:1:0", "p:0:1:-99999999999999999", "n:0:" + "9" * 40 + ":0", None, 12])
def test_malformed_cursors_mean_the_first_page_or_nothing_foreign(services, engine, now, value):
    rows = seed(engine, now, count=60)
    dana = identify(services, user_id="U0DANA", team_id="T0NORTH")
    page = deals_for(services, dana, Cursor.parse(value))
    assert {r.partner_id for r, _ in page.rows} <= {1}
    assert page.position >= 0 and len(page.rows) <= PAGE_SIZE
    if Cursor.parse(value) is None:
        assert [r.id for r, _ in page.rows] == newest_first([r for r in rows if r.partner_id == 1])[:PAGE_SIZE]


def test_a_forged_cursor_cannot_reveal_other_partners(services, engine, now):
    rows = seed(engine, now)
    globex_row = next(r for r in rows if r.partner_id == 2)
    dana = identify(services, user_id="U0DANA", team_id="T0NORTH")
    for forged in [Cursor(globex_row.created_at, globex_row.id, True, 0),
                   Cursor(globex_row.created_at, globex_row.id, False, 5),
                   Cursor(now + timedelta(days=1), 10**9, True, 10**6)]:
        page = deals_for(services, dana, forged)
        assert page.rows and all(r.partner_id == 1 for r, _ in page.rows)
        assert page.position <= page.total - len(page.rows)


def test_paging_clicks_end_to_end(bot, engine, now):
    rows = seed(engine, now, count=90)
    sandbox, driver = bot.sandbox, bot.driver
    # A manager's /partner deals in the DM: Next and Previous replace the message in place.
    driver.command("U0PRIYA", "/partner", "deals")
    listing = dm_messages(sandbox, "U0PRIYA")[-1]
    assert "Showing 1–20 of 90" in text_of(listing)
    driver.click("U0PRIYA", "deals_older", message=(listing.channel, listing.ts))
    listing = dm_messages(sandbox, "U0PRIYA")[-1]
    assert "Showing 21–40 of 90" in text_of(listing) and listing.edited
    second = newest_first(rows)[20:40]
    assert f"REG-{second[0]:05d}" in text_of(listing) and f"REG-{second[-1]:05d}" in text_of(listing)
    driver.click("U0PRIYA", "deals_newer", message=(listing.channel, listing.ts))
    assert "Showing 1–20 of 90" in text_of(dm_messages(sandbox, "U0PRIYA")[-1])

    # The partner desk's My deals: an ephemeral list, paged through its response_url.
    northwind = [r for r in rows if r.partner_id == 1]
    driver.click("U0DANA", "my_deals", message=("C0NORTH", desk_message(sandbox, "C0NORTH").ts))
    first = sandbox.ephemerals("U0DANA")[-1]
    assert f"Showing 1–20 of {len(northwind)}" in text_of(first)
    driver.click("U0DANA", "deals_older", message=("C0NORTH", first.ts))
    shown = text_of(sandbox.ephemerals("U0DANA")[-1])
    assert f"Showing 21–{min(40, len(northwind))} of {len(northwind)}" in shown
    assert f"REG-{newest_first(northwind)[20]:05d}" in shown
    assert not any(f"REG-{r.id:05d}" in shown for r in rows if r.partner_id != 1)

    # App Home: Next publishes the next page of the AE's own leads.
    alex = newest_first([r for r in rows if r.assigned_to_slack_id == "U0ALEX"])
    driver.home_opened("U0ALEX")
    home = sandbox.home("U0ALEX")
    assert f"Showing 1–20 of {len(alex)}" in str(home.blocks)
    driver.click("U0ALEX", "home_older", view_id=home.id)
    home = sandbox.home("U0ALEX")
    assert f"Showing 21–{min(40, len(alex))} of {len(alex)}" in str(home.blocks)
    assert f"REG-{alex[20]:05d}" in str(home.blocks) and f"REG-{alex[0]:05d}" not in str(home.blocks)


@pytest.mark.parametrize("value", ["", "garbage|acme", "|acme", "n:0:1:2|" + "x" * 5000, None, 12, "n:0:1:2|%_"])
def test_a_paging_value_keeps_its_search_and_forged_ones_stay_filtered(services, engine, now, value):
    from handlers.blocks.lists import parse_paging_value

    seed(engine, now, count=30)
    cursor, search = parse_paging_value(value)
    assert len(search) <= 100
    dana = identify(services, user_id="U0DANA", team_id="T0NORTH")
    page = deals_for(services, dana, cursor, search=search)
    assert {r.partner_id for r, _ in page.rows} <= {1}  # whatever the value says, only what Dana may see


def test_search_narrows_inside_the_permission_filter(services, engine, now):
    rows = seed(engine, now, count=30)
    dana = identify(services, user_id="U0DANA", team_id="T0NORTH")
    mine = next(r for r in rows if r.partner_id == 1)
    page = deals_for(services, dana, search=mine.company_key)
    assert mine.id in [r.id for r, _ in page.rows]
    assert all(r.partner_id == 1 and mine.company_key in r.company_key for r, _ in page.rows)
    other = next(r for r in rows if r.partner_id == 2)
    assert other.id not in [r.id for r, _ in deals_for(services, dana, search=other.company_key).rows]
