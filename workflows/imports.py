"""CSV imports of partners and of our team: idempotent upserts, bad rows reported, good rows kept."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, EmailStr, Field, ValidationError, field_validator
from rapidfuzz import fuzz, process, utils
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, delete, select

from storage.db import transaction
from storage.models import Partner, PartnerContact, PartnerStage, PartnerTier, PartnerType, Role, TeamMember
from workflows.normalize import InvalidDomain, normalize_domain
from workflows.program import Program

PARTNER_COLUMNS = ["name", "type", "tier", "stage", "domain", "slack_team_id", "slack_channel_id",
                   "manager_slack_id", "contact_slack_ids"]
TEAM_COLUMNS = ["slack_user_id", "name", "email", "role", "territories", "product_lines"]
MANAGER_ROLES = (Role.partner_manager, Role.admin)


def _blank_to_none(value):
    return value.strip() or None if isinstance(value, str) else value


def _split_list(value):
    return [item.strip() for item in value.split(";") if item.strip()] if isinstance(value, str) else value


def _slack_id(prefixes: str, what: str):
    pattern = re.compile(rf"^[{prefixes}][A-Z0-9]{{2,31}}$")

    def check(value):
        value = _blank_to_none(value)
        if value is not None and not pattern.match(value):
            raise ValueError(f"“{value}” is not a Slack {what} id")
        return value
    return check


Optional = Annotated[str | None, BeforeValidator(_blank_to_none)]
UserId = Annotated[str, BeforeValidator(_slack_id("UW", "user"))]
StrList = Annotated[list[str], BeforeValidator(_split_list)]


class PartnerRow(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    type: PartnerType
    tier: PartnerTier
    stage: PartnerStage
    domain: Optional = None
    slack_team_id: Annotated[Optional, BeforeValidator(_slack_id("TE", "team"))] = None
    slack_channel_id: Annotated[Optional, BeforeValidator(_slack_id("CG", "channel"))] = None
    manager_slack_id: Annotated[Optional, BeforeValidator(_slack_id("UW", "user"))] = None
    contact_slack_ids: Annotated[list[UserId], BeforeValidator(_split_list)] = []

    @field_validator("name", mode="before")
    @classmethod
    def _trim(cls, value):
        return value.strip() if isinstance(value, str) else value

    @field_validator("type", "tier", "stage", mode="before")
    @classmethod
    def _lower(cls, value):
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("domain")
    @classmethod
    def _domain(cls, value):
        if value is None:
            return None
        try:
            return normalize_domain(value)
        except InvalidDomain as exc:
            raise ValueError(str(exc)) from None


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
    errors: list[tuple[int, str]] = field(default_factory=list)
    warnings: list[tuple[int, str]] = field(default_factory=list)
    database: str = ""  # the URL without its password

    @property
    def imported(self) -> int:
        return self.created + self.updated


@dataclass
class _Batch:
    """What one file's rows need to know about each other and about the program."""

    program: Program
    imported: dict[str, list[int]] = field(default_factory=dict)  # key -> rows of this file imported under it

    def row_of(self, key: str) -> str:
        rows = self.imported.get(key)
        return f" (row {rows[-1]})" if rows else ""


