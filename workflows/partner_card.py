"""`/partner show <partner>` and `/partner stage <partner> <stage> [reason]`: a partner found by name as the partner
picker finds it, its card for our own team, and its stage changed by a partner manager or an admin."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from rapidfuzz import fuzz, process, utils
from sqlmodel import Session

from storage.actors import Actor
from storage.db import transaction
from storage.lifecycle import (
    CardFigures,
    card_figures,
    contacts_of,
    lock_partner,
    member_name,
    partner_for_card,
    partners_named,
    stage_history,
)
from storage.models import Partner, PartnerStage, PartnerStageEvent
from storage.nudges.models import Nudge
from storage.nudges.queries import recent_nudges
from storage.reviews import partner_names
from workflows.lifecycle import (
    WON_WINDOW,
    StageOutcome,
    WonFigures,
    apply_stage_change,
    clean_reason,
    ensure_changes_stages,
    stage_list,
    stage_named,
    won_figures,
)
from workflows.services import ACK_LOCK_TIMEOUT, NotAllowed, NotFound, Services, WorkflowError

HISTORY_SHOWN = 5
NUDGES_SHOWN = 5
CANDIDATES_SHOWN = 8
PARTNERS_ONLY = ("The partner card is for our own team. Your registrations are under *My deals* on your partner "
                 "desk, and your partner manager is happy to talk about your program.")
SHOW_USAGE = "Name the partner: `/partner show Northwind Consulting`."
STAGE_USAGE = (f"Name the partner and its new stage: `/partner stage Northwind Consulting producing [why]`. "
               f"Stages: {stage_list()}.")


def _candidates(names: list[str]) -> str:
    """The first names found; the lists stop after one more than they show, so "and others" when cut."""
    return ", ".join(names[:CANDIDATES_SHOWN]) + (" and others" if len(names) > CANDIDATES_SHOWN else "")


def _close_names(session: Session, name: str) -> list[str]:
    """Partner names that look like what was typed (a misspelling), best first."""
    names = [partner_name for _, partner_name, _ in partner_names(session)]
    matches = process.extract(name, names, scorer=fuzz.WRatio, processor=utils.default_process,
                              limit=CANDIDATES_SHOWN, score_cutoff=70)
    return [match[0] for match in matches]


class PartnerNameUnclear(WorkflowError):
    """The name fits several partners, or none: the message names the candidates."""


def _one_partner(session: Session, actor: Actor, name: str, *, may_change: bool) -> Partner:
    """The partner `name` means: its exact name (any case), else the only partner whose name contains it."""
    matches = partners_named(session, actor, name, may_change=may_change, limit=CANDIDATES_SHOWN + 1)
    if matches and matches[0].name.lower() == name.strip().lower() or len(matches) == 1:
        return matches[0]
    if matches:
        raise PartnerNameUnclear(f"“{name}” fits several partners: {_candidates([p.name for p in matches])}. "
                                 "Give more of the name.")
    close = _close_names(session, name)
    hint = f" Did you mean {_candidates(close)}?" if close else ""
    raise PartnerNameUnclear(f"No partner is called “{name}”.{hint}")


@dataclass
class PartnerCard:
    """What `/partner show` tells our team about a partner."""

    partner: Partner
    manager: str | None  # the manager's Slack id
    manager_name: str | None
    contacts: list[str]
    figures: CardFigures
    won: WonFigures
    decided_after_days: int  # registrations older than this count in the lead-to-close ratio
    history: list[PartnerStageEvent]
    nudges: list[Nudge]  # the latest, newest first
    may_change_stage: bool
    now: datetime


def _card(session: Session, services: Services, actor: Actor, partner: Partner) -> PartnerCard:
    now = services.clock()
    days = services.program.protection_window_days
    return PartnerCard(
        partner=partner, manager=partner.manager_slack_id, manager_name=member_name(session, partner.manager_slack_id),
        contacts=contacts_of(session, partner.id),
        figures=card_figures(session, partner.id, decided_before=now - timedelta(days=days),
                             won_since=now - WON_WINDOW),
        won=won_figures(session, services.program, partner.id, now=now), decided_after_days=days,
        history=stage_history(session, partner.id, limit=HISTORY_SHOWN),
        nudges=recent_nudges(session, partner.id, limit=NUDGES_SHOWN),
        may_change_stage=actor.is_internal and actor.runs_program, now=now)


def _ensure_sees_cards(actor: Actor) -> None:
    if actor.is_partner:
        raise NotAllowed(PARTNERS_ONLY)
    if not actor.is_internal:
        raise NotAllowed("I don't know you yet, so I can't show partner cards.")


def show_partner(services: Services, *, actor: Actor, text: str) -> PartnerCard:
    """The card of the partner `text` names, for our own team; partners are politely refused."""
    _ensure_sees_cards(actor)
    if not text.strip():
        raise WorkflowError(SHOW_USAGE)
    with Session(services.engine) as session:
        return _card(session, services, actor, _one_partner(session, actor, text, may_change=False))


def partner_card(services: Services, *, actor: Actor, partner_id: int) -> PartnerCard:
    """A partner's card by id (the card again, after its menu changed the stage); the id is re-checked."""
    _ensure_sees_cards(actor)
    with Session(services.engine) as session:
        partner = partner_for_card(session, actor, partner_id)
        if partner is None:
            raise NotFound("That partner is no longer in the program.")
        return _card(session, services, actor, partner)


