"""`partnerbot demo`: every flow, played on the local Slack sandbox and printed as a transcript."""

from __future__ import annotations

import logging
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from sqlmodel import Session, select

from bot.demo_digest import play_reports
from bot.demo_nudges import play_nudges
from bot.demo_protection import play_protection
from bot.demo_partner import play_partner_tools
from bot.demo_upsell import play_upsells
from bot.local import LocalBot, local_bot
from handlers.blocks.text import STATUS_LABELS
from storage.crm.status import mirror_of
from storage.crm.writer import drain_outbox
from storage.db import create_schema, make_engine
from storage.models import CustomerAccount, Partner, Registration, TeamMember, Upsell
from storage.slack.outbox import next_due_at
from workflows.amounts import shown as shown_amount
from workflows.countries import country_name
from workflows.program import Program

PARTNER_FORM = {  # the form's first step: what routing and the conflict check need
    "company": "Acme Inc.", "domain": "https://www.acme.com/pricing", "contact_name": "Jane Smith",
    "contact_email": "jane@acme.com", "country": "DE", "product_line": "Platform", "estimated_value": "48,000",
    "currency": "USD", "pricing_model": "usage_based", "starting_monthly_usage": "4000",
    "attribution": "partner_sourced",
}
PARTNER_DETAILS = {  # its optional second step
    "company_size": "201-1000", "budget": "approved", "timeline": "1-3m",
    "notes": "CFO is sponsoring; they are comparing us with two others.",
}


MIRROR_FIELDS = ("Name", "Company", "LeadSource", "Type", "StageName", "Partner_Account__r", "Attribution_Type__c",
                 "Registration_Status__c", "Product_Line__c", "Pricing_Model__c", "Signing_Monthly_Revenue__c",
                 "Current_Monthly_Revenue__c", "Revenue_Growth__c", "Upsell_Signal__c", "Landing_Zone__c",
                 "Target_Product_Line__c", "Role", "Month__c", "Amount__c", "Amount", "Protection_Expires__c")


class Walkthrough:
    """Runs one scripted step at a time and prints what happened in Slack since the last step."""

    def __init__(self, bot: LocalBot, console: Console, pause: float):
        self.bot, self.console, self.pause = bot, console, pause
        self.transcript = bot.sandbox.transcript()

    def step(self, title: str, action: Callable[[], object]) -> None:
        self.console.rule(f"[bold]{title}")
        action()
        self.settle()
        for line in self.transcript.new_lines():
            self.console.print(line, markup=False, highlight=False)
        if self.pause:
            time.sleep(self.pause)

    def settle(self, seconds: float = 10.0) -> None:
        """Wait until the Slack outbox owes nothing that is due (a retry after a fault comes due quickly)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with Session(self.bot.engine) as session:
                due = next_due_at(session)
            if due is None:
                return
            time.sleep(0.05)

    def submit_form(self, user_id: str, values: dict, details: dict | None = None) -> None:
        """Fill in and submit the open modal (choosing from options-loaded selects as a person would); when
        the app answers with the registration's details step, save `details` there, or Skip it."""
        sandbox, driver = self.bot.sandbox, self.bot.driver
        modal = sandbox.open_modal(user_id)
        for block in modal.blocks:
            element = block.get("element") or {}
            if element.get("type") == "external_select" and block.get("block_id") == "country" \
                    and values.get("country"):
                driver.suggest(user_id, modal.id, element["action_id"], country_name(values["country"]))
        driver.submit(user_id, modal.id, values)
        step = sandbox.open_modal(user_id)
        if step is not None and step.callback_id == "lead_details":
            if details:
                driver.submit(user_id, step.id, details)
            else:
                driver.close(user_id, step.id)

    def type_in_select(self, user_id: str, action_id: str, typed: str) -> None:
        """Type into an options-loaded select of the open modal: Slack asks the app (block_suggestion)."""
        modal = self.bot.sandbox.open_modal(user_id)
        options = self.bot.driver.suggest(user_id, modal.id, action_id, typed).json.get("options", [])
        shown = ", ".join(o["text"]["text"] for o in options[:5]) or "nothing"
        self.console.print(f"  ▭ typed “{typed}” in the select: Slack lists {shown}", markup=False,
                           highlight=False)

    def click_in(self, user_id: str, channel_id: str, action_id: str) -> None:
        message = next(m for m in reversed(self.bot.sandbox.messages(channel_id))
                       if any(b.action_id == action_id for b in self.bot.sandbox.buttons(m)))
        self.bot.driver.click(user_id, action_id, message=(channel_id, message.ts))

    def click_in_dm(self, user_id: str, action_id: str) -> None:
        self.click_in(user_id, self.bot.sandbox.dm_channel(user_id), action_id)


