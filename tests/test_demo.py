"""`partnerbot demo` (what `make run` plays without credentials) shows every flow end to end."""

from __future__ import annotations

import io

from rich.console import Console

from bot.demo import run_demo
from workflows.program import Program


def test_demo_walkthrough_shows_every_step(engine, database_url):  # engine: a freshly reset database
    out = io.StringIO()
    assert run_demo(Program(), console=Console(file=out, width=200, soft_wrap=True), database_url=database_url) == 0
    text = out.getvalue()
    expected_in_order = [
        "Partner desk for Northwind Consulting",
        "typed “germ” in the select: Slack lists Germany · EMEA",  # the country select, options from the app
        "errors: contact_email",  # bad input shown inline
        "estimated_value: “48.000” is unclear: did you mean 48,000 or 48?",  # asked, not guessed
        "REG-00001 · *Acme Inc.* (acme.com)",  # registered
        "Platform · 48,000 USD · usage-based, starting at 4,000 USD/month · Germany (EMEA)",  # what was read
        "*Score ",  # scored, for the AE
        "Routed to you: rule “Territory and product line”",  # routed
        "Under review",  # the partner is told
        "Alex Rivera (AE) clicked [Accept]",
        "Approved: *Acme Inc.* is registered to you",  # the partner is told in the thread
        "*Channel conflict* on a new registration by *Globex Referrals*",  # the second partner is flagged
        "REG-00001 Acme Inc. (acme.com) by *Northwind Consulting*",
        "Not approved: *ACME Incorporated*",
        "Registrations you can see",
        "Home tab for Alex Rivera",
        "Recorded 15,000.00 USD for ",
        "Won: *Acme Inc.* closed as a won deal",
        "I couldn't post to the channel C0GLOBEX for partner Globex Referrals: Slack says not_in_channel",
        "Priya invites Partnerbot back",
        "#partner-globex  Partnerbot → 📝 *Lead registration* REG-00003 · *Initech*",
        "REG-00001 Acme Inc. (acme.com): won",
        "into the local CRM mirror",
        "Opportunity REG-00001: {'Partner_Account__r': {'Partnerbot_Partner_Key__c': 'northwind.io'}, "
        "'Attribution_Type__c': 'partner_sourced', 'Registration_Status__c': 'won'",
        "'Current_Monthly_Revenue__c': 15000.0, 'Revenue_Growth__c': 275.0, 'StageName': 'Closed Won'}",
        "Partner REG-00001: {'Role': 'Reseller'}",
    ]
    position = 0
    for snippet in expected_in_order:
        found = text.find(snippet, position)
        assert found >= 0, f"demo transcript lacks {snippet!r} after position {position}"
        position = found
