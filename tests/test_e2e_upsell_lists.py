"""End to end: upsells in the lists and App Home. My deals and partner deals list the caller's upsells and never
another partner's; App Home shows an AE the upsells waiting for them, with Accept and Decline."""

from __future__ import annotations

import re
from decimal import Decimal

from sqlmodel import Session

from storage.models import Upsell, UpsellStatus
from tests.e2e_support import bot, clock, desk_message, dm_messages, text_of  # noqa: F401  (bot, clock: fixtures)
from tests.test_e2e_upsell_handshake import crm_told, flag_acme, thread  # noqa: F401  (crm_told: a fixture)
from tests.test_e2e_upsells import FLAG, NORTHWIND, accounts, open_from_desk, upsells  # noqa: F401  (a fixture)


def listed_upsells(message) -> list[str]:
    """The references of the upsells a deals list shows, in order."""
    text = text_of(message)
    if "*Upsells you can see" not in text:
        return []
    return re.findall(r"UPS-\d{5}", text.split("*Upsells you can see", 1)[1])


def test_my_deals_and_partner_deals_list_the_callers_upsells_and_never_another_partners(bot, engine, accounts):
    sandbox, driver = bot.sandbox, bot.driver
    flag_acme(bot, accounts)  # UPS-00001: Northwind's, Alex's
    driver.submit("U0BOB", open_from_desk(bot, "U0BOB", "C0GLOBEX").id,  # UPS-00002: Bob's (Globex), Alex's
                  dict(FLAG, account=str(accounts["acme"]), target="Analytics", signal="new_product_line"))
    driver.submit("U0BETH", open_from_desk(bot, "U0BETH", "C0GLOBEX").id,  # UPS-00003: Beth's (Globex), Bea's
                  dict(FLAG, account=str(accounts["hooli"])))
    assert [u.reference for u in upsells(engine)] == ["UPS-00001", "UPS-00002", "UPS-00003"]

    def my_deals(user: str, channel: str):
        desk = desk_message(sandbox, channel)
        assert driver.click(user, "my_deals", message=(channel, desk.ts)).status == 200
        return sandbox.ephemerals(user)[-1]

    def partner_deals(user: str, search: str = ""):
        assert driver.command(user, "/partner", f"deals {search}".strip()).status == 200
        return dm_messages(sandbox, user)[-1]

    dana = my_deals("U0DANA", "C0NORTH")
    assert listed_upsells(dana) == ["UPS-00001"] and "All 1 upsell;" in text_of(dana)
    assert "No registrations to show yet" in text_of(dana) and "Open" in text_of(dana) and "<@U0ALEX>" in text_of(dana)
    assert listed_upsells(my_deals("U0BOB", "C0GLOBEX")) == ["UPS-00002"]  # a referral contact: only their own
    assert listed_upsells(my_deals("U0BETH", "C0GLOBEX")) == ["UPS-00003"]
    assert listed_upsells(partner_deals("U0ALEX")) == ["UPS-00002", "UPS-00001"]  # an AE: theirs, newest first
    assert listed_upsells(partner_deals("U0BEA")) == ["UPS-00003"]
    assert listed_upsells(partner_deals("U0CARL")) == []
    everything = partner_deals("U0PRIYA")
    assert listed_upsells(everything) == ["UPS-00003", "UPS-00002", "UPS-00001"]
    assert "Globex Referrals" in text_of(everything) and "All 3 upsells" in text_of(everything)
    assert listed_upsells(partner_deals("U0PRIYA", "hooli")) == ["UPS-00003"]  # narrowed by account
    assert listed_upsells(partner_deals("U0PRIYA", "acme.com")) == ["UPS-00002", "UPS-00001"]

    # Honest counts: more than a list shows is said, never another partner's.
    with Session(engine) as session:
        for n in range(7):
            session.add(Upsell(account_id=accounts["acme"], partner_id=NORTHWIND, flagged_by_slack_id="U0ERIK",
                               signal="more_seats", target="Team", expected_value=Decimal(n + 1), currency="USD",
                               recurrence="monthly", timeline="", status=UpsellStatus.lost,
                               assigned_to_slack_id="U0ALEX"))
        session.commit()
    dana = my_deals("U0DANA", "C0NORTH")
    assert listed_upsells(dana) == [f"UPS-{n:05d}" for n in range(10, 5, -1)]
    assert "The newest 5 of 8 upsells" in text_of(dana) and "Globex" not in text_of(dana)
    assert len(dana.blocks) <= 50


def test_app_home_shows_an_ae_the_upsells_waiting_for_them_with_accept_and_decline(bot, engine, accounts, crm_told):
    sandbox, driver = bot.sandbox, bot.driver
    root = flag_acme(bot, accounts)  # UPS-00001: Alex's
    driver.submit("U0BETH", open_from_desk(bot, "U0BETH", "C0GLOBEX").id,  # UPS-00002: Bea's
                  dict(FLAG, account=str(accounts["hooli"])))
    flag_acme(bot, accounts, target="Analytics", signal="new_product_line")  # UPS-00003: Alex's

    driver.home_opened("U0ALEX")
    home = sandbox.home("U0ALEX")
    shown = str(home.blocks)
    assert "Upsells waiting for your answer* (2)" in shown and "2* upsells waiting" in shown
    assert "UPS-00003" in shown and "UPS-00001" in shown and "UPS-00002" not in shown
    assert [(b.action_id, b.value) for b in sandbox.buttons(home)][:4] == [
        ("upsell_accept", "3"), ("upsell_decline", "3"), ("upsell_accept", "1"), ("upsell_decline", "1")]
    driver.home_opened("U0BEA")
    assert "UPS-00002" in str(sandbox.home("U0BEA").blocks) and "UPS-00001" not in str(sandbox.home("U0BEA").blocks)
    driver.home_opened("U0DANA")  # a partner's person has no App Home lists
    assert "UPS-" not in str(sandbox.home("U0DANA").blocks)

    # Accept from App Home: committed, the thread told, and App Home published again without it.
    assert driver.click("U0ALEX", "upsell_accept", view_id=home.id, value="1").status == 200
    assert upsells(engine)[0].status == UpsellStatus.accepted and crm_told == [(1, "accepted", "accepted")]
    assert "Accepted by <@U0ALEX>" in thread(sandbox, root)[0]
    home = sandbox.home("U0ALEX")
    assert "UPS-00001" not in str(home.blocks) and "Upsells waiting for your answer* (1)" in str(home.blocks)

    # Decline from App Home asks why first, then App Home shows nothing waiting.
    assert driver.click("U0ALEX", "upsell_decline", view_id=home.id, value="3").status == 200
    why = {"reason": "Analytics is not sold there"}
    assert driver.submit("U0ALEX", sandbox.open_modal("U0ALEX").id, why).status == 200
    assert upsells(engine)[2].status == UpsellStatus.declined
    assert "Upsells waiting" not in str(sandbox.home("U0ALEX").blocks)
