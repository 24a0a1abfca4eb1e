"""`partnerbot doctor`'s checks: plain functions that each return what they found and, on failure, the fix."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import yaml
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlmodel import Session, select

from bot.settings import Settings, SettingsError, load_settings
from storage.models import Partner, PartnerContact, PartnerType, PricingModel, Registration, RegistrationStatus
from workflows.program import ProgramError, load_program

MANIFEST = Path(__file__).resolve().parent.parent / "manifest.yml"
DB_FIX = "run `partnerbot db upgrade` (`partnerbot serve` also upgrades on start)"


@dataclass(frozen=True)
class Result:
    """One check: `ok` is None when it could not run because a check it needs failed."""

    name: str
    ok: bool | None
    summary: str
    problems: tuple[str, ...] = ()
    fix: str = ""


def _failed(name: str, summary: str, problems=(), fix: str = "") -> Result:
    return Result(name, False, summary, tuple(problems), fix)


def check_settings() -> tuple[Result, Settings | None]:
    """The settings load from the environment and .env (SettingsError lines never hold a secret)."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        return _failed("Settings", "the configuration has problems", exc.problems,
                       "set these in the environment or .env (see README: Connecting to Slack)"), None
    return Result("Settings", True, "loaded"), settings


def _database_error(exc: Exception, url) -> str:
    first = (str(getattr(exc, "orig", None) or exc).splitlines() or [""])[0]
    if url.password:
        first = first.replace(str(url.password), "***")
    return f"{exc.__class__.__name__}: {first}"


def check_database(settings: Settings) -> tuple[Result, Engine | None]:
    """The database answers and is at the migration head the code expects."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from storage.db import alembic_config, make_engine

    try:
        url = make_url(settings.database_url)
    except ArgumentError:
        return _failed("Database", "DATABASE_URL is not a database URL",
                       fix="use a SQLAlchemy URL such as postgresql+psycopg://user:pw@host/db"), None
    where = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:") \
            and not Path(url.database).exists():  # connecting would create an empty file
        return _failed("Database", f"no database file at {where}", fix=DB_FIX), None
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as exc:
        return _failed("Database", f"cannot reach {where}", [_database_error(exc, url)],
                       "check DATABASE_URL and that the server runs and accepts this user"), None
    head = ScriptDirectory.from_config(alembic_config(None)).get_current_head()
    if current != head:
        found = f"at revision {current}" if current else "without a schema"
        return _failed("Database", f"{where} is {found}; the code needs {head}", fix=DB_FIX), engine
    return Result("Database", True, f"{where} at the current schema ({head})"), engine


def manifest_scopes(path: Path = MANIFEST) -> set[str]:
    """The bot scopes the app manifest asks for."""
    manifest = yaml.safe_load(path.read_text(encoding="utf-8"))
    return set(manifest["oauth_config"]["scopes"]["bot"])


def check_slack(settings: Settings, manifest: Path = MANIFEST) -> tuple[list[Result], WebClient | None]:
    """Slack accepts the bot token (auth.test) and granted every scope the manifest asks for."""
    from bot.app import make_client

    if settings.slack_bot_token is None:
        return [_failed("Slack token", "SLACK_BOT_TOKEN is not set",
                        fix="set SLACK_BOT_TOKEN to the app's Bot User OAuth Token (xoxb-…)")], None
    client = make_client(settings)
    try:
        answer = client.auth_test()
    except SlackApiError as exc:
        return [_failed("Slack token", f"{settings.slack_api_url} refused it ({exc.response.get('error')})",
                        fix="copy the Bot User OAuth Token again from the app's OAuth & Permissions page")], None
    except OSError as exc:
        return [_failed("Slack token", f"cannot reach {settings.slack_api_url} ({exc.__class__.__name__})",
                        fix="check SLACK_API_URL and the network")], None
    token = Result("Slack token", True, f"accepted: bot {answer.get('user_id')} in {answer.get('team')}")
    headers = {name.lower(): value for name, value in (answer.headers or {}).items()}
    granted = {s.strip() for s in str(headers.get("x-oauth-scopes", "")).split(",") if s.strip()}
    missing = sorted(manifest_scopes(manifest) - granted)
    if missing:
        return [token, _failed("Slack scopes", f"missing {', '.join(missing)}",
                               fix="add them to the app (manifest.yml) and reinstall it to the workspace")], client
    return [token, Result("Slack scopes", True, "every scope manifest.yml asks for is granted")], client


# Answers about the token, not the channel or person asked about: one line instead of one per partner.
TOKEN_ERRORS = {"missing_scope", "not_authed", "invalid_auth", "token_revoked", "account_inactive", "ratelimited"}


def _token_refused(name: str, method: str, exc: SlackApiError) -> Result:
    needed = exc.response.get("needed")
    return _failed(name, f"Slack refused {method} ({exc.response.get('error')})",
                   [f"the token needs {needed}"] if needed else (),
                   "grant what the app manifest asks for and reinstall the app")


def check_partner_channels(engine: Engine, client: WebClient) -> Result:
    """The bot is in every imported partner's channel, or their partner desk and updates cannot be posted."""
    with Session(engine) as session:
        partners = session.exec(select(Partner.name, Partner.slack_channel_id)
                                .where(Partner.slack_channel_id.is_not(None)).order_by(Partner.name)).all()
    problems = []
    for name, channel_id in partners:
        try:
            channel = client.conversations_info(channel=channel_id)["channel"]
        except SlackApiError as exc:
            if exc.response.get("error") in TOKEN_ERRORS:
                return _token_refused("Partner channels", "conversations.info", exc)
            problems.append(f"{name}: channel {channel_id}: {exc.response.get('error')}")
            continue
        if not channel.get("is_member"):
            problems.append(f"{name}: the bot is not in #{channel.get('name', channel_id)} ({channel_id})")
    if problems:
        return _failed("Partner channels", f"{len(problems)} of {len(partners)} partner channel(s) not reachable",
                       problems, "invite the bot to each channel (`/invite @Partnerbot`), or correct the "
                                 "partner's slack_channel_id and import the partners again")
    return Result("Partner channels", True, f"the bot is in all {len(partners)} partner channel(s)")


