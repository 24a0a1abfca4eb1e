"""The SOQL the fake Salesforce understands: SELECT fields FROM object [WHERE ...] [LIMIT n].

WHERE takes =, !=, <, <=, >, >=, LIKE, IN (...), NOT IN (...), AND, OR and parentheses, with 'strings', numbers,
dates (2026-11-01), null, true and false: enough for every query Partnerbot issues.
"""

from __future__ import annotations

import re
from collections.abc import Callable

TOKEN = re.compile(r"\s*('(?:[^'\\]|\\.)*'|\(|\)|,|!=|<=|>=|=|<|>|[\w.\-:]+)", re.S)
QUERY = re.compile(r"^\s*SELECT\s+(.+?)\s+FROM\s+(\w+)(?:\s+WHERE\s+(.+?))?(?:\s+LIMIT\s+(\d+))?\s*$", re.I | re.S)
Predicate = Callable[[dict], bool]


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


def _compare(op: str, left, right) -> bool:
    if op.upper() == "LIKE":
        pattern = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in str(right))
        return left is not None and re.fullmatch(pattern, str(left), re.I | re.S) is not None
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


def run_query(soql: str, objects: dict[str, dict[str, dict]], known: dict[str, set[str]] | None = None) -> list[dict]:
    """Records matching `soql`, with only the selected fields, as the query resource returns them.

    With `known` (the org's fields per sObject), a field the org does not have is refused, as Salesforce does.
    """
    match = QUERY.match(soql)
    if not match:
        raise ValueError(f"unsupported SOQL: {soql[:200]}")
    fields = [f.strip() for f in match.group(1).split(",")]
    sobject, where, limit = match.group(2), match.group(3), match.group(4)
    predicate: Predicate = lambda record: True  # noqa: E731
    read = list(fields)
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
    rows = rows[: int(limit)] if limit else rows
    return [
        {"attributes": {"type": sobject, "url": f"/services/data/v59.0/sobjects/{sobject}/{r['Id']}"}}
        | {f: r.get(f) for f in fields}
        for r in rows
    ]
