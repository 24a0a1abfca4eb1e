"""The program rules a partner manager tunes (PROGRAM_FILE), validated with the line of each problem."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from babel.numbers import is_currency
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from workflows.countries import COUNTRY_CODES, DEFAULT_REGIONS, as_country_code


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ConflictRules(_Strict):
    name_similarity: float = Field(default=0.9, ge=0.5, le=1.0)


class ScoringWeights(_Strict):
    fit: int = Field(default=35, ge=0)
    timing: int = Field(default=25, ge=0)
    completeness: int = Field(default=20, ge=0)
    partner_record: int = Field(default=20, ge=0)

    @model_validator(mode="after")
    def _sum_to_100(self) -> "ScoringWeights":
        total = self.fit + self.timing + self.completeness + self.partner_record
        if total != 100:
            raise ValueError(f"weights must add up to 100, they add up to {total}")
        return self


class ScoringRules(_Strict):
    weights: ScoringWeights = ScoringWeights()


class RoutingRule(_Strict):
    """First matching rule wins; without `assign_to`, AEs covering the lead's country or region and its product
    line are candidates. `regions` may name regions or countries."""

    name: str = Field(min_length=1, max_length=80)
    regions: list[str] = []
    product_lines: list[str] = []
    min_value: Decimal | None = Field(default=None, ge=0)
    max_value: Decimal | None = Field(default=None, ge=0)
    assign_to: list[str] = []

    @field_validator("assign_to")
    @classmethod
    def _slack_ids(cls, ids: list[str]) -> list[str]:
        bad = [i for i in ids if not (i[:1] in "UW" and i[1:].isalnum())]
        if bad:
            raise ValueError(f"not Slack user ids: {', '.join(bad)} (Slack user ids look like U0123ABCD)")
        return ids

    @model_validator(mode="after")
    def _range(self) -> "RoutingRule":
        if self.min_value is not None and self.max_value is not None and self.min_value > self.max_value:
            raise ValueError(f"min_value {self.min_value} is larger than max_value {self.max_value}, "
                             "so no deal can match")
        return self

    @property
    def compares_value(self) -> bool:
        return self.min_value is not None or self.max_value is not None


DEFAULT_RULES = (RoutingRule(name="Territory and product line"),)


class UpsellRules(_Strict):
    """The upsell motion: what a partner can flag as the target, how soon the owner AE should answer, and the
    Opportunity type an accepted upsell gets in Salesforce."""

    accept_sla_hours: int = Field(default=48, ge=1, le=720)
    plans: tuple[str, ...] = ("Team", "Business", "Enterprise")
    opportunity_type: str = Field(default="Existing Customer - Upgrade", min_length=1, max_length=80)


DEFAULT_SIGNAL_PHRASES = ("upgrade", "enterprise plan", "more seats", "more licenses", "hitting the limit",
                          "add users", "expand")


class SignalRules(_Strict):
    """Expansion signals (opt-in): a message in a partner's channel that names one of its accounts and says one
    of these phrases gets its author a private suggestion to flag an upsell."""

    enabled: bool = False
    phrases: tuple[str, ...] = DEFAULT_SIGNAL_PHRASES
    per_account_per_day: int = Field(default=1, ge=1, le=20)

    @field_validator("phrases")
    @classmethod
    def _phrases(cls, phrases: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(p.strip() for p in phrases)
        if any(len(p) < 3 for p in cleaned):
            raise ValueError("each phrase needs at least 3 characters, such as \"more seats\"")
        return cleaned


class StrategicCriteria(_Strict):
    """When a producing partner is proposed to its manager as strategic: at least this many deals won, or this much
    won value (in routing.base_currency, through routing.exchange_rates), in the last 12 months. Leave one out
    (null) to judge by the other alone; both null proposes nobody."""

    min_won_deals: int | None = Field(default=5, ge=1, le=100_000)
    min_won_value: Decimal | None = Field(default=Decimal(250_000), ge=0)

    @property
    def enabled(self) -> bool:
        return self.min_won_deals is not None or self.min_won_value is not None


class LifecycleRules(_Strict):
    """Partners' lifecycle stages: the automatic rules' numbers (workflows/lifecycle.py)."""

    strategic: StrategicCriteria = StrategicCriteria()


class ProtectionRules(_Strict):
    """Extending an approved registration's protection window: the owner AE (else the partner's manager) grants
    `extension_days` more, at most `max_extensions` times per registration."""

    extension_days: int = Field(default=30, ge=1, le=365)
    max_extensions: int = Field(default=1, ge=0, le=10)


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class WorkingHours(_Strict):
    """When people may be messaged, in their own time zone: these days, from `start` to `end` (24-hour HH:MM)."""

    days: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri")
    start: str = Field(default="09:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    end: str = Field(default="17:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")

    @field_validator("days")
    @classmethod
    def _days(cls, days: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(dict.fromkeys(d.strip().lower()[:3] for d in days))
        unknown = [d for d in cleaned if d not in WEEKDAYS]
        if unknown or not cleaned:
            raise ValueError("should name days such as [mon, tue, wed, thu, fri]")
        return cleaned

    @model_validator(mode="after")
    def _order(self) -> "WorkingHours":
        if self.start >= self.end:
            raise ValueError(f"end ({self.end}) must come after start ({self.start})")
        return self


class TrainingLink(_Strict):
    title: str = Field(min_length=1, max_length=150)
    url: str = Field(pattern=r"^https?://\S+$", max_length=500)


class OnboardingNudge(_Strict):
    """Day 0 a welcome in the channel of a partner entering onboarded; follow-ups with the training links."""

    enabled: bool = True
    days: tuple[int, ...] = (0, 3, 7)  # days after entering onboarded; the first is the welcome
    links: tuple[TrainingLink, ...] = ()

    @field_validator("days")
    @classmethod
    def _days(cls, days: tuple[int, ...]) -> tuple[int, ...]:
        if any(d < 0 or d > 365 for d in days):
            raise ValueError("should be days after a partner is onboarded, between 0 and 365, such as [0, 3, 7]")
        return tuple(sorted(set(days)))


class ActivationNudge(_Strict):
    """Onboarded or recruited, no registration for `after_days`: every `every_days`, at most `max_times`."""

    enabled: bool = True
    after_days: int = Field(default=14, ge=1, le=365)
    every_days: int = Field(default=14, ge=1, le=365)
    max_times: int = Field(default=3, ge=1, le=20)


class ReengagementNudge(_Strict):
    """Activated or producing, no registration for `after_days`: the partner is nudged, its manager told."""

    enabled: bool = True
    after_days: int = Field(default=60, ge=1, le=730)


class StalledNudge(_Strict):
    """Approved, not won or lost, unchanged for `after_days`: the owner AE is asked how it stands."""

    enabled: bool = True
    after_days: int = Field(default=21, ge=1, le=365)


class ExpiryNudge(_Strict):
    """Days before an approved registration's protection ends that its partner is warned, in its thread."""

    enabled: bool = True
    days_before: tuple[int, ...] = (14, 7)


