"""CSV imports of partners and of our team: idempotent upserts, bad rows reported, good rows kept."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, EmailStr, Field, ValidationError, field_validator
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, delete, select

from storage.db import transaction
from storage.models import Partner, PartnerContact, PartnerStage, PartnerTier, PartnerType, Role, TeamMember, utcnow
from workflows.csv_files import read_csv
from workflows.lifecycle import IMPORT, move_stage, rank
from workflows.normalize import InvalidDomain, normalize_domain
from workflows.program import Program
from workflows.program_rules import choice_hint, territory_hint

PARTNER_COLUMNS = ["name", "type", "tier", "stage", "domain", "slack_team_id", "slack_channel_id",
                   "manager_slack_id", "contact_slack_ids"]
TEAM_COLUMNS = ["slack_user_id", "name", "email", "role", "territories", "product_lines"]
MANAGER_ROLES = (Role.partner_manager, Role.admin)


def _blank_to_none(value):
    return value.strip() or None if isinstance(value, str) else value


def _split_list(value):
    return [item.strip() for item in value.split(";") if item.strip()] if isinstance(value, str) else value


def slack_id(prefixes: str, what: str):
    pattern = re.compile(rf"^[{prefixes}][A-Z0-9]{{2,31}}$")

    def check(value):
        value = _blank_to_none(value)
        if value is not None and not pattern.match(value):
            raise ValueError(f"“{value}” is not a Slack {what} id")
        return value
    return check


def _normalized_domain(value):
    if value is None:
        return None
    try:
        return normalize_domain(value)
    except InvalidDomain as exc:
        raise ValueError(str(exc)) from None


Optional = Annotated[str | None, BeforeValidator(_blank_to_none)]
UserId = Annotated[str, BeforeValidator(slack_id("UW", "user"))]
OptionalUserId = Annotated[Optional, BeforeValidator(slack_id("UW", "user"))]
StrList = Annotated[list[str], BeforeValidator(_split_list)]
Domain = Annotated[Optional, AfterValidator(_normalized_domain)]  # a website or domain, kept normalised


class PartnerRow(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    type: PartnerType
    tier: PartnerTier
    stage: PartnerStage
    domain: Domain = None
    slack_team_id: Annotated[Optional, BeforeValidator(slack_id("TE", "team"))] = None
    slack_channel_id: Annotated[Optional, BeforeValidator(slack_id("CG", "channel"))] = None
    manager_slack_id: OptionalUserId = None
    contact_slack_ids: Annotated[list[UserId], BeforeValidator(_split_list)] = []

    @field_validator("name", mode="before")
    @classmethod
    def _trim(cls, value):
        return value.strip() if isinstance(value, str) else value

    @field_validator("type", "tier", "stage", mode="before")
    @classmethod
    def _lower(cls, value):
        return value.strip().lower() if isinstance(value, str) else value


class TeamRow(BaseModel):
    slack_user_id: UserId
    name: str = Field(min_length=1, max_length=200)
    email: Annotated[EmailStr | None, BeforeValidator(_blank_to_none)] = None
    role: Role
    territories: StrList = []
    product_lines: StrList = []

    @field_validator("name", "role", mode="before")
    @classmethod
    def _trim(cls, value):
        return value.strip().lower() if isinstance(value, str) and value.strip().lower() in Role.__members__ \
            else value.strip() if isinstance(value, str) else value


@dataclass
class ImportReport:
    """What an import did: counts, refused rows and imported-but-questionable rows (by row number), and where."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0  # already in the database exactly as in the file
    errors: list[tuple[int, str]] = field(default_factory=list)
    warnings: list[tuple[int, str]] = field(default_factory=list)
    database: str = ""  # the URL without its password
    notes: list[str] = field(default_factory=list)  # how the file was read (encoding, delimiter)

    @property
    def imported(self) -> int:
        return self.created + self.updated + self.unchanged


@dataclass
class ImportBatch:
    """What one file's rows need to know about each other and about the program."""

    program: Program
    imported: dict[str, list[int]] = field(default_factory=dict)  # key -> rows of this file imported under it
    row: int = 0  # the row being imported
    # What the imported rows stand for, for imports that refuse a second row of one thing: claim -> row.
    claims: dict[str, int] = field(default_factory=dict)
    memo: dict[str, Any] = field(default_factory=dict)  # what an import reads once for all its rows

    def row_of(self, key: str) -> str:
        rows = self.imported.get(key)
        return f" (row {rows[-1]})" if rows else ""

    def forget(self, row: int) -> None:
        """A row that was not imported after all stands for nothing."""
        self.claims = {claim: number for claim, number in self.claims.items() if number != row}


