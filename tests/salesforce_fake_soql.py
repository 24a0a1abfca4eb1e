"""The SOQL the fake Salesforce understands: SELECT items FROM object [WHERE ...] [GROUP BY ...] [LIMIT n].

WHERE takes =, !=, <, <=, >, >=, LIKE, IN (...), NOT IN (...), AND, OR and parentheses, with 'strings', numbers,
dates (2026-11-01), datetimes (2026-11-01T00:00:00Z, compared as instants), null, true and false.
SELECT takes fields, the aggregate functions COUNT(), COUNT(field), SUM, AVG, MIN and MAX, and the date functions
DAY_ONLY, CALENDAR_YEAR, CALENDAR_QUARTER, CALENDAR_MONTH and DAY_IN_MONTH (in UTC, as without convertTimezone()),
each with an optional alias. A query with an aggregate function or GROUP BY answers AggregateResult records as
Salesforce does: grouped fields under their name, functions under their alias or `expr0`, `expr1`... in order; every
selected item that is not aggregated must be grouped; SUM and AVG of a currency field are in the org's corporate currency.
Enough for every query Partnerbot issues.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timezone

TOKEN = re.compile(r"\s*('(?:[^'\\]|\\.)*'|\(|\)|,|!=|<=|>=|=|<|>|[\w.\-:+]+)", re.S)
QUERY = re.compile(
    r"^\s*SELECT\s+(.+?)\s+FROM\s+(\w+)(?:\s+WHERE\s+(.+?))?(?:\s+GROUP\s+BY\s+(.+?))?(?:\s+LIMIT\s+(\d+))?\s*$",
    re.I | re.S,
)
ITEM = re.compile(r"^(?:(\w+)\s*\(\s*([\w.]*)\s*\)|([\w.]+))(?:\s+(\w+))?$", re.S)
AGGREGATES = {"COUNT", "SUM", "AVG", "MIN", "MAX"}
DATE_FUNCTIONS = {"DAY_ONLY", "CALENDAR_YEAR", "CALENDAR_QUARTER", "CALENDAR_MONTH", "DAY_IN_MONTH"}
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T")
Predicate = Callable[[dict], bool]
Money = Callable[[dict, str, object], object]  # (record, field, value) -> value in the corporate currency


class UnknownField(ValueError):
    """The query names a field the org does not have (Salesforce answers INVALID_FIELD)."""


def _literal(token: str):
    if token.startswith("'"):
        return re.sub(r"\\(.)", r"\1", token[1:-1])
    lowered = token.lower()
    if lowered in ("null", "true", "false"):
        return {"null": None, "true": True, "false": False}[lowered]
    if re.fullmatch(r"-?\d+(\.\d+)?", token):
        return float(token)
    return token  # dates and datetimes compare as ISO strings


def instant(text: str) -> datetime:
    """A datetime as Salesforce writes it (2026-11-23T10:00:00.000+0000) or as SOQL takes it (...T10:00:00Z)."""
    text = text.replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", text):
        text = text[:-2] + ":" + text[-2:]
    return datetime.fromisoformat(text).astimezone(timezone.utc)


def _compare(op: str, left, right) -> bool:
    if op.upper() == "LIKE":
        pattern = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in str(right))
        return left is not None and re.fullmatch(pattern, str(left), re.I | re.S) is not None
    if isinstance(right, str) and DATETIME.match(right) and isinstance(left, str) and DATETIME.match(left):
        left, right = instant(left), instant(right)
    if op == "=":
        return left == right
    if op == "!=":
        return left != right
    if left is None or right is None:
        return False
    left, right = (str(left), str(right)) if isinstance(right, str) else (left, right)
    return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]


class _Parser:
    def __init__(self, text: str):
        self.tokens = TOKEN.findall(text)
        self.pos = 0
        self.fields: list[str] = []  # the fields the condition reads

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected and token.upper() != expected):
            raise ValueError(f"expected {expected or 'more'} at {token!r}")
        self.pos += 1
        return token

    def expression(self) -> Predicate:
        terms = [self.term()]
        while (self.peek() or "").upper() == "OR":
            self.take()
            terms.append(self.term())
        return lambda record: any(term(record) for term in terms)

    def term(self) -> Predicate:
        factors = [self.factor()]
        while (self.peek() or "").upper() == "AND":
            self.take()
            factors.append(self.factor())
        return lambda record: all(factor(record) for factor in factors)

    def factor(self) -> Predicate:
        if self.peek() == "(":
            self.take()
            inner = self.expression()
            self.take(")")
            return inner
        field = self.take()
        self.fields.append(field)
        negate = (self.peek() or "").upper() == "NOT"
        if negate:
            self.take()
        if (self.peek() or "").upper() == "IN":
            self.take()
            self.take("(")
            values = [_literal(self.take())]
            while self.peek() == ",":
                self.take()
                values.append(_literal(self.take()))
            self.take(")")
            return lambda record: (record.get(field) in values) != negate
        op, value = self.take(), _literal(self.take())
        return lambda record: _compare(op, record.get(field), value)


def _split_items(text: str) -> list[str]:
    items, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            items.append(current.strip())
            current = ""
        else:
            current += char
    return [*items, current.strip()]


def _date_function(name: str, value):
    if value is None:
        return None
    day = instant(value).date() if DATETIME.match(str(value)) else date.fromisoformat(str(value)[:10])
    if name == "DAY_ONLY":
        return day.isoformat()
    return {"CALENDAR_YEAR": day.year, "CALENDAR_QUARTER": (day.month - 1) // 3 + 1, "CALENDAR_MONTH": day.month,
            "DAY_IN_MONTH": day.day}[name]


class _Item:
    """One SELECT or GROUP BY item: a field, an aggregate function, or a date function of a field."""

    def __init__(self, text: str):
        match = ITEM.match(text.strip())
        if not match:
            raise ValueError(f"unsupported SELECT item: {text[:100]}")
        function, argument, field, self.alias = match.groups()
        self.function = function.upper() if function else None
        self.field = argument if function else field
        if self.function and self.function not in AGGREGATES | DATE_FUNCTIONS:
            raise ValueError(f"unknown function {function}")
        if self.function in DATE_FUNCTIONS and not self.field:
            raise ValueError(f"{function}() needs a field")
        self.expression = f"{self.function}({self.field})" if self.function else self.field

    @property
    def aggregate(self) -> bool:
        return self.function in AGGREGATES

    def value(self, record: dict):
        raw = record.get(self.field)
        return _date_function(self.function, raw) if self.function in DATE_FUNCTIONS else raw

    def fold(self, rows: list[dict], money: Money | None):
        if self.function == "COUNT":
            return len(rows) if not self.field else sum(1 for r in rows if r.get(self.field) is not None)
        values = [r.get(self.field) for r in rows if r.get(self.field) is not None]
        if self.function in ("SUM", "AVG") and money is not None:
            values = [money(r, self.field, r[self.field]) for r in rows if r.get(self.field) is not None]
        if not values:
            return None
        if self.function == "SUM":
            return float(sum(values))
        if self.function == "AVG":
            return float(sum(values)) / len(values)
        result = min(values) if self.function == "MIN" else max(values)
        return float(result) if isinstance(result, int) and not isinstance(result, bool) else result


def _aggregate(
    items: list[_Item], group_by: list[_Item], rows: list[dict], money: Money | None
) -> list[dict]:
    """AggregateResult records: one per group (one in all without GROUP BY, even over no rows)."""
    grouped = {g.expression.upper() for g in group_by}
    for item in items:
        if not item.aggregate and item.expression.upper() not in grouped:
            raise ValueError(f"Field must be grouped or aggregated: {item.expression}")
    groups: dict[tuple, list[dict]] = {}
    if not group_by:
        groups[()] = rows
    for row in rows if group_by else ():
        groups.setdefault(tuple(g.value(row) for g in group_by), []).append(row)
    names, unnamed = [], 0
    for item in items:
        if item.alias:
            names.append(item.alias)
        elif item.function:
            names.append(f"expr{unnamed}")
            unnamed += 1
        else:
            names.append(item.field)
    records = []
    for key, members in groups.items():
        values = dict(zip((g.expression.upper() for g in group_by), key))
        record = {"attributes": {"type": "AggregateResult"}}
        for name, item in zip(names, items):
            record[name] = item.fold(members, money) if item.aggregate else values[item.expression.upper()]
        records.append(record)
    return records


def run_query(
    soql: str,
    objects: dict[str, dict[str, dict]],
    known: dict[str, set[str]] | None = None,
    money: Money | None = None,
) -> list[dict]:
    """Records matching `soql`, with only the selected items, as the query resource returns them.

    With `known` (the org's fields per sObject), a field the org does not have is refused, as Salesforce does;
    `money` converts a currency field's value to the corporate currency in a multi-currency org's aggregates.
    """
    match = QUERY.match(soql)
    if not match:
        raise ValueError(f"unsupported SOQL: {soql[:200]}")
    items = [_Item(text) for text in _split_items(match.group(1))]
    sobject, where, group_text, limit = match.group(2), match.group(3), match.group(4), match.group(5)
    group_by = [_Item(text) for text in _split_items(group_text)] if group_text else []
    if any(g.aggregate or g.alias for g in group_by):
        raise ValueError("GROUP BY takes fields and date functions")
    predicate: Predicate = lambda record: True  # noqa: E731
    read = [i.field for i in items + group_by if i.field]
    if where:
        parser = _Parser(where)
        predicate = parser.expression()
        if parser.peek() is not None:
            raise ValueError(f"unexpected {parser.peek()!r} in WHERE")
        read += parser.fields
    unknown = [f for f in read if known is not None and f not in known.get(sobject, ())]
    if unknown:
        raise UnknownField(f"No such column '{unknown[0]}' on entity '{sobject}'")
    rows = [r for r in objects.get(sobject, {}).values() if predicate(r)]
    if group_by or any(i.aggregate for i in items):
        results = _aggregate(items, group_by, rows, money)
        return results[: int(limit)] if limit else results
    if any(i.function for i in items):
        raise ValueError("date functions need GROUP BY")
    rows = rows[: int(limit)] if limit else rows
    return [
        {"attributes": {"type": sobject, "url": f"/services/data/v59.0/sobjects/{sobject}/{r['Id']}"}}
        | {i.field: r.get(i.field) for i in items}
        for r in rows
    ]