class Switch(_Strict):
    enabled: bool = True


class NudgeRules(_Strict):
    """Nudges (workflows/nudges.py): each kind with its switch and numbers, and when people may be messaged."""

    working_hours: WorkingHours = WorkingHours()
    # A shared channel is messaged in its partner's time zone when named here (partner name -> IANA zone),
    # else in its partner manager's.
    partner_time_zones: dict[str, str] = {}
    default_time_zone: str = "UTC"  # for a recipient Slack gives no time zone for
    snooze_days: int = Field(default=7, ge=1, le=90)
    onboarding: OnboardingNudge = OnboardingNudge()
    activation: ActivationNudge = ActivationNudge()
    reengagement: ReengagementNudge = ReengagementNudge()
    stalled_registrations: StalledNudge = StalledNudge()
    protection_expiry: ExpiryNudge = ExpiryNudge()
    qbr: Switch = Switch()
    rollup: Switch = Switch()

    @field_validator("partner_time_zones")
    @classmethod
    def _zones(cls, zones: dict[str, str]) -> dict[str, str]:
        for name, zone in zones.items():
            _check_zone(zone, f"the time zone of {name}")
        return zones

    @field_validator("default_time_zone")
    @classmethod
    def _default_zone(cls, zone: str) -> str:
        return _check_zone(zone, "default_time_zone")


WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
SCHEDULE_HELP = 'should be a weekday and a local time (24-hour HH:MM), such as "monday 08:30"'


class DigestRules(_Strict):
    """The weekly digest (workflows/digest.py): each partner manager and admin gets it once a week, once their own
    local time (Slack's time zone) has passed `schedule`, a weekday and a time."""

    enabled: bool = True
    schedule: str = "monday 08:30"

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, text: str) -> str:
        parts = text.strip().lower().split()
        if len(parts) != 2:
            raise ValueError(SCHEDULE_HELP)
        day, clock = parts
        days = [name for name in WEEKDAY_NAMES if len(day) >= 3 and name.startswith(day)]
        if len(days) != 1 or not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", clock):
            raise ValueError(f"{SCHEDULE_HELP}, not {text.strip()!r}")
        hours, minutes = clock.split(":")
        return f"{days[0]} {int(hours):02d}:{minutes}"

    @property
    def weekday(self) -> int:
        """Monday 0 ... Sunday 6."""
        return WEEKDAY_NAMES.index(self.schedule.split()[0])

    @property
    def at(self) -> tuple[int, int]:
        """(hour, minute) local time."""
        hours, minutes = self.schedule.split()[1].split(":")
        return int(hours), int(minutes)


class ScorecardRules(_Strict):
    """The partners' monthly scorecard (workflows/scorecard.py): last month's figures, sent from `day` of each month
    (1-28, so every month has it) in the partner's shared channel, or to each referral contact by DM."""

    enabled: bool = True
    day: int = Field(default=1, ge=1, le=28)


def _check_zone(zone: str, what: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{what} ({zone}) is not a time zone; use a name such as Europe/Berlin or "
                         "America/New_York") from None
    return zone


class RoutingRules(_Strict):
    base_currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    exchange_rates: dict[str, Decimal] = {}
    rules: tuple[RoutingRule, ...] = DEFAULT_RULES

    @field_validator("exchange_rates")
    @classmethod
    def _rates(cls, rates: dict[str, Decimal]) -> dict[str, Decimal]:
        for code, rate in rates.items():
            if len(code) != 3 or not code.isupper() or rate <= 0:
                raise ValueError(f"{code}: rates are 3-letter currency codes with a positive rate, such as EUR: 1.08")
        return rates


def _country_list(region: str, countries: Any) -> list[str]:
    if not isinstance(countries, (list, tuple)):
        raise ValueError(f"{region}: list its countries, such as {region}: [DE, FR, GB]")
    # YAML 1.1 reads a bare NO (Norway) as false.
    return ["NO" if c is False else str(c).strip().upper() for c in countries]


def regions_from(value: Any) -> Any:
    """Region name -> country codes from the file; the list form (`[EMEA, APAC]`, from before regions had
    countries) keeps the built-in countries of each name, so existing files mean what they meant."""
    if isinstance(value, (list, tuple)):
        unknown = [str(name) for name in value if name not in DEFAULT_REGIONS]
        if unknown:
            raise ValueError(
                f"{', '.join(unknown)}: a region in the list form must be a built-in one "
                f"({', '.join(DEFAULT_REGIONS)}); give your own regions with their countries, "
                f"such as {{{unknown[0]}: [DE, FR, GB]}}")
        return {name: DEFAULT_REGIONS[name] for name in value}
    if isinstance(value, dict):
        return {str(name).strip(): _country_list(str(name), countries) for name, countries in value.items()}
    return value


