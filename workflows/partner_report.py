"""`/partner report [week|month|quarter|YYYY-Qn|...] [partner name|type|tier]`: the figures on demand (issue 11).

Our own team gets the report's sections (workflows/reporting.py) for that period and scope; a partner's person gets
their own scorecard (workflows/scorecard.py). What each may see is the report rules' (storage/reporting_scope.py):
a partner manager only the partners they manage, an AE the deals assigned to them, a partner itself only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlmodel import Session

from storage.actors import Actor
from storage.models import PartnerTier, PartnerType
from storage.reporting import partner_by_name
from storage.reporting_scope import Scope, ScopeKind
from workflows.nudges import time_zones
from workflows.periods import PERIOD_FORMS, Period, PeriodError
from workflows.report_figures import Figures, GroupBy, LeadToClose
from workflows.reporting import compute_figures, direct_for, lead_to_close_by, report_scope
from workflows.scorecard import Scorecard, scorecard_for
from workflows.services import NotAllowed, Services, WorkflowError
from workflows.working_hours import zone_named

DEFAULT_PERIOD = "month"
# A first word that tries to be a period (a year, a week number...) is told what periods are accepted, rather than
# looked up as a partner's name.
PERIOD_LIKE = re.compile(r"^(\d{4}\b.*|weeks?|months?|quarters?|years?|q[1-4]|w\d+|today|yesterday|last)$")
SCOPE_HELP = ("Name a partner (as on its card), a partner type (" + ", ".join(t.value for t in PartnerType)
              + ") or a tier (" + ", ".join(t.value for t in PartnerTier) + "), or nothing for everything you may see.")


class ReportRequestInvalid(WorkflowError):
    """The period or the scope is not one the command accepts; the message says what is."""


@dataclass(frozen=True)
class ReportRequest:
    period: str
    scope: str  # "" for everything the reader may see
    period_given: bool = True


def parse_report_request(text: str) -> ReportRequest:
    """The words after `report`: an optional period first, then an optional scope."""
    words = text.split()
    if not words:
        return ReportRequest(DEFAULT_PERIOD, "", period_given=False)
    first = words[0].lower()
    try:
        Period.parse(first, datetime(2000, 1, 1, tzinfo=timezone.utc))
    except PeriodError:
        if PERIOD_LIKE.match(first) or ".." in first:
            raise ReportRequestInvalid(f"“{words[0][:40]}” is not a period I know. Periods: "
                                       + "; ".join(PERIOD_FORMS) + ".") from None
        return ReportRequest(DEFAULT_PERIOD, " ".join(words), period_given=False)
    return ReportRequest(first, " ".join(words[1:]))


def _singular(word: str) -> str:
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


def requested_scope(services: Services, text: str) -> Scope:
    """What `text` names: a partner type or tier (plural allowed), else a partner by its name; nothing: all."""
    text = text.strip()
    if not text:
        return Scope.everything()
    word = _singular(text.lower())
    if word.endswith(" partner"):
        word = word[: -len(" partner")]
    if word in {t.value for t in PartnerType}:
        return Scope.of_type(word)
    if word in {t.value for t in PartnerTier}:
        return Scope.of_tier(word)
    with Session(services.engine) as session:
        partner = partner_by_name(session, text)
    if partner is None:
        raise ReportRequestInvalid(f"No partner, partner type or tier is called “{text[:60]}”. {SCOPE_HELP}")
    return Scope.of_partner(partner.id, partner.name)


@dataclass(frozen=True)
class PartnerReport:
    """Either the report's figures (our team: `figures` and lead-to-close by partner type and by partner) or a
    partner's own `scorecard`."""

    figures: Figures | None = None
    by_type: tuple[LeadToClose, ...] = ()
    by_partner: tuple[LeadToClose, ...] = ()
    scorecard: Scorecard | None = None


def partner_report(services: Services, actor: Actor, text: str) -> PartnerReport:
    """The report `actor` asked for with `text`; ReportRequestInvalid for a bad period or scope, NotAllowed for a
    scope they may not see (the reason said)."""
    request = parse_report_request(text)
    if actor.is_partner:
        if request.scope and request.scope.lower() != (actor.partner_name or "").lower():
            raise NotAllowed("You can see your own organisation's figures only: try `/partner report "
                             f"{request.period}`.")
        try:
            return PartnerReport(scorecard=scorecard_for(services, actor, period_text=request.period))
        except PeriodError as error:
            raise ReportRequestInvalid(str(error)) from None
    if not actor.is_internal:
        raise NotAllowed("Reports are for the partner team and its partners; ask a partner manager for access.")
    try:
        requested = requested_scope(services, request.scope)
    except ReportRequestInvalid as error:
        if request.period_given:
            raise
        raise ReportRequestInvalid(f"{error} A period goes first: {'; '.join(PERIOD_FORMS)}.") from None
    scope = report_scope(services, actor, requested)
    now = services.clock()
    zone = time_zones(services, [actor.slack_user_id], now).get(actor.slack_user_id)  # the reader's week, as the digest
    try:
        period = Period.parse(request.period, now, zone_named(zone, services.program.nudges.default_time_zone).key)
    except PeriodError as error:
        raise ReportRequestInvalid(str(error)) from None
    direct, direct_error = direct_for(services, period)
    figures = compute_figures(services, period, scope, direct=direct, direct_error=direct_error, now=now)
    by_type = () if scope.kind in (ScopeKind.partner, ScopeKind.type) else \
        tuple(lead_to_close_by(services, period, scope, GroupBy.type))
    by_partner = () if scope.kind is ScopeKind.partner else \
        tuple(lead_to_close_by(services, period, scope, GroupBy.partner))
    return PartnerReport(figures=figures, by_type=by_type, by_partner=by_partner)

