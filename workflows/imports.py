"""CSV imports of partners and of our team: idempotent upserts, bad rows reported, good rows kept."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, EmailStr, Field, ValidationError, field_validator
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, delete, select

from storage.db import transaction
from storage.models import Partner, PartnerContact, PartnerStage, PartnerTier, PartnerType, Role, TeamMember
from workflows.normalize import InvalidDomain, normalize_domain

PARTNER_COLUMNS = ["name", "type", "tier", "stage", "domain", "slack_team_id", "slack_channel_id",
                   "manager_slack_id", "contact_slack_ids"]
TEAM_COLUMNS = ["slack_user_id", "name", "email", "role", "territories", "product_lines"]


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
    created: int = 0
    updated: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)

    @property
    def imported(self) -> int:
        return self.created + self.updated


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False, include_input=False):
        column = str(error["loc"][0]) if error["loc"] else "row"
        parts.append(f"{column}: {error['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


def _upsert_partner(session: Session, row: PartnerRow) -> bool:
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
    taken = session.exec(select(PartnerContact).where(PartnerContact.slack_user_id.in_(row.contact_slack_ids),
                                                      PartnerContact.partner_id != partner.id)).first()
    if taken is not None:
        raise ValueError(f"contact_slack_ids: {taken.slack_user_id} is already a contact of another partner")
    session.exec(delete(PartnerContact).where(PartnerContact.partner_id == partner.id))
    for user_id in dict.fromkeys(row.contact_slack_ids):
        session.add(PartnerContact(partner_id=partner.id, slack_user_id=user_id))
    return created


def _upsert_member(session: Session, row: TeamRow) -> bool:
    member = session.exec(select(TeamMember).where(TeamMember.slack_user_id == row.slack_user_id)).first()
    created = member is None
    if created:
        member = TeamMember(**row.model_dump())
    else:
        for key, value in row.model_dump().items():
            setattr(member, key, value)
    session.add(member)
    return created


def _run_import(engine: Engine, path: Path, columns: list[str], model: type[BaseModel],
                upsert: Callable[[Session, BaseModel], bool], progress: Callable[[int, int], None] | None) -> ImportReport:
    report = ImportReport()
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            lines = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"Cannot read {path}: {exc.__class__.__name__}: {getattr(exc, 'strerror', None) or exc}")
    if not lines:
        raise ValueError(f"{path} is empty; expected a header row: {','.join(columns)}")
    header = [h.strip() for h in lines[0]]
    missing = [c for c in columns if c not in header]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}; expected {','.join(columns)}")
    rows = lines[1:]
    for number, cells in enumerate(rows, start=2):
        if progress:
            progress(number - 1, len(rows))
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            report.errors.append((number, f"has {len(cells)} cells, the header has {len(header)}"))
            continue
        try:
            parsed = model.model_validate(dict(zip(header, cells)))
            with transaction(engine) as session:
                created = upsert(session, parsed)
        except ValidationError as exc:
            report.errors.append((number, _describe(exc)))
            continue
        except ValueError as exc:
            report.errors.append((number, str(exc)))
            continue
        except SQLAlchemyError as exc:  # e.g. a value the database refuses: this row only
            report.errors.append((number, f"the database refused it ({exc.__class__.__name__})"))
            continue
        if created:
            report.created += 1
        else:
            report.updated += 1
    return report


def import_partners(engine: Engine, path: Path, progress: Callable[[int, int], None] | None = None) -> ImportReport:
    """Upsert partners by name; each row is its own transaction, so a bad row leaves nothing behind."""
    return _run_import(engine, path, PARTNER_COLUMNS, PartnerRow, _upsert_partner, progress)


def import_team(engine: Engine, path: Path, progress: Callable[[int, int], None] | None = None) -> ImportReport:
    """Upsert AEs, partner managers and admins by Slack user id."""
    return _run_import(engine, path, TEAM_COLUMNS, TeamRow, _upsert_member, progress)


def rows_as_csv(columns: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    """CSV text for demo and test data."""
    lines = [",".join(columns)] + [",".join(r) for r in rows]
    return "\n".join(lines) + "\n"
