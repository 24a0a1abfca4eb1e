"""Demo data shared by `partnerbot demo` and the tests: our team, three partners, their Slack people."""

from __future__ import annotations

import tempfile
from pathlib import Path

from sqlalchemy.engine import Engine

from workflows.imports import PARTNER_COLUMNS, TEAM_COLUMNS, import_partners, import_team, rows_as_csv

OUR_TEAM = ("T0OURS", "Acme Software", "acmesoftware")
BOT_USER = "U0BOT"

# slack_user_id, name, email, role, territories, product_lines
TEAM = [
    ("U0ALEX", "Alex Rivera", "alex@acmesoftware.com", "ae", "EMEA", "Platform;Integrations"),
    ("U0BEA", "Bea Chen", "bea@acmesoftware.com", "ae", "EMEA", "Platform"),
    ("U0CARL", "Carl Okafor", "carl@acmesoftware.com", "ae", "North America", ""),
    ("U0PRIYA", "Priya Nair", "priya@acmesoftware.com", "partner_manager", "", ""),
    ("U0ADMIN", "Sam Admin", "sam@acmesoftware.com", "admin", "", ""),
]

# name, type, tier, stage, domain, slack_team_id, slack_channel_id, manager_slack_id, contact_slack_ids
PARTNERS = [
    ("Northwind Consulting", "reseller", "gold", "producing", "northwind.io", "T0NORTH", "C0NORTH", "U0PRIYA",
     "U0DANA"),
    ("Globex Referrals", "referral", "silver", "activated", "globex.com", "T0GLOBEX", "C0GLOBEX", "U0PRIYA",
     "U0BOB;U0BETH"),
    ("Initech Agency", "agency", "registered", "onboarded", "initech.dev", "", "", "", "U0GUEST"),
]

# user id, team id, name, email
PARTNER_PEOPLE = [
    ("U0DANA", "T0NORTH", "Dana Scully", "dana@northwind.io"),
    ("U0ERIK", "T0NORTH", "Erik Lund", "erik@northwind.io"),
    ("U0BOB", "T0GLOBEX", "Bob Stone", "bob@globex.com"),
    ("U0BETH", "T0GLOBEX", "Beth Moss", "beth@globex.com"),
    ("U0GUEST", "T0OURS", "Gina Guest", "gina@initech.dev"),
]
PARTNER_TEAMS = [("T0NORTH", "Northwind Consulting", "northwind"), ("T0GLOBEX", "Globex", "globex")]
CHANNELS = [
    ("C0NORTH", "partner-northwind", ["U0BOT", "U0DANA", "U0ERIK", "U0PRIYA", "U0ALEX"]),
    ("C0GLOBEX", "partner-globex", ["U0BOT", "U0BOB", "U0BETH", "U0PRIYA"]),
]


def import_demo_records(engine: Engine) -> None:
    """Load the demo team and partners through the same CSV import the CLI uses."""
    with tempfile.TemporaryDirectory() as folder:
        team_csv, partners_csv = Path(folder, "team.csv"), Path(folder, "partners.csv")
        team_csv.write_text(rows_as_csv(TEAM_COLUMNS, TEAM), encoding="utf-8")
        partners_csv.write_text(rows_as_csv(PARTNER_COLUMNS, PARTNERS), encoding="utf-8")
        for report in (import_team(engine, team_csv), import_partners(engine, partners_csv)):
            if report.errors:
                raise RuntimeError(f"demo data did not import: {report.errors}")


def populate_sandbox(sandbox) -> None:
    """Give the local Slack sandbox the same people and Slack Connect channels."""
    for team_id, name, domain in PARTNER_TEAMS:
        sandbox.add_team(team_id, name, domain)
    titles = {"ae": "AE", "partner_manager": "Partner manager", "admin": "Admin"}
    for user_id, name, email, role, *_ in TEAM:
        sandbox.add_user(user_id, OUR_TEAM[0], name, email=email, title=titles[role])
    for user_id, team_id, name, email in PARTNER_PEOPLE:
        sandbox.add_user(user_id, team_id, name, email=email)
    for channel_id, name, members in CHANNELS:
        sandbox.add_channel(channel_id, name, members=members, is_ext_shared=True)
