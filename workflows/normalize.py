"""Normalising company names and domains so the same customer is recognised however it is typed."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

import tldextract

# The public-suffix snapshot shipped with tldextract: no network at run time, no cache writes.
_extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

LEGAL_SUFFIXES = frozenset(
    """
    inc incorporated corp corporation co company llc llp lp ltd limited plc gmbh ag sa sas sarl srl spa
    bv nv oy ab as aps kg kgaa pty pte pvt group holding holdings the
    """.split()
)
_DOMAIN_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class InvalidDomain(ValueError):
    """The text is not a website or domain name."""


def normalize_domain(text: str) -> str:
    """`https://www.Acme.com/x` -> `acme.com`; subdomains fold into the registrable domain."""
    raw = text.strip().lower()
    if not raw:
        raise InvalidDomain("Enter the company's website or domain, e.g. acme.com")
    if "@" in raw and "/" not in raw:
        raw = raw.rsplit("@", 1)[1]
    host = (urlsplit(raw if "://" in raw else f"//{raw}").hostname or "").rstrip(".")
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidDomain(f"“{text.strip()[:60]}” is not a valid domain") from None
    parts = _extract(host)
    labels = host.split(".")
    if not parts.domain or not parts.suffix or not all(_DOMAIN_LABEL.match(label) for label in labels):
        raise InvalidDomain(f"“{text.strip()[:60]}” is not a website or domain such as acme.com")
    return f"{parts.domain}.{parts.suffix}"


def company_key(name: str) -> str:
    """`Acme Inc.` and `ACME Incorporated` both become `acme`: case, accents, punctuation, legal forms dropped."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii").lower()
    folded = folded.replace("&", " and ").replace(".", "")  # "S.A." is the legal form "sa"
    words = re.findall(r"[a-z0-9]+", folded)
    kept = [w for w in words if w not in LEGAL_SUFFIXES]
    return " ".join(kept or words)
