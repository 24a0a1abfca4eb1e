"""Amounts as people type them: `48,000`, `48.000,50`, `48 000`, `48'000`, `€48.000`, in the currency's usual
format, or refused with an example when the same text means two different amounts."""

from __future__ import annotations

import re
from decimal import Decimal
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.core import get_global
from babel.numbers import get_currency_precision, get_territory_currencies

from workflows.countries import COUNTRY_CODES

MAX_AMOUNT_CHARS = 40
# Grouping that is never a decimal mark: spaces of every width and apostrophes (Switzerland, Liechtenstein).
_GROUPING_ONLY = re.compile(r"[\s\u00a0\u202f\u2009'’_]")
_SYMBOLS = re.compile(r"^[$€£¥₹]|[$€£¥₹]$")
_NUMBER = re.compile(r"^-?[0-9]+(?:[.,][0-9]+)*$")
# The conventions there are: (decimal mark, grouping mark); spaces and apostrophes are removed beforehand.
_ALL_CONVENTIONS = ((".", ","), (",", "."))


class AmountUnclear(ValueError):
    """The text is not an amount, or could be two; the message says what to type instead."""


@lru_cache(maxsize=64)
def decimal_marks(currency: str) -> frozenset[str]:
    """The decimal marks in use where the currency is the usual one: `.` for USD, `,` for BRL, both for EUR.

    ISO 4217 codes start with the issuing country (USD: US); a currency shared by several countries (EUR,
    XOF) counts the usual format of each of them, from CLDR through babel.
    """
    territories = [t for t in get_global("territory_currencies")
                   if t in COUNTRY_CODES and currency in get_territory_currencies(t, tender=True)]
    if currency[:2] in territories:
        territories = [currency[:2]]
    marks = set()
    for territory in territories:
        try:
            symbols = Locale.parse(f"und_{territory}").number_symbols["latn"]
        except (UnknownLocaleError, ValueError, KeyError):
            continue
        marks.add(symbols["decimal"])
    return frozenset(marks & {".", ","}) or frozenset({"."})


def _grouped(digits: list[str]) -> bool:
    """Groups of three after the first (1,000,000), or India's lakh grouping (10,00,000)."""
    first, rest = digits[0], digits[1:]
    if not rest:
        return True
    if 1 <= len(first) <= 3 and all(len(g) == 3 for g in rest):
        return True
    return 1 <= len(first) <= 2 and all(len(g) == 2 for g in rest[:-1]) and len(rest[-1]) == 3


def _read(text: str, decimal: str, group: str) -> Decimal | None:
    """The amount under one convention, or None when the text is not written that way."""
    whole, _, fraction = text.rpartition(decimal) if decimal in text else (text, "", "")
    if decimal in text and (group in fraction or whole == "" or fraction == ""):
        return None
    groups = whole.split(group)
    if any(not g.isdigit() for g in groups) or not _grouped(groups):
        return None
    return Decimal("".join(groups) + ("." + fraction if fraction else ""))


def plain(value: Decimal) -> str:
    """`48000`, `48.5`: how to type an amount so that it cannot be misread."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def shown(value: Decimal) -> str:
    """`48,000`, `1,250.50` or `1.234`: an amount shown back to people, never rounded."""
    if value == value.to_integral_value():
        return f"{value:,.0f}"
    exponent = value.normalize().as_tuple().exponent
    return f"{value:,.{max(2, -exponent)}f}"


def parse_amount(raw: str, currency: str) -> Decimal:
    """The amount in `raw`, read in the currency's usual format; raises AmountUnclear to say what to type."""
    text = _SYMBOLS.sub("", raw.strip()).strip()
    if text[-3:].upper() == currency or text[:3].upper() == currency:
        text = text[3:] if text[:3].upper() == currency else text[:-3]
    text = _GROUPING_ONLY.sub("", text)
    if not text.isascii() or len(text) > MAX_AMOUNT_CHARS or not _NUMBER.match(text):
        raise AmountUnclear("must be a number, e.g. 25000")
    negative = text.startswith("-")
    text = text.lstrip("-")
    separators = set(re.findall(r"[.,]", text))
    marks = decimal_marks(currency)
    single = re.fullmatch(r"([0-9]{1,3})([.,])([0-9]{3})", text)
    if single and single.group(2) in marks:
        # `48.000`: a thousands separator in one country, three decimals in another. Money rarely has three
        # decimals, but a guess here is how a 48,000 deal is registered as 48.
        thousands = Decimal(single.group(1) + single.group(3))
        decimals = Decimal(text.replace(",", "."))
        raise AmountUnclear(f"“{raw.strip()}” is unclear: did you mean {shown(thousands)} or {shown(decimals)}? "
                            f"Type {plain(thousands)} or {plain(decimals)}.")
    precision = get_currency_precision(currency)
    usual = [(d, g) for d, g in _ALL_CONVENTIONS if d in marks or not separators]
    readings = _readings(text, usual, precision)
    if not readings:  # written the way another country writes it, with one reading only: `1,5` USD is 1.5
        readings = _readings(text, _ALL_CONVENTIONS, precision)
    if len(readings) > 1:
        first, second = sorted(readings, reverse=True)[:2]
        raise AmountUnclear(f"“{raw.strip()}” is unclear: did you mean {shown(first)} or {shown(second)}? "
                            f"Type {plain(first)} or {plain(second)}.")
    if not readings:
        if _readings(text, _ALL_CONVENTIONS, MAX_AMOUNT_CHARS):
            raise AmountUnclear(f"can have at most {precision} decimal places in {currency}" if precision
                                else f"is in whole {currency}, with no decimals")
        raise AmountUnclear("must be a number, e.g. 25000 or 25,000.50")
    value = readings.pop()
    return -value if negative else value


def _readings(text: str, conventions, precision: int) -> set[Decimal]:
    """The amounts `text` can be under these conventions, with at most `precision` decimals."""
    values = set()
    for decimal, group in conventions:
        value = _read(text, decimal, group)
        if value is not None and -value.as_tuple().exponent <= precision:
            values.add(value)
    return values
