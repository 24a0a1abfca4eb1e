"""Deal counts and values in the routing base currency: what the reports add up and compare."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from workflows.program import RoutingRules
from workflows.routing import total_in_base_currency

Amounts = Iterable[tuple[str, int, Decimal]]  # (currency, how many, their value) rows, as the queries give them
CENT, TENTH = Decimal("0.01"), Decimal("0.1")


def percent(part: int, whole: int) -> Decimal | None:
    """part / whole in percent with one decimal; None when whole is 0."""
    return (Decimal(100 * part) / whole).quantize(TENTH) if whole else None


@dataclass(frozen=True)
class Money:
    """How many deals and their value in the routing base currency (to the cent). Deals in a currency without an
    exchange rate are in `count` but not in `value`: their currencies are named in `unconverted` and their number
    is `unconverted_count`, so an average divides only what was counted."""

    count: int = 0
    value: Decimal = Decimal("0.00")
    unconverted: tuple[str, ...] = ()
    unconverted_count: int = 0

    @classmethod
    def of(cls, amounts: Amounts, rules: RoutingRules) -> Money:
        """(currency, count, value) rows summed into the base currency."""
        rows = list(amounts)
        count, value, unconverted = total_in_base_currency(rows, rules)
        left_out = sum(how_many for currency, how_many, _ in rows if currency in unconverted)
        return cls(count, value, tuple(sorted(set(unconverted))), left_out)

    def __add__(self, other: Money) -> Money:
        return Money(self.count + other.count, self.value + other.value,
                     tuple(sorted(set(self.unconverted) | set(other.unconverted))),
                     self.unconverted_count + other.unconverted_count)

    @property
    def average(self) -> Decimal | None:
        """value / the deals whose value was counted; None when none was."""
        counted = self.count - self.unconverted_count
        return (self.value / counted).quantize(CENT) if counted else None


@dataclass(frozen=True)
class Split:
    """Partner deals split by attribution: `sourced` (partner-sourced) and `influenced` (partner-influenced and
    co-sell)."""

    sourced: Money = Money()
    influenced: Money = Money()

    @property
    def total(self) -> Money:
        return self.sourced + self.influenced
