"""End to end: the partner asked in on an upsell says it is involved. It joins from the thread's root once (a referral
partner from its DM, only its listed contacts), and only on an open, partner-influenced upsell; the CRM told."""

from __future__ import annotations

from storage.models import UpsellStatus
from tests.e2e_support import bot, clock, dm_messages, text_of  # noqa: F401  (bot, clock: fixtures)
from tests.test_e2e_upsell_handshake import (  # noqa: F401  (crm_told: a fixture)
    blocks_of,
    crm_told,
    flag_acme,
    restore,
    thread,
    told_privately,
)
from tests.test_e2e_upsells import (  # noqa: F401  (accounts: a fixture)
    FLAG,
    GLOBEX,
    accounts,
    click_as,
    events_of,
    upsell_root,
    upsells,
)


def ask_northwind_in(bot, accounts, reference: str = "UPS-00001"):
    """Alex runs /upsell in Northwind's channel on Initrode (no partner attached): Northwind is asked in."""
    assert bot.driver.command("U0ALEX", "/upsell", "", channel_id="C0NORTH").status == 200
    modal = bot.sandbox.open_modal("U0ALEX")
    assert bot.driver.submit("U0ALEX", modal.id, dict(FLAG, account=str(accounts["initrode"]))).status == 200
    return upsell_root(bot.sandbox, "C0NORTH", reference)


def test_the_partner_asked_in_joins_from_the_thread_root_once(bot, engine, accounts, crm_told):
    sandbox, driver = bot.sandbox, bot.driver
    root = ask_northwind_in(bot, accounts)
    assert [b.action_id for b in sandbox.buttons(root)] == ["upsell_accept", "upsell_decline", "upsell_join"]
    assert "*Northwind Consulting*: are you involved?" in text_of(root)
    offered = blocks_of(sandbox, root)
    # Alex (ours) and Bob (another partner's, by a hand-made request) may not join it.
    driver.click("U0ALEX", "upsell_join", message=(root.channel, root.ts))
    click_as(bot, "U0BOB", "T0GLOBEX", "upsell_join", "1", sandbox.dm_channel("U0BOB"))
    for user in ("U0ALEX", "U0BOB"):
        assert "Only the people of the partner we asked in can join this upsell." in told_privately(sandbox, user)
    assert upsells(engine)[0].partner_joined_at is None and crm_told == []

    assert driver.click("U0DANA", "upsell_join", message=(root.channel, root.ts)).status == 200
    [upsell] = upsells(engine)
    assert upsell.partner_joined_at is not None and upsell.status == UpsellStatus.open
    assert events_of(engine, upsell.id) == [UpsellStatus.open]  # no status change: the SLA keeps counting
    assert crm_told == [(1, "attribution", "open")]
    [reply] = thread(sandbox, root)
    assert "<@U0DANA> confirmed *Northwind Consulting* is involved" in reply
    root = upsell_root(sandbox, "C0NORTH")
    assert [b.action_id for b in sandbox.buttons(root)] == ["upsell_accept", "upsell_decline"]
    assert "asked *Northwind Consulting* in (partner-influenced): :handshake: joined" in text_of(root)
    assert "you joined UPS-00001" in text_of(sandbox.ephemerals("U0DANA")[-1])

    # Erik (Northwind too) clicks the Join still on his screen: already joined, nothing changes.
    restore(sandbox, root, offered)
    driver.click("U0ERIK", "upsell_join", message=(root.channel, root.ts))
    assert "Northwind Consulting already joined UPS-00001: nothing changed." in text_of(
        sandbox.ephemerals("U0ERIK")[-1])
    assert len(crm_told) == 1 and len(thread(sandbox, root)) == 1