def play(bot: LocalBot, console: Console, pause: float = 0.0) -> None:
    """The script: desk, registration with a typo fixed, routing, AE accept, a conflict, lists, home."""
    w = Walkthrough(bot, console, pause)
    driver = bot.driver
    w.step("Partnerbot is added to the Slack Connect channel shared with Northwind",
           lambda: driver.bot_joined("C0NORTH"))
    w.step("…and to the one shared with Globex", lambda: driver.bot_joined("C0GLOBEX"))
    w.step("Dana (Northwind, external) clicks Register a lead on the partner desk",
           lambda: w.click_in("U0DANA", "C0NORTH", "register_lead"))
    w.step("Dana types “germ” for the country; the region follows from it",
           lambda: w.type_in_select("U0DANA", "country", "germ"))
    w.step("Dana submits an email typo and 48.000 (48 or 48,000?): both shown inline",
           lambda: w.submit_form("U0DANA", dict(PARTNER_FORM, contact_email="jane@acme", estimated_value="48.000")))
    w.step("Dana fixes it and submits: the lead is stored at once; in the optional second step she adds size, "
           "budget, timeline and notes, and it is checked, scored and routed to an AE",
           lambda: w.submit_form("U0DANA", PARTNER_FORM, PARTNER_DETAILS))
    w.step("Alex (AE) accepts the lead: the partner is told in the thread and protection starts",
           lambda: w.click_in_dm("U0ALEX", "review_accept"))
    w.step("Bob (Globex, external) asks the bot for help registering a lead",
           lambda: driver.mention("U0BOB", "C0GLOBEX", "I want to register a lead"))
    w.step("Bob registers ACME Incorporated (acme.com) too, and skips the details; Globex is a referral partner, "
           "so its thread goes to Bob privately, not to Globex's channel",
           lambda: (w.click_in("U0BOB", "C0GLOBEX", "register_lead"),
                    w.submit_form("U0BOB", dict(PARTNER_FORM, company="ACME Incorporated", domain="acme.com",
                                                contact_email="cto@acme.com", pricing_model="subscription",
                                                starting_monthly_usage=""))))
    w.step("Priya (partner manager) rejects the conflicting registration: naming Northwind to Globex is "
           "refused, so she picks the standard wording",
           lambda: (w.click_in_dm("U0PRIYA", "conflict_reject"),
                    w.submit_form("U0PRIYA", {"reason": "Northwind registered Acme first and it is approved."}),
                    w.submit_form("U0PRIYA", {"reason_choice": "registered_first"})))
    w.step("Dana clicks My deals", lambda: w.click_in("U0DANA", "C0NORTH", "my_deals"))
    w.step("Alex opens Partnerbot's App Home", lambda: driver.home_opened("U0ALEX"))
    w.step("Priya asks what she can do", lambda: driver.command("U0PRIYA", "/partner", "help"))
    month = bot.services.clock().strftime("%Y-%m")
    w.step("Acme's usage grew from 4,000 to 15,000 USD a month: Priya records it",
           lambda: driver.command("U0PRIYA", "/partner", f"usage REG-00001 {month} 15000"))
    w.step("Alex marks the Acme deal won while Slack has a hiccup (503): the message waits in the outbox "
           "and Northwind hears of the win once",
           lambda: (bot.sandbox.fail("chat.postMessage", status=503),
                    w.click_in_dm("U0ALEX", "deal_won")))
    w.step("Someone removes Partnerbot from Northwind's channel; Erik's registration can't be posted there, "
           "so Priya is told once, with the fix",
           lambda: (bot.sandbox.state.channels["C0NORTH"].members.remove(bot.sandbox.bot_user_id),
                    w.click_in("U0ERIK", "C0NORTH", "register_lead"),
                    w.submit_form("U0ERIK", dict(PARTNER_FORM, company="Initech", domain="initech.com",
                                                 contact_email="cfo@initech.com", pricing_model="subscription",
                                                 starting_monthly_usage=""))))
    w.step("Priya invites Partnerbot back: what failed there is posted, once",
           lambda: driver.bot_joined("C0NORTH"))
    play_reviewer_tools(bot, w)
    play_partner_tools(bot, w)
    play_upsells(bot, w)
    play_nudges(bot, w)
    play_protection(bot, w)
    play_reports(bot, w)