class Outcome(StrEnum):
    created = "created"
    updated = "updated"
    unchanged = "unchanged"


Upsert = Callable[[Session, BaseModel, ImportBatch], tuple[Outcome, list[str]]]


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False, include_input=False):
        column = str(error["loc"][0]) if error["loc"] else "row"
        parts.append(f"{column}: {error['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


def _partner_refusals(session: Session, row: PartnerRow, batch: ImportBatch) -> list[str]:
    """Reasons to refuse a partner: a shared channel or a contact from our team leaks deals, a bad manager misroutes."""
    reasons = []
    if row.slack_channel_id:
        holder = session.exec(select(Partner.name).where(Partner.slack_channel_id == row.slack_channel_id,
                                                         Partner.name != row.name)).first()
        if holder is not None:
            reasons.append(f"slack_channel_id: {row.slack_channel_id} is already the channel of {holder}"
                           f"{batch.row_of(holder)}; partners in one channel would see each other's deals")
    if row.manager_slack_id:
        role = session.exec(select(TeamMember.role).where(TeamMember.slack_user_id == row.manager_slack_id)).first()
        if role is None:
            reasons.append(f"manager_slack_id: {row.manager_slack_id} is not in the team; import the team first")
        elif role not in MANAGER_ROLES:
            reasons.append(f"manager_slack_id: {row.manager_slack_id} is an AE, not a partner manager or admin")
    ours = session.exec(select(TeamMember.slack_user_id, TeamMember.role)
                        .where(TeamMember.slack_user_id.in_(row.contact_slack_ids))
                        .order_by(TeamMember.slack_user_id)).all()
    reasons += [f"contact_slack_ids: {user_id} is one of our team ({role}), not a partner contact"
                for user_id, role in ours]
    taken = session.exec(select(PartnerContact.slack_user_id).join(Partner)
                         .where(PartnerContact.slack_user_id.in_(row.contact_slack_ids),
                                Partner.name != row.name)).first()
    if taken is not None:
        reasons.append(f"contact_slack_ids: {taken} is already a contact of another partner")
    return reasons


def _upsert_partner(session: Session, row: PartnerRow, batch: ImportBatch) -> tuple[Outcome, list[str]]:
    reasons = _partner_refusals(session, row, batch)
    if reasons:
        raise ValueError("; ".join(reasons))  # every reason at once, so one fix-and-rerun is enough
    partner = session.exec(select(Partner).where(Partner.name == row.name)).first()
    created = partner is None
    values = row.model_dump(exclude={"contact_slack_ids", "stage"})
    contacts = list(dict.fromkeys(row.contact_slack_ids))
    warnings = []
    if created:
        partner = Partner(**values)
    else:
        same = partner.stage == row.stage and all(getattr(partner, key) == value for key, value in values.items())
        current = session.exec(select(PartnerContact.slack_user_id)
                               .where(PartnerContact.partner_id == partner.id)).all()
        if same and sorted(current) == sorted(contacts):
            return Outcome.unchanged, []
        if partner.slack_channel_id != row.slack_channel_id:
            partner.desk_message_ts = None  # a new channel gets its own partner desk
        for key, value in values.items():
            setattr(partner, key, value)
        if rank(row.stage) < rank(partner.stage):
            warnings.append(f"stage: moves {row.name} back from {partner.stage.value} to {row.stage.value} "
                            "(its stage history keeps both)")
    if created or partner.stage != row.stage:  # a new partner's first stage is history too
        now = partner.created_at if created else utcnow()
        move_stage(session, partner, row.stage, actor=IMPORT, now=now, reason="partnerbot import partners")
    session.add(partner)
    session.flush()
    session.exec(delete(PartnerContact).where(PartnerContact.partner_id == partner.id))
    for user_id in contacts:
        session.add(PartnerContact(partner_id=partner.id, slack_user_id=user_id))
    return Outcome.created if created else Outcome.updated, warnings


def known_values(column: str, values: list[str], canonical: Callable[[str], str | None],
           hint: Callable[[str], str], what: str) -> list[str]:
    """The values as the program spells them; a value it does not know would never match, so the row is refused."""
    known, unknown = [], []
    for value in values:
        spelled = canonical(value)
        if spelled is None:
            unknown.append(f"{column}: “{value}” is not {what} in the program file{hint(value)}")
        elif spelled not in known:
            known.append(spelled)
    if unknown:
        raise ValueError("; ".join(unknown))
    return known


def _upsert_member(session: Session, row: TeamRow, batch: ImportBatch) -> tuple[Outcome, list[str]]:
    program = batch.program
    territories = known_values("territories", row.territories, program.territory,
                         lambda v: territory_hint(program, v), "a region or country")
    lines = known_values("product_lines", row.product_lines, program.product_line,
                   lambda v: choice_hint(v, program.product_lines), "a product line")
    values = row.model_dump() | {"territories": territories, "product_lines": lines}
    member = session.exec(select(TeamMember).where(TeamMember.slack_user_id == row.slack_user_id)).first()
    if member is None:
        session.add(TeamMember(**values))
        return Outcome.created, []
    if all(getattr(member, key) == value for key, value in values.items()):
        return Outcome.unchanged, []
    for key, value in values.items():
        setattr(member, key, value)
    session.add(member)
    return Outcome.updated, []


def _duplicate_warnings(batch: ImportBatch, column: str) -> list[tuple[int, str]]:
    warnings = []
    for key, rows in batch.imported.items():
        if len(rows) > 1:
            earlier = ("row " if len(rows) == 2 else "rows ") + ", ".join(str(r) for r in rows[:-1])
            won = f"row {rows[-1]} won (the last one)"
            warnings.append((rows[-1], f"{column}: “{key}” is also on {earlier}; {won}"))
    return warnings


def _refusal(exc: ValueError | SQLAlchemyError) -> str:
    if isinstance(exc, ValidationError):
        return _describe(exc)
    if isinstance(exc, SQLAlchemyError):  # e.g. a value the database refuses: this row only
        return f"the database refused it ({exc.__class__.__name__})"
    return str(exc)


def run_import(engine: Engine, path: Path, columns: list[str], model: type[BaseModel], upsert: Upsert,
                program: Program, progress: Callable[[int, int], None] | None) -> ImportReport:
    report = ImportReport(database=engine.url.render_as_string(hide_password=True))
    csv_file = read_csv(path, columns)
    header, rows, report.notes = csv_file.header, csv_file.records, csv_file.notes
    batch = ImportBatch(program)
    for number, cells in enumerate(rows, start=2):
        if progress:
            progress(number - 1, len(rows))
        if isinstance(cells, str):
            report.errors.append((number, cells))
            continue
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            report.errors.append((number, f"has {len(cells)} cells, the header has {len(header)}"))
            continue
        batch.row = number
        try:
            parsed = model.model_validate(dict(zip(header, cells)))
            with transaction(engine) as session:
                outcome, warnings = upsert(session, parsed, batch)
        except (ValueError, SQLAlchemyError) as exc:  # ValidationError is a ValueError
            batch.forget(number)
            report.errors.append((number, _refusal(exc)))
            continue
        report.warnings += [(number, warning) for warning in warnings]
        batch.imported.setdefault(getattr(parsed, columns[0]), []).append(number)
        setattr(report, outcome.value, getattr(report, outcome.value) + 1)
    report.warnings = sorted(report.warnings + _duplicate_warnings(batch, columns[0]))
    return report


def import_partners(engine: Engine, path: Path, progress: Callable[[int, int], None] | None = None) -> ImportReport:
    """Upsert partners by name; each row is its own transaction, so a bad row leaves nothing behind."""
    return run_import(engine, path, PARTNER_COLUMNS, PartnerRow, _upsert_partner, Program(), progress)


def import_team(engine: Engine, path: Path, progress: Callable[[int, int], None] | None = None, *,
                program: Program | None = None) -> ImportReport:
    """Upsert AEs, partner managers and admins by Slack user id, checked against the program (default: built-in)."""
    return run_import(engine, path, TEAM_COLUMNS, TeamRow, _upsert_member, program or Program(), progress)


def rows_as_csv(columns: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    """CSV text for demo and test data."""
    lines = [",".join(columns)] + [",".join(r) for r in rows]
    return "\n".join(lines) + "\n"