def test_a_referral_partner_is_asked_in_by_dm_and_only_its_listed_contacts_may_join(bot, engine, accounts, crm_told):
    sandbox, driver = bot.sandbox, bot.driver
    sandbox.add_user("U0GUS", "T0GLOBEX", "Gus Globex")  # Globex's, but not one of its listed contacts
    driver.command("U0ALEX", "/upsell", "initrode")
    modal = sandbox.open_modal("U0ALEX")
    assert driver.submit("U0ALEX", modal.id, dict(FLAG, account=str(accounts["initrode"]), partner=str(GLOBEX),
                                                  influenced=["influenced"])).status == 200
    [upsell] = upsells(engine)
    assert (upsell.partner_channel_id, upsell.attribution) == (None, "partner_influenced")
    root = upsell_root(sandbox, sandbox.dm_channel("U0ALEX"))  # a referral partner's people see only their own
    assert "upsell_join" not in [b.action_id for b in sandbox.buttons(root)]
    asked = {user: [m for m in dm_messages(sandbox, user) if "UPS-00001" in text_of(m)] for user in ("U0BOB", "U0BETH")}
    for user, [request] in asked.items():
        assert "<@U0ALEX> asks *Globex Referrals* in on an expansion" in text_of(request)
        assert "*Initrode*" in text_of(request) and [b.action_id for b in sandbox.buttons(request)] == ["upsell_join"]
    assert not [m for m in sandbox.messages("C0GLOBEX") if "UPS-" in text_of(m)]

    click_as(bot, "U0GUS", "T0GLOBEX", "upsell_join", "1", sandbox.dm_channel("U0GUS"))
    assert "Only the people of the partner we asked in" in told_privately(sandbox, "U0GUS")
    bob_request = asked["U0BOB"][0]
    [beth_request] = asked["U0BETH"]
    assert driver.click("U0BETH", "upsell_join", message=(beth_request.channel, beth_request.ts)).status == 200
    assert upsells(engine)[0].partner_joined_at is not None and crm_told == [(1, "attribution", "open")]
    for user in ("U0BOB", "U0BETH"):  # both requests say who joined, and offer Join no more
        [request] = [m for m in dm_messages(sandbox, user) if "UPS-00001" in text_of(m) and "asks" not in text_of(m)]
        assert "<@U0BETH> joined for *Globex Referrals*" in text_of(request) and sandbox.buttons(request) == []
    assert "<@U0BETH> confirmed *Globex Referrals* is involved" in thread(sandbox, root)[0]
    # Bob's click from before the update: already joined.
    restore(sandbox, bob_request, bob_request.blocks)
    driver.click("U0BOB", "upsell_join", message=(bob_request.channel, bob_request.ts))
    assert "already joined UPS-00001" in told_privately(sandbox, "U0BOB") and len(crm_told) == 1


def test_join_is_only_for_an_open_partner_influenced_upsell(bot, engine, accounts, crm_told):
    sandbox, driver = bot.sandbox, bot.driver
    root = flag_acme(bot, accounts)  # Dana's own flag: partner-sourced, nothing to join
    click_as(bot, "U0DANA", "T0NORTH", "upsell_join", "1", root.channel)
    assert "Only the people of the partner we asked in" in text_of(sandbox.ephemerals("U0DANA")[-1])
    asked = ask_northwind_in(bot, accounts, "UPS-00002")  # declined before anyone joins
    offered = blocks_of(sandbox, asked)
    driver.click("U0ALEX", "upsell_decline", message=(asked.channel, asked.ts))
    driver.submit("U0ALEX", sandbox.open_modal("U0ALEX").id, {"reason": "The customer said no"})
    assert "upsell_join" not in [b.action_id for b in sandbox.buttons(upsell_root(sandbox, "C0NORTH", "UPS-00002"))]
    restore(sandbox, asked, offered)
    driver.click("U0DANA", "upsell_join", message=(asked.channel, asked.ts))
    assert "UPS-00002 is declined: there is nothing to join any more." in text_of(sandbox.ephemerals("U0DANA")[-1])
    assert [u.partner_joined_at for u in upsells(engine)] == [None, None] and crm_told == []