def check_partner_people(engine: Engine, client: WebClient) -> Result:
    """Every partner's manager and contacts are Slack users the bot can see, or routing and access fail."""
    with Session(engine) as session:
        managers = session.exec(select(Partner.name, Partner.manager_slack_id)
                                .where(Partner.manager_slack_id.is_not(None))).all()
        contacts = session.exec(select(Partner.name, PartnerContact.slack_user_id).join(PartnerContact)).all()
    people = [(name, "manager", user) for name, user in managers] + \
             [(name, "contact", user) for name, user in contacts]
    seen: dict[str, str | None] = {}
    problems = []
    for name, what, user_id in sorted(people):
        if user_id not in seen:
            try:
                seen[user_id] = "deactivated" if client.users_info(user=user_id)["user"].get("deleted") else None
            except SlackApiError as exc:
                if exc.response.get("error") in TOKEN_ERRORS:
                    return _token_refused("Partner people", "users.info", exc)
                seen[user_id] = str(exc.response.get("error"))
        if seen[user_id]:
            problems.append(f"{name}: {what} {user_id}: {seen[user_id]}")
    if problems:
        return _failed("Partner people", f"{len(problems)} partner manager(s) or contact(s) unknown to Slack",
                       problems, "correct manager_slack_id / contact_slack_ids and import the partners again")
    return Result("Partner people", True, f"all {len(seen)} partner managers and contacts are Slack users")


def check_program(settings: Settings) -> Result:
    """The program file is valid (or absent: the built-in defaults apply)."""
    path = settings.program_file
    if "program_file" in settings.model_fields_set and not path.exists():
        return _failed("Program", f"PROGRAM_FILE names {path}, which does not exist: the built-in rules apply",
                       fix="fix the path, or unset PROGRAM_FILE to mean the built-in rules")
    try:
        load_program(path)
    except ProgramError as exc:
        return _failed("Program", f"{path} is not valid", exc.problems, "fix those lines; "
                       "`partnerbot program check` shows the rules in force")
    return Result("Program", True, f"{path} is valid" if path.exists() else f"{path} absent: built-in defaults")