def region_problems(regions: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    """(location, reason) for every unknown country code, empty region, or country in two regions."""
    seen: dict[str, str] = {}
    problems: list[tuple[tuple[Any, ...], str]] = []
    for region, countries in regions.items():
        if not str(region).strip():
            problems.append(((region,), "a region needs a name"))
        if not countries:
            problems.append(((region,), f"{region} has no countries; list them, such as {region}: [DE, FR]"))
        for index, code in enumerate(countries or ()):
            if code not in COUNTRY_CODES:
                guess = as_country_code(code)
                hint = f"; did you mean {guess}?" if guess else ""
                problems.append(((region, index), f"“{code}” is not an ISO 3166 country code{hint}"))
            elif code in seen and seen[code] != region:
                problems.append(((region, index), f"{code} is in both {seen[code]} and {region}; "
                                                  "a country belongs to one region"))
            seen.setdefault(code, region)
    return problems


class Program(_Strict):
    """Everything a partner manager can tune; every field has the default the field commonly uses."""

    protection_window_days: int = Field(default=90, ge=1, le=730)
    approval_sla_hours: int = Field(default=48, ge=1, le=720)
    currencies: tuple[str, ...] = ("USD", "EUR", "GBP", "CAD", "AUD")
    product_lines: tuple[str, ...] = ("Platform", "Analytics", "Integrations")
    # Region name -> its ISO 3166 country codes; the registration form asks for the country.
    regions: dict[str, tuple[str, ...]] = DEFAULT_REGIONS
    conflict: ConflictRules = ConflictRules()
    scoring: ScoringRules = ScoringRules()
    routing: RoutingRules = RoutingRules()
    upsell: UpsellRules = UpsellRules()
    signals: SignalRules = SignalRules()
    lifecycle: LifecycleRules = LifecycleRules()
    protection: ProtectionRules = ProtectionRules()
    nudges: NudgeRules = NudgeRules()
    digest: DigestRules = DigestRules()


    scorecard: ScorecardRules = ScorecardRules()

    @field_validator("regions", mode="before")
    @classmethod
    def _regions_as_countries(cls, value: Any) -> Any:
        return regions_from(value)

    @field_validator("regions")
    @classmethod
    def _known_countries_once(cls, regions: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        problems = region_problems(regions)
        if problems:
            raise ValueError("; ".join(message for _, message in problems))
        return regions

    @field_validator("currencies")
    @classmethod
    def _iso_currencies(cls, codes: tuple[str, ...]) -> tuple[str, ...]:
        bad = [c for c in codes if not (len(c) == 3 and c.isupper() and is_currency(c))]
        if bad:
            raise ValueError(f"{', '.join(bad)}: not ISO 4217 currency codes such as USD, EUR")
        return codes

    @property
    def region_names(self) -> tuple[str, ...]:
        return tuple(self.regions)

    def region_of(self, country: str | None) -> str | None:
        """The region a country belongs to in this program, if any."""
        return next((name for name, codes in self.regions.items() if country in codes), None)

    def territory(self, text: str) -> str | None:
        """A region name or country as the program spells it (`emea` -> `EMEA`, `de` -> `DE`), else None."""
        wanted = text.strip().casefold()
        region = next((name for name in self.regions if name.casefold() == wanted), None)
        if region:
            return region
        return as_country_code(text) if text.strip() else None

    @property
    def upsell_targets(self) -> tuple[str, ...]:
        """What an upsell can aim at: a product line (a new one for the account) or a plan."""
        return tuple(dict.fromkeys((*self.product_lines, *self.upsell.plans)))

    def product_line(self, text: str) -> str | None:
        wanted = text.strip().casefold()
        return next((line for line in self.product_lines if line.casefold() == wanted), None)


class ProgramError(Exception):
    """A program file that cannot be used; `problems` are 'line N: field: reason' strings."""

    def __init__(self, path: Path, problems: list[str]):
        self.path = path
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(problems))


def load_program(path: Path) -> Program:
    """The program from `path`, or the built-in defaults when the file does not exist."""
    if not path.exists():
        return Program()
    return parse_program(path.read_text(encoding="utf-8"), path)


def parse_program(text: str, path: Path) -> Program:
    """Parse and validate program YAML text."""
    from workflows.program_file import read_program

    return read_program(text, path).program