Upsert = Callable[[Session, BaseModel, _Batch], tuple[bool, list[str]]]


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False, include_input=False):
        column = str(error["loc"][0]) if error["loc"] else "row"
        parts.append(f"{column}: {error['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


def _partner_refusals(session: Session, row: PartnerRow, batch: _Batch) -> list[str]:
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


def _upsert_partner(session: Session, row: PartnerRow, batch: _Batch) -> tuple[bool, list[str]]:
    reasons = _partner_refusals(session, row, batch)
    if reasons:
        raise ValueError("; ".join(reasons))  # every reason at once, so one fix-and-rerun is enough
    partner = session.exec(select(Partner).where(Partner.name == row.name)).first()
    created = partner is None
    values = row.model_dump(exclude={"contact_slack_ids"})
    if created:
        partner = Partner(**values)
    else:
        if partner.slack_channel_id != row.slack_channel_id:
            partner.desk_message_ts = None  # a new channel gets its own partner desk
        for key, value in values.items():
            setattr(partner, key, value)
    session.add(partner)
    session.flush()
    session.exec(delete(PartnerContact).where(PartnerContact.partner_id == partner.id))
    for user_id in dict.fromkeys(row.contact_slack_ids):
        session.add(PartnerContact(partner_id=partner.id, slack_user_id=user_id))
    return created, []


def _unknown(column: str, what: str, values: list[str], offered: tuple[str, ...]) -> list[str]:
    """Values the program does not offer: routing would never match them, so suggest the closest one."""
    warnings = []
    for value in values:
        if value in offered:
            continue
        match = process.extractOne(value, offered, scorer=fuzz.ratio, processor=utils.default_process,
                                   score_cutoff=60)
        hint = f"; did you mean “{match[0]}”?" if match else f" ({', '.join(offered)})"
        warnings.append(f"{column}: “{value}” is not a {what} in the program file{hint}")
    return warnings


def _upsert_member(session: Session, row: TeamRow, batch: _Batch) -> tuple[bool, list[str]]:
    member = session.exec(select(TeamMember).where(TeamMember.slack_user_id == row.slack_user_id)).first()
    created = member is None
    if created:
        member = TeamMember(**row.model_dump())
    else:
        for key, value in row.model_dump().items():
            setattr(member, key, value)
    session.add(member)
    program = batch.program
    return created, (_unknown("territories", "region", row.territories, program.regions)
                     + _unknown("product_lines", "product line", row.product_lines, program.product_lines))


def _read_rows(path: Path, columns: list[str]) -> tuple[list[str], list[list[str] | str]]:
    """The header and each record's cells, or the reason a record could not be read."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            records: list[list[str] | str] = []
            while True:
                try:
                    records.append(next(reader))
                except StopIteration:
                    break
                except csv.Error as exc:  # one over-long field must not stop the other rows
                    limit = csv.field_size_limit()
                    records.append(f"field longer than {limit} characters" if "field limit" in str(exc)
                                   else f"not readable as CSV ({exc})")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"Cannot read {path}: {exc.__class__.__name__}: {getattr(exc, 'strerror', None) or exc}")
    if not records:
        raise ValueError(f"{path} is empty; expected a header row: {','.join(columns)}")
    if isinstance(records[0], str):
        raise ValueError(f"{path}: header row: {records[0]}")
    header = [h.strip() for h in records[0]]
    missing = [c for c in columns if c not in header]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}; expected {','.join(columns)}")
    return header, records[1:]


def _duplicate_warnings(batch: _Batch, column: str) -> list[tuple[int, str]]:
    warnings = []
    for key, rows in batch.imported.items():
        if len(rows) > 1:
            earlier = ("row " if len(rows) == 2 else "rows ") + ", ".join(str(r) for r in rows[:-1])
            won = f"row {rows[-1]} won (the last one)"
            warnings.append((rows[-1], f"{column}: “{key}” is also on {earlier}; {won}"))
    return warnings


def _run_import(engine: Engine, path: Path, columns: list[str], model: type[BaseModel], upsert: Upsert,
                program: Program, progress: Callable[[int, int], None] | None) -> ImportReport:
    report = ImportReport(database=engine.url.render_as_string(hide_password=True))
    header, rows = _read_rows(path, columns)
    batch = _Batch(program)
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
        try:
            parsed = model.model_validate(dict(zip(header, cells)))
            with transaction(engine) as session:
                created, warnings = upsert(session, parsed, batch)
        except ValidationError as exc:
            report.errors.append((number, _describe(exc)))
            continue
        except ValueError as exc:
            report.errors.append((number, str(exc)))
            continue
        except SQLAlchemyError as exc:  # e.g. a value the database refuses: this row only
            report.errors.append((number, f"the database refused it ({exc.__class__.__name__})"))
            continue
        report.warnings += [(number, warning) for warning in warnings]
        batch.imported.setdefault(getattr(parsed, columns[0]), []).append(number)
        if created:
            report.created += 1
        else:
            report.updated += 1
    report.warnings = sorted(report.warnings + _duplicate_warnings(batch, columns[0]))
    return report


def import_partners(engine: Engine, path: Path, progress: Callable[[int, int], None] | None = None) -> ImportReport:
    """Upsert partners by name; each row is its own transaction, so a bad row leaves nothing behind."""
    return _run_import(engine, path, PARTNER_COLUMNS, PartnerRow, _upsert_partner, Program(), progress)


def import_team(engine: Engine, path: Path, progress: Callable[[int, int], None] | None = None, *,
                program: Program | None = None) -> ImportReport:
    """Upsert AEs, partner managers and admins by Slack user id, checked against the program (default: built-in)."""
    return _run_import(engine, path, TEAM_COLUMNS, TeamRow, _upsert_member, program or Program(), progress)


def rows_as_csv(columns: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    """CSV text for demo and test data."""
    lines = [",".join(columns)] + [",".join(r) for r in rows]
    return "\n".join(lines) + "\n"