def needed_salesforce_fields() -> dict[str, set[str]]:
    """The custom fields the CRM writer sends, per sObject, read off its own mapping so the two cannot drift."""
    from storage.crm import mapping, upsell_mapping
    from storage.models import CustomerAccount, Recurrence, Upsell, UpsellSignal, UpsellStatus

    now = datetime.now(timezone.utc)
    reg = Registration(id=1, company="Acme", contact_name="Jo Doe", contact_email="jo@acme.com", product_line="x",
                       estimated_value=Decimal(1), currency="USD", pricing_model=PricingModel.usage_based,
                       starting_monthly_usage=Decimal(1), status=RegistrationStatus.won, created_at=now,
                       closed_at=now, attribution="partner_sourced")
    partner = Partner(id=1, name="Partner", type=PartnerType.reseller)
    # A lost upsell on an account a registration brought: every field an expansion Opportunity may carry.
    account = CustomerAccount(id=1, name="Customer", domain="customer.example", landing_zone="x",
                              source_registration_id=1)
    upsell = Upsell(id=1, account_id=1, partner_id=1, flagged_by_slack_id="U1", signal=UpsellSignal.plan_upgrade,
                    target="y", expected_value=Decimal(1), currency="USD", recurrence=Recurrence.monthly,
                    timeline="1-3m", status=UpsellStatus.lost, created_at=now, closed_at=now, close_reason="z")
    records = {
        mapping.LEAD: mapping.to_salesforce_lead(reg, partner),
        mapping.OPPORTUNITY: mapping.to_salesforce_opportunity(reg, partner, revenue=[("2026-01", Decimal(2))])
        | upsell_mapping.to_salesforce_upsell_opportunity(upsell, account, partner, creating=True),
        mapping.ACCOUNT: mapping.to_salesforce_account(partner)
        | upsell_mapping.to_salesforce_customer_account(account),
        mapping.REVENUE: mapping.to_salesforce_revenue(reg, "2026-01", Decimal(2)),
    }
    # A relationship (`X__r`) is written through its lookup field (`X__c`).
    return {sobject: {name.removesuffix("__r") + "__c" if name.endswith("__r") else name
                      for name in fields if name.endswith(("__c", "__r"))}
            for sobject, fields in records.items()}


def check_salesforce(settings: Settings) -> Result:
    """With Salesforce settings: login works and every custom field the writer needs exists; else the mirror."""
    from simple_salesforce.exceptions import SalesforceError

    from storage.crm.client import CrmAuthError, CrmConfigError, auth_mode, check_salesforce_settings, \
        verify_salesforce

    if auth_mode(settings) is None:
        return Result("Salesforce", True, "not configured: CRM writes are kept in the local mirror")
    fix = "see salesforce/README.md: SALESFORCE_* settings and the integration user"
    problems = check_salesforce_settings(settings)
    if problems:
        return _failed("Salesforce", "settings incomplete", problems, fix)
    try:
        sf = verify_salesforce(settings)
    except (CrmConfigError, CrmAuthError) as exc:
        return _failed("Salesforce", "login failed", getattr(exc, "problems", None) or [str(exc)], fix)
    missing = []
    for sobject, needed in needed_salesforce_fields().items():
        try:
            present = {f["name"] for f in getattr(sf, sobject).describe()["fields"]}
        except SalesforceError:
            missing.append(f"{sobject}: the object is missing or not readable")
            continue
        missing += [f"{sobject}.{name}" for name in sorted(needed - present)]
    if missing:
        return _failed("Salesforce", "logged in, but fields the writer needs are missing", missing,
                       "deploy salesforce/ (`sf project deploy start`) and assign the Partnerbot_Integration "
                       "permission set to the integration user")
    return Result("Salesforce", True, f"logged in ({auth_mode(settings).replace('_', ' ')}); every field exists")


def check_conflict_index(engine: Engine) -> Result:
    """Every registration whose status protects a company is in the conflict index (else conflicts are missed)."""
    from sqlmodel import Session

    from storage.conflict_index import unindexed_protecting

    with Session(engine) as session:
        missing = unindexed_protecting(session, limit=10)
    if missing:
        return _failed("Conflict index", "registrations that protect a company are missing from the conflict index",
                       [f"registration id {registration_id}" for registration_id in missing],
                       "run `partnerbot db upgrade`: it adds them (they were stored around `change_status`)")
    return Result("Conflict index", True, "holds every registration that protects a company")


def skipped(name: str, because: str) -> Result:
    return Result(name, None, f"not checked: {because}")


def run_checks() -> list[Result]:
    """Every check, in order; those that need a failed one are reported as not checked."""
    settings_result, settings = check_settings()
    if settings is None:
        return [settings_result]
    database, engine = check_database(settings)
    slack, client = check_slack(settings)
    results = [settings_result, database, *slack]
    results.append(check_conflict_index(engine) if database.ok else skipped("Conflict index",
                                                                            "the database check failed"))
    partner_checks = (("Partner channels", check_partner_channels), ("Partner people", check_partner_people))
    for name, check in partner_checks:
        if not database.ok:
            results.append(skipped(name, "the database check failed"))
        elif client is None:
            results.append(skipped(name, "the Slack token check failed"))
        else:
            results.append(check(engine, client))
    if engine is not None:
        engine.dispose()
    return [*results, check_program(settings), check_salesforce(settings)]