def play_reviewer_tools(bot: LocalBot, w: Walkthrough) -> None:
    """A reviewer's day: ask the partner, hand a lead over, undo a click, decide from App Home, say why it was lost."""
    driver, sandbox = bot.driver, bot.sandbox

    def thread_root(reference: str):
        return next(m for m in sandbox.messages("C0NORTH") if reference in m.text and not m.thread_ts)

    def click_on_home(user_id: str, action_id: str) -> None:
        home = sandbox.home(user_id)
        driver.click(user_id, action_id, view_id=home.id,
                     value=next(b.value for b in sandbox.buttons(home) if b.action_id == action_id))

    w.step("Dana registers Hooli and skips the details: Alex's score says what they would add",
           lambda: (w.click_in("U0DANA", "C0NORTH", "register_lead"),
                    w.submit_form("U0DANA", dict(PARTNER_FORM, company="Hooli", domain="hooli.com",
                                                 contact_email="cto@hooli.com", pricing_model="subscription",
                                                 starting_monthly_usage=""))))
    w.step("Alex asks the partner a question: it goes into Hooli's thread in Northwind's channel",
           lambda: (w.click_in_dm("U0ALEX", "review_ask_partner"),
                    w.submit_form("U0ALEX", {"question": "Who signs the order, and by when?"})))
    w.step("Dana answers in the thread: Slack sends the reply as a message event, and Alex gets it with a link",
           lambda: driver.post("U0DANA", "C0NORTH", "Their CFO, before the end of the quarter.",
                               thread_ts=thread_root("REG-00004").ts))
    w.step("Alex is off next week and reassigns the lead to Bea: Northwind is not told anything",
           lambda: (w.click_in_dm("U0ALEX", "review_reassign"),
                    w.submit_form("U0ALEX", {"assignee": "U0BEA", "reason": "I'm away next week; Bea knows Hooli."})))
    w.step("Bea accepts (Slack asks her to confirm first), then notices a mistake and clicks Undo: the approval "
           "is withdrawn, the CRM is told, and Northwind hears of the correction",
           lambda: (w.click_in_dm("U0BEA", "review_accept"),
                    driver.click("U0BEA", "review_undo", message=next(
                        (e.channel, e.ts) for e in reversed(sandbox.ephemerals("U0BEA"))
                        if any(b.action_id == "review_undo" for b in sandbox.buttons(e))))))
    w.step("Bea opens App Home: what waits for her, with the buttons", lambda: driver.home_opened("U0BEA"))
    w.step("Bea accepts Hooli from App Home after all", lambda: click_on_home("U0BEA", "review_accept"))
    w.step("Hooli goes quiet: Bea marks it lost (confirmed) and says why, for our team and the CRM",
           lambda: (click_on_home("U0BEA", "deal_lost"),
                    w.submit_form("U0BEA", {"reason_choice": "no_decision", "reason": "No reply since the demo."})))


def _field_text(value: object) -> str:
    """A CRM field value as a person reads it (a lookup by external id shows the key it points at)."""
    if isinstance(value, dict):
        return ", ".join(_field_text(v) for v in value.values())
    if isinstance(value, float) and value.is_integer():
        return f"{value:,.0f}"
    return str(value)


def _record_line(sobject: str, key: str, values: dict) -> str:
    shown = " · ".join(f"{name.removesuffix('__c').removesuffix('__r').replace('_', ' ')}: {_field_text(v)}"
                       for name, v in values.items() if name in MIRROR_FIELDS)
    return f"  {sobject} {key}: {shown}"


