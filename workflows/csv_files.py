"""Reading CSV files as spreadsheets save them: comma, semicolon or tab separated, UTF-8 or Windows-1252,
headers in any case and spacing. Bad records are reported, not fatal."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}


@dataclass
class CsvFile:
    """The header (as the expected column names where they match) and each record's cells, or the reason a
    record could not be read; `notes` say how the file was read when it was not plain UTF-8 with commas."""

    header: list[str]
    records: list[list[str] | str]
    notes: list[str] = field(default_factory=list)


def column_key(text: str) -> str:
    """`Slack User ID`, ` slack-user-id ` and `slack_user_id` are one column."""
    return re.sub(r"[\s\-]+", "_", text.strip().lstrip("\ufeff").strip().lower())


def _decode(path: Path) -> tuple[str, list[str]]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"Cannot read {path}: {exc.__class__.__name__}: {exc.strerror or exc}") from None
    try:
        return raw.decode("utf-8-sig"), []
    except UnicodeDecodeError as utf8_error:
        try:
            # Excel's "CSV" (not "CSV UTF-8") on Windows in the Americas and Western Europe.
            return raw.decode("cp1252"), ["read as Windows-1252: the file is not UTF-8 (save it as "
                                          "“CSV UTF-8” to be sure accents come through)"]
        except UnicodeDecodeError:
            raise ValueError(f"Cannot read {path}: it is neither UTF-8 nor Windows-1252 (byte "
                             f"{utf8_error.start}); save it from your spreadsheet as “CSV UTF-8”") from None


def _delimiter(text: str, columns: list[str]) -> str:
    """The delimiter that splits the header into the most expected columns (then into the most cells)."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    wanted = set(columns)

    def score(delimiter: str) -> tuple[int, int]:
        cells = next(csv.reader([first], delimiter=delimiter), [])
        return len(wanted & {column_key(c) for c in cells}), len(cells)
    return max(DELIMITERS, key=score)


def read_csv(path: Path, columns: list[str]) -> CsvFile:
    """The file's header and records; raises ValueError when it cannot be used at all."""
    text, notes = _decode(path)
    delimiter = _delimiter(text, columns)
    if delimiter != ",":
        notes.append(f"{DELIMITERS[delimiter]}-separated")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
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
    if not records:
        raise ValueError(f"{path} is empty; expected a header row: {','.join(columns)}")
    if isinstance(records[0], str):
        raise ValueError(f"{path}: header row: {records[0]}")
    header = [column_key(h) for h in records[0]]
    missing = [c for c in columns if c not in header]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}; expected {','.join(columns)} "
                         f"(found {', '.join(h for h in records[0] if h.strip()) or 'no header'})")
    return CsvFile(header, records[1:], notes)
