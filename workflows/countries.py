"""Countries (ISO 3166-1 alpha-2), the built-in sales regions that group them, and the country picker's search."""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from babel import Locale

# The built-in regions, as most B2B sales teams cut the world. Every ISO 3166-1 country is in exactly one;
# XK (Kosovo) is not assigned by ISO but is the code the EU, the IMF and CRMs use. US territories follow
# the US; Mexico, Central and South America and the Caribbean are LATAM; Central Asia is EMEA.
DEFAULT_REGIONS: dict[str, tuple[str, ...]] = {
    "North America": ("US", "CA", "PR", "VI", "GU", "AS", "MP", "UM", "BM", "PM"),
    "EMEA": tuple("""
        AD AL AT AX BA BE BG BY CH CY CZ DE DK EE ES FI FO FR GB GG GI GL GR HR HU IE IM IS IT JE LI LT LU LV MC
        MD ME MK MT NL NO PL PT RO RS RU SE SI SJ SK SM UA VA XK BV
        AE AM AZ BH GE IL IQ IR JO KW LB OM PS QA SA SY TR YE KZ KG TJ TM UZ
        AO BF BI BJ BW CD CF CG CI CM CV DJ DZ EG EH ER ET GA GH GM GN GQ GW KE KM LR LS LY MA MG ML MR MU MW
        MZ NA NE NG RE RW SC SD SH SL SN SO SS ST SZ TD TF TG TN TZ UG YT ZA ZM ZW
        """.split()),
    "APAC": tuple("""
        AF BD BN BT CN HK ID IN IO JP KH KP KR LA LK MM MN MO MV MY NP PH PK SG TH TL TW VN
        AU NZ CC CX FJ FM HM KI MH NC NF NR NU PF PG PN PW SB TK TO TV VU WF WS CK AQ
        """.split()),
    "LATAM": tuple("""
        MX GT BZ SV HN NI CR PA CO VE EC PE BO CL AR UY PY BR GY SR GF FK GS
        CU DO HT JM TT BS BB AG DM GD KN LC VC AW CW SX BQ KY TC VG AI MS GP MQ BL MF
        """.split()),
}
COUNTRY_CODES: frozenset[str] = frozenset(code for codes in DEFAULT_REGIONS.values() for code in codes)

# Names people type that CLDR's English names do not start with.
_ALIASES = {
    "uk": "GB", "great britain": "GB", "england": "GB", "scotland": "GB", "wales": "GB", "britain": "GB",
    "usa": "US", "america": "US", "united states of america": "US", "holland": "NL", "turkey": "TR",
    "korea": "KR", "czech republic": "CZ", "ivory coast": "CI", "swaziland": "SZ", "macedonia": "MK",
    "burma": "MM", "uae": "AE", "emirates": "AE", "deutschland": "DE", "espana": "ES", "osterreich": "AT",
    "schweiz": "CH", "suisse": "CH", "nederland": "NL", "italia": "IT", "brasil": "BR", "nippon": "JP",
    "vatican": "VA", "hong kong": "HK", "macau": "MO", "macao": "MO", "russia": "RU", "palestine": "PS",
}
_SHORTER_NAMES = {"HK": "Hong Kong", "MO": "Macao", "PS": "Palestine"}


def fold(text: str) -> str:
    """Lower case without accents or punctuation, for matching what people type."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    return " ".join("".join(c if c.isalnum() else " " for c in ascii_text).split())


@lru_cache(maxsize=1)
def country_names() -> dict[str, str]:
    """Code -> English name (CLDR, through babel), sorted by name."""
    territories = Locale("en").territories
    names = {code: _SHORTER_NAMES.get(code) or territories.get(code, code) for code in COUNTRY_CODES}
    return dict(sorted(names.items(), key=lambda item: fold(item[1])))


def country_name(code: str | None) -> str:
    return country_names().get(code or "", code or "")


def as_country_code(text: str) -> str | None:
    """`de`, `DE`, `Germany` or `Deutschland` -> `DE`; None when it names no country."""
    folded = fold(text)
    if len(folded) == 2 and folded.upper() in COUNTRY_CODES:
        return folded.upper()
    if folded in _ALIASES:
        return _ALIASES[folded]
    return next((code for code, name in country_names().items() if fold(name) == folded), None)


def search_countries(query: str, limit: int = 100) -> list[str]:
    """Country codes for what someone typed: the code itself, then names starting with it, then word matches."""
    folded = fold(query)
    names = country_names()
    if not folded:
        return list(names)[:limit]
    ranked: list[tuple[int, str]] = []
    for code, name in names.items():
        name_folded = fold(name)
        aliases = [alias for alias, target in _ALIASES.items() if target == code]
        if folded == code.lower() or folded in aliases:
            rank = 0
        elif name_folded.startswith(folded) or any(alias.startswith(folded) for alias in aliases):
            rank = 1
        elif any(word.startswith(folded) for word in name_folded.split()):
            rank = 2
        elif folded in name_folded:
            rank = 3
        else:
            continue
        ranked.append((rank, code))
    ranked.sort(key=lambda item: item[0])  # stable: alphabetical by name within a rank
    return [code for _, code in ranked[:limit]]
