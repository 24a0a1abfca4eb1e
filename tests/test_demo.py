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
        "#partner-northwind  Partnerbot 📌 pinned",  # the desk is pinned once posted
        "typed “germ” in the select: Slack lists Germany · EMEA",  # the country select, options from the app
        "errors: contact_email",  # bad input shown inline
        "estimated_value: “48.000” is unclear: did you mean 48,000 or 48?",  # asked, not guessed
        "Contact email: jane@acme\n",  # what was typed is shown, the mistake too
        "Estimated deal value: 48.000\n",
        "Customer's country: Germany · EMEA",  # a choice shows as the person saw it
        'modal updated "Add details (optional)"',  # stored, then the optional second step
        "REG-00001 · *Acme Inc.* (acme.com)",  # registered
        "Timeline: 1–3 months",  # the details as chosen
        "Platform · 48,000 USD · usage-based, starting at 4,000 USD/month · Germany (EMEA)",  # what was read
        "*Score ",  # scored, for the AE
        "Routed to you: rule “Territory and product line”",  # routed
        "Under review",  # the partner is told
        "Alex Rivera (AE) clicked [Accept]",
        "Approved: *Acme Inc.* is registered to you",  # the partner is told in the thread
        # Globex is a referral partner: its people see only their own registrations, so Bob's goes to him.
        "DM to Bob Stone (Globex, external)  Partnerbot → 📝 *Lead registration* REG-00002",
        'Bob Stone (Globex, external) closed "Add details (optional)" with [Skip]',  # details are optional
        "*Channel conflict* on a new registration by *Globex Referrals*",  # the second partner is flagged
        "REG-00001 Acme Inc. (acme.com) by *Northwind Consulting*",
        "Not approved: *ACME Incorporated*",
        "Registrations you can see",
        "Home tab for Alex Rivera",
        "Recorded 15,000.00 USD for ",
        "Won: *Acme Inc.* closed as a won deal",
        "I couldn't post to the channel C0NORTH for partner Northwind Consulting: Slack says not_in_channel",
        "Priya invites Partnerbot back",
        "#partner-northwind  Partnerbot → 📝 *Lead registration* REG-00003 · *Initech*",
        "_To raise it, ask the partner:_ add the company size: up to +",  # Hooli came without details
        # The upsell motion: the won Acme deal is a customer account of Northwind's now.
        "clicked [Flag an upsell]",
        "typed “ac” in the select: Slack lists Acme Inc. (acme.com)",  # only Northwind's accounts
        "#partner-northwind  Partnerbot → 📈 *Upsell* UPS-00001 · *Acme Inc.* (acme.com)",
        "Account executive: @Alex Rivera",  # the thread root mentions the owner AE
        "Alex Rivera (AE) clicked [Accept]",
        "Status: *✅ Accepted*",  # the root shows its status, updated in place
        "Final amount (USD, a month): 2,500",  # prefilled from the expected value
        "🏆 Won: *Acme Inc.* → *Enterprise* closed at 3,000 USD/month, credited to *Northwind Consulting*",
        "ran /partner show Northwind",  # the partner card: lifecycle stage and history
        "*Stage:* Producing since",
        "*Recent stage changes*",
        "only Dana Scully (Northwind Consulting, external) sees: 🌱 Sounds like *Acme Inc.*",  # one suggestion
        "Acme Inc. also asked about more seats for finance.",  # ...and none for the second message that day
        "Globex Referrals moved from activated to onboarded.",
        "*Welcome to the partner program, Globex Referrals!*",
        "#partner-globex  Partnerbot → @Bob Stone @Beth Moss\n    *Ready to register your first lead, Globex Referrals?*",
        "It's been 21 days since your onboarding and no lead is registered yet.",
        "[Register a lead] [Snooze 7 days] [Not relevant]",
        "1 partner stuck in onboarded for more than 14 days with no registration: Globex Referrals",
        "Bob Stone (Globex, external) clicked [Snooze 7 days]",
        "💤 @Bob Stone snoozed these nudges until",
        "*Recent nudges*\n    • ",
        "Activation to #partner-globex · snoozed by @Bob Stone",
        # A quiet approved deal and its protection about to end: Bea keeps it, Dana asks for time, Bea gives it.
        "*Is REG-00003 still in play?*",
        "[Still working] [Mark won] [Mark lost] [Snooze 7 days] [Not relevant]",
        "*Protection for Initech ends in 10 days*",
        "[Request extension] [Snooze 7 days] [Not relevant]",
        "✅ @Bea Chen is still working it",
        "asks to extend the protection of REG-00003 · *Initech* (initech.com).",
        "⏳ @Dana Scully asked for an extension on",
        "✅ Extended to",
        "📆 Protection extended: *Initech* is registered to you until",
        # The reports: the month's scorecards and My scorecard; Monday's digests, each with its chart; a report;
        # the digest's Full report, last.
        "#partner-northwind  Partnerbot → *Northwind Consulting's scorecard for ",
        "DM to Bob Stone (Globex, external)  Partnerbot → *Your scorecard for ",
        "only Dana Scully (Northwind Consulting, external) sees: *Northwind Consulting's scorecard for ",
        "DM to Sam Admin (Admin)  Partnerbot → Weekly partner digest, ",
        "Partner-sourced new pipeline: 98,500 USD",
        "Direct: not connected (Salesforce)",
        "Reseller: 33% (1 won of 3 decided, 1 open)",
        "DM to Priya Nair (Partner manager)  Partnerbot → Weekly partner digest, ",
        "[Nudge 1 stuck partner]",
        "Partnerbot 📎 shared a file: New pipeline per week: partner-sourced vs direct",
        "ran /partner report week resellers",
        "Northwind Consulting: 33.3% (1 won of 3 decided, 1 open)",
        "(thread) *Full report: Weekly partner digest",
        "REG-00001 Acme Inc. (acme.com) from Northwind Consulting: Won, score 85/100",
        "into the local CRM mirror",
        "Opportunity REG-00001: Partner Account: northwind.io · Attribution Type: partner_sourced · "
        "Registration Status: won",
        "Current Monthly Revenue: 15,000 · Revenue Growth: 275 · StageName: Closed Won",
        "Partner REG-00001: Role: Reseller",
        "Name: Initech (REG-00003) · Amount: 48,000 · LeadSource: Partner · Protection Expires: ",  # extended
        "Opportunity UPS-00001: Name: Acme Inc. - Enterprise (UPS-00001) · Upsell Signal: more_seats · "
        "Landing Zone: Platform · Target Product Line: Enterprise · Partner Account: northwind.io · "
        "Attribution Type: partner_sourced · Type: Existing Customer - Upgrade · StageName: Closed Won · Amount: 3,000",
        "Partner UPS-00001: Role: Reseller",
        "What happened",
        "5 leads registered by 2 partners",
        "1 withdrawn",  # the partner tools: Vandelay withdrawn by its partner
        "1. Connect Slack: create the app from manifest.yml",
        "2. Import your team and partners: partnerbot import team team.csv",
        "3. Run partnerbot doctor",
    ]
    position = 0
    for snippet in expected_in_order:
        found = text.find(snippet, position)
        assert found >= 0, f"demo transcript lacks {snippet!r} after position {position}"
        position = found
    assert "#partner-globex  Partnerbot → 📝 *Lead registration*" not in text  # never in the shared channel
    assert text.count("🌱 Sounds like") == 1  # at most one suggestion per account per day
    assert text.count("*Ready to register your first lead, Globex Referrals?*") == 2  # posted once, then edited
    assert text.count("Weekly partner digest, ") == 3  # the admin's, Priya's, and Full report's title: once a week
    assert "{'" not in text and "': " not in text  # no Python dict reprs anywhere
    assert "____" not in text.split("Dana fixes it")[1].split("modal updated")[0]  # the submission shows values
