"""What the reports say, one definition each (computed by workflows/reporting.py, shown by every surface): money
in the routing base currency, split sourced / influenced (co-sell counts as influenced)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from storage.crm.reporting import DirectFigures
from storage.models import PartnerStage
from storage.reporting_scope import Scope
from workflows.money import TENTH, Money, Split, percent
from workflows.periods import Period
from workflows.program import RoutingRules

EXPANSION_DAYS = 183  # "within 6 months" of landing


# --- Direct (Salesforce) ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DirectSummary:
    """DirectFigures in the base currency, for side-by-side with the partner figures."""

    new_pipeline: Money
    open_now: Money
    won: Money
    lost: int
    average_days_to_close: Decimal | None

    @property
    def win_rate(self) -> Decimal | None:
        """Percent (one decimal) of the direct deals decided in the period that were won; None when none was."""
        return percent(self.won.count, self.won.count + self.lost)

    @classmethod
    def of(cls, direct: DirectFigures, rules: RoutingRules) -> DirectSummary:
        return cls(Money.of(direct.new_pipeline, rules), Money.of(direct.open_now, rules), Money.of(direct.won, rules),
                   direct.lost_count, direct.average_days_to_close)


# --- The figures' parts -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PipelineFigures:
    """`new`: partner pipeline created in the period = registrations approved in it (approved_at; estimated_value)
    plus upsells accepted in it (accepted_at; expected_value), whatever they became since. `open_now`: approved
    registrations and accepted upsells not yet won or lost (status approved / accepted) at the time of the report,
    whatever the period. Both split sourced / influenced (co-sell counts as influenced)."""

    new: Split
    open_now: Split


@dataclass(frozen=True)
class WonFigures:
    """Deals decided in the period (closed_at in it), registrations and upsells together: `won` (registrations at
    estimated_value, upsells at final_amount or else expected_value) split by attribution, `lost` (how many), and
    `average_days_to_close` over the won ones (registrations approved_at -> closed_at, upsells accepted_at ->
    closed_at; deals without the start time are left out). Upsells count in the win rate like registrations."""

    won: Split
    lost: int
    average_days_to_close: Decimal | None

    @property
    def decided(self) -> int:
        return self.won.total.count + self.lost

    @property
    def win_rate(self) -> Decimal | None:
        """won / (won + lost) in percent with one decimal; None when nothing was decided in the period."""
        return percent(self.won.total.count, self.decided)

    @property
    def average_deal_size(self) -> Decimal | None:
        """Won value / won deals (those whose value was converted); None when none was won."""
        return self.won.total.average


class GroupBy(StrEnum):
    partner = "partner"
    type = "type"
    tier = "tier"
    landing_zone = "landing-zone"
    manager = "manager"


@dataclass(frozen=True)
class LeadToClose:
    """Registrations SUBMITTED in the period (created_at) and what became of them: `won` of those `decided` (won,
    lost, rejected, expired or withdrawn by the time of the report); `open` ones (received, under review, approved)
    are not counted in the ratio. `key`/`label` name the group (a partner id and name, a type, a tier, a landing
    zone, a manager's Slack id; "all" for the whole scope)."""

    key: str
    label: str
    won: int
    decided: int
    open: int

    @property
    def submitted(self) -> int:
        return self.decided + self.open

    @property
    def ratio(self) -> Decimal | None:
        """won / decided in percent with one decimal; None when none is decided yet."""
        return percent(self.won, self.decided)


@dataclass(frozen=True)
class LandingZone:
    """Accounts attached to partners in scope whose entry product line (CustomerAccount.landing_zone) is
    `product_line`: `landed` (created up to the period end); `expanded`: those with a won upsell (closed_at) or an
    AccountProductLine other than the landing zone (since) within EXPANSION_DAYS of landing and before the period
    end; `eligible`: those landed at least EXPANSION_DAYS before the period end, or already expanded (the others
    have not had their six months yet); `median_days_to_expand` over the expanded ones."""

    product_line: str
    landed: int
    eligible: int
    expanded: int
    median_days_to_expand: Decimal | None

    @property
    def share(self) -> Decimal | None:
        """expanded / eligible in percent with one decimal; None when none is eligible."""
        return percent(self.expanded, self.eligible)


@dataclass(frozen=True)
class UsageGrowth:
    """Usage-based registrations in scope that are won or approved now (and approved before the period end):
    `starting` is the sum of their starting_monthly_usage, `current` the sum of each one's latest recorded month
    (UsageRevenue) up to the period's last month, or its starting usage when it has none yet; `with_history` how
    many have a recorded month. The growth (current - starting) is credited to the partners."""

    deals: int
    with_history: int
    starting: Money
    current: Money

    @property
    def growth(self) -> Decimal:
        return self.current.value - self.starting.value

    @property
    def growth_percent(self) -> Decimal | None:
        """growth / starting in percent with one decimal; None when starting is zero."""
        if not self.starting.value:
            return None
        return (100 * self.growth / self.starting.value).quantize(TENTH)


@dataclass(frozen=True)
class StageCount:
    stage: PartnerStage
    partners: int
    stuck: int  # past the nudge thresholds (storage/nudges/managers.py Stuck), as the manager roll-up counts them


@dataclass(frozen=True)
class Funnel:
    """Partners in scope per lifecycle stage (every stage, zeros included) and how many are stuck; registrations
    open (received or under review) now, and how many of them for longer than program.approval_sla_hours;
    upsells open now (duplicate review, open, accepted; expected_value) and won in the period."""

    stages: tuple[StageCount, ...]
    registrations_pending: int
    registrations_past_sla: int
    upsells_open: Money
    upsells_won: Money

    @property
    def stuck(self) -> int:
        return sum(stage.stuck for stage in self.stages)


@dataclass(frozen=True)
class PartnerPipeline:
    """One partner's new partner-sourced pipeline (as PipelineFigures.new.sourced) in the period and the one
    before."""

    partner_id: int
    name: str
    current: Money
    previous: Money

    @property
    def change(self) -> Decimal:
        return self.current.value - self.previous.value


@dataclass(frozen=True)
class WeekPoint:
    """One week of the chart: new pipeline (as PipelineFigures.new) sourced and influenced, and direct (Salesforce
    Opportunities created that week) or None when Salesforce is not connected."""

    week_start: date
    sourced: Money
    influenced: Money
    direct: Money | None


@dataclass(frozen=True)
class Figures:
    """Every figure of a period and scope, in `base_currency`. `direct` is None when Salesforce is not connected
    (show "not connected", never zero). `movers`: partners whose new sourced pipeline changed most against
    period.previous() (by absolute change); `top_partners`: the most new sourced pipeline in the period."""

    period: Period
    scope: Scope
    base_currency: str
    computed_at: datetime
    pipeline: PipelineFigures
    won: WonFigures
    lead_to_close: LeadToClose
    landing_zones: tuple[LandingZone, ...]
    usage_growth: UsageGrowth
    funnel: Funnel
    movers: tuple[PartnerPipeline, ...]
    top_partners: tuple[PartnerPipeline, ...]
    direct: DirectSummary | None = None
    direct_unavailable: str | None = None  # "Salesforce unavailable: <reason>" when the read failed


@dataclass(frozen=True)
class Headline:
    """What a digest compares with the week before (handlers/blocks/digest.py headline): new pipeline (as
    PipelineFigures.new), won (as Figures.won) and the direct summary (None: Salesforce not connected)."""

    new: Split
    won: WonFigures
    direct: DirectSummary | None = None