def summarise(bot: LocalBot, console: Console) -> None:
    """What was stored and written for the CRM, then what happened in a few lines and what to do next."""
    def say(text: str = "") -> None:
        console.print(text, markup=False, highlight=False)

    console.rule("[bold]Stored")
    with Session(bot.engine) as session:
        registrations = session.exec(select(Registration).order_by(Registration.id)).all()
        names = {m.slack_user_id: m.name for m in session.exec(select(TeamMember)).all()}
        partners = {p.id: p.name for p in session.exec(select(Partner)).all()}
        upsells = session.exec(select(Upsell).order_by(Upsell.id)).all()
        customers = {a.id: a for a in session.exec(select(CustomerAccount)).all()}
    for reg in registrations:
        say(f"{reg.reference} {reg.company} ({reg.domain}) from {partners.get(reg.partner_id)}: "
            f"{STATUS_LABELS[reg.status]}, score {reg.score}/100, {shown_amount(reg.estimated_value)} {reg.currency}, "
            f"{country_name(reg.country)} ({reg.region}), with {names.get(reg.assigned_to_slack_id, 'nobody yet')}")
    for upsell in upsells:
        account = customers[upsell.account_id]
        say(f"{upsell.reference} {account.name} → {upsell.target} from {partners.get(upsell.partner_id)}: "
            f"{upsell.status.value}, {shown_amount(upsell.final_amount or upsell.expected_value)} {upsell.currency} "
            f"({upsell.recurrence.value.replace('_', '-')}), landing zone {account.landing_zone}")
    console.rule("[bold]CRM sync (no Salesforce settings, so into the local CRM mirror)")
    report = drain_outbox(bot.engine, bot.runtime.settings, notify=say)
    say(f"{report.mirrored} CRM writes mirrored; they stay queued for Salesforce until it is connected.")
    for reg in registrations:
        for record in mirror_of(bot.engine, reg.id):
            say(_record_line(record.sobject, record.external_key, record.field_values))
    for upsell in upsells:
        for record in mirror_of(bot.engine, upsell.reference):
            say(_record_line(record.sobject, record.external_key, record.field_values))
    console.rule("[bold]What happened")
    statuses = Counter(STATUS_LABELS[reg.status].lower() for reg in registrations)
    say(f"{len(registrations)} leads registered by {len({r.partner_id for r in registrations})} partners in their "
        f"Slack Connect channels: " + ", ".join(f"{n} {status}" for status, n in statuses.items()) + ".")
    say("Each was checked for channel conflict, scored, routed to an AE and reported to the partner in its thread; "
        "the conflict went to the partner manager, and every change was queued for the CRM.")
    say("An upsell was flagged on the customer account a won deal created, accepted and won by its AE in the "
        "partner's channel, and written to the CRM as the partner's expansion; an expansion signal in the channel "
        "got its author one private suggestion.")
    console.rule("[bold]Next")
    say("1. Connect Slack: create the app from manifest.yml and set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET "
        "(README, \"Connecting to Slack\").")
    say("2. Import your team and partners: partnerbot import team team.csv, then partnerbot import partners "
        "partners.csv (partnerbot import template team prints the columns).")
    say("3. Run partnerbot doctor until every check passes, then make run (or partnerbot serve).")


def run_demo(program: Program, *, pause: float = 0.0, console: Console | None = None,
             database_url: str | None = None) -> int:
    """Play the walkthrough against a fresh database (a temporary SQLite file unless one is given)."""
    logging.getLogger("storage.slack").setLevel(logging.ERROR)  # the transcript shows Slack's refusals
    console = console or Console(soft_wrap=True)
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(database_url or f"sqlite:///{Path(folder) / 'demo.db'}")
        create_schema(engine)
        console.print("[bold]Partnerbot demo[/]: the real app, served over HTTP on loopback, talking to a local "
                      "Slack sandbox.\nEvery line below is a Slack request the sandbox delivered or a Web API "
                      "call the bot made.")
        # Expansion signals are opt-in; the walkthrough turns them on to show one.
        program = program.model_copy(update={"signals": program.signals.model_copy(update={"enabled": True})})
        # Nudges wait for working hours in the recipient's time zone; the walkthrough may run at any hour.
        every_hour = program.nudges.working_hours.model_copy(update={
            "days": ("mon", "tue", "wed", "thu", "fri", "sat", "sun"), "start": "00:00", "end": "24:00"})
        program = program.model_copy(update={"nudges": program.nudges.model_copy(
            update={"working_hours": every_hour})})
        # The digest goes at digest.schedule in each reader's zone; Monday 00:00 has passed whenever the demo runs.
        program = program.model_copy(update={"digest": program.digest.model_copy(update={"schedule": "monday 00:00"})})
        with local_bot(engine, program, process_before_response=True) as bot:
            play(bot, console, pause)
            summarise(bot, console)
        engine.dispose()
    return 0