@dataclass(frozen=True)
class StageRequest:
    """One way to read `<partner> <stage> [reason]`."""

    name: str
    stage: PartnerStage
    reason: str


_QUOTED = re.compile(r'^\s*["“”\'](?P<name>[^"“”\']+)["“”\']\s*(?P<rest>.*)$', re.S)


def read_stage_request(text: str) -> list[StageRequest]:
    """The readings of `/partner stage` text: the name is everything before a stage word, so a name that contains
    a stage word ("Strategic Partners Ltd") has several readings; quotes keep a name whole."""
    quoted = _QUOTED.match(text)
    if quoted:
        rest = quoted.group("rest")
        first = re.match(r"\s*(\S+)(?P<reason>.*)$", rest, re.S)
        stage = stage_named(first.group(1)) if first else None
        return [StageRequest(quoted.group("name").strip(), stage, first.group("reason").strip())] if stage else []
    words = list(re.finditer(r"\S+", text))
    readings = []
    for index in range(1, len(words)):
        stage = stage_named(words[index].group())
        if stage is not None:
            name = text[words[0].start():words[index - 1].end()]
            readings.append(StageRequest(name, stage, text[words[index].end():].strip()))
    return readings


def _stage_request_partner(session: Session, actor: Actor, readings: list[StageRequest]) -> tuple[int, StageRequest]:
    """(partner id, reading): the reading whose name is a partner's exact name, else the first that names exactly
    one partner."""
    unclear: PartnerNameUnclear | None = None
    found = []
    for reading in readings:
        try:
            partner = _one_partner(session, actor, reading.name, may_change=True)
        except PartnerNameUnclear as problem:
            unclear = unclear or problem
            continue
        if partner.name.lower() == reading.name.lower():
            return partner.id, reading
        found.append((partner.id, reading))
    if found:
        return found[0]
    raise unclear


def change_stage_by_name(services: Services, *, actor: Actor, text: str) -> StageOutcome:
    """`/partner stage <partner> <stage> [reason]`, committed before the ack; bad input gets a specific answer.
    (Slack does not deliver a slash command twice, so there is no replay to recognise.)"""
    ensure_changes_stages(actor)
    if not text.strip():
        raise WorkflowError(STAGE_USAGE)
    readings = read_stage_request(text)
    if not readings:
        raise WorkflowError(f"Which stage? Give one of: {stage_list()} (after the partner's name).")
    with Session(services.engine) as session:  # found before the write lock is taken
        partner_id, reading = _stage_request_partner(session, actor, readings)
    reason = clean_reason(reading.reason)
    now = services.clock()
    with transaction(services.engine, lock_timeout=ACK_LOCK_TIMEOUT) as session:
        partner = lock_partner(session, partner_id, actor)
        if partner is None:
            raise NotFound("That partner is no longer in the program.")
        outcome = apply_stage_change(session, services, actor, partner, reading.stage, reason=reason, now=now)
    services.kick()
    return outcome
