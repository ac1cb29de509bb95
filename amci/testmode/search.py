"""Stripe's Search Query Language, as data and pure functions (docs.stripe.com/search).

A query is up to 10 clauses ``field operator value`` joined by spaces or ``AND`` (the default) or
by ``OR`` (case-insensitive; AND and OR "are mutually exclusive"); ``-`` negates a clause; no
parentheses. Operators: ``:`` exact match on every field, ``~`` substring on string fields (at
least 3 characters), ``>``, ``<``, ``>=``, ``<=`` on numeric fields. String values are quoted
(``"…"`` or ``'…'``, ``\\"`` escapes); numbers may be unquoted. ``null`` tests absence
(``-metadata["k"]:null`` = has the key). "Using an unsupported operator, such as specifying
greater than (>) on a string, returns an error": every refusal here is a 400 naming ``query``
(Stripe's exact wording for these errors is UNVERIFIED).

Field types (docs.stripe.com/search#supported-query-fields-for-each-resource): *token* fields
match exactly (case-insensitive), *string* fields match word sequences ("an exact match on a
string type returns any record where that record contains all of the words from the query in the
same order") and substrings, *numeric* fields compare.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from amci.testmode.errors import InvalidRequestError

Json = dict[str, Any]

MAX_CLAUSES = 10
MIN_SUBSTRING = 3
OPERATORS = (">=", "<=", ":", "~", ">", "<")
NUMERIC_OPS = frozenset({">", "<", ">=", "<="})


@dataclass(frozen=True, slots=True)
class Field:
    type: str  # "token" | "string" | "numeric"
    get: Callable[[Json], Any]


def _path(dotted: str) -> Callable[[Json], Any]:
    keys = dotted.split(".")

    def get(obj: Json) -> Any:
        node: Any = obj
        for k in keys:
            if not isinstance(node, dict):
                return None
            node = node.get(k)
        return node

    return get


def _refunded(charge: Json) -> Any:
    # 'refunded:"true" filters for fully-refunded charges, refunded:"false" filters for
    # partially-refunded charges, and refunded:null filters for non-refunded charges.'
    if charge.get("refunded"):
        return "true"
    if charge.get("amount_refunded"):
        return "false"
    return None


def _disputed(charge: Json) -> Any:
    # "The disputed field accepts only the tokens "true" and "false"".
    return "true" if charge.get("disputed") else "false"


def _f(kind: str, path: str) -> Field:
    return Field(kind, _path(path))


# Query fields per resource. Customers and PaymentIntents: docs.stripe.com/search
# #query-fields-for-customers / #query-fields-for-payment-intents. Charges:
# #query-fields-for-charges, with SOURCE = card (the only payment method type simulated here);
# the charge table is UNVERIFIED beyond the docs' examples (last4, metadata, currency, amount).
RESOURCE_FIELDS: Mapping[str, Mapping[str, Field]] = {
    "customers": {
        "created": _f("numeric", "created"),
        "email": _f("string", "email"),
        "name": _f("string", "name"),
        "phone": _f("string", "phone"),
    },
    "payment_intents": {
        "amount": _f("numeric", "amount"),
        "created": _f("numeric", "created"),
        "currency": _f("token", "currency"),
        "customer": _f("token", "customer"),
        "status": _f("token", "status"),
    },
    "charges": {
        "amount": _f("numeric", "amount"),
        "billing_details.address.postal_code": _f(
            "string", "billing_details.address.postal_code"),
        "created": _f("numeric", "created"),
        "currency": _f("token", "currency"),
        "customer": _f("token", "customer"),
        "disputed": Field("token", _disputed),
        "payment_method_details.card.brand": _f("token", "payment_method_details.card.brand"),
        "payment_method_details.card.exp_month": _f(
            "token", "payment_method_details.card.exp_month"),
        "payment_method_details.card.exp_year": _f(
            "token", "payment_method_details.card.exp_year"),
        "payment_method_details.card.fingerprint": _f(
            "token", "payment_method_details.card.fingerprint"),
        "payment_method_details.card.last4": _f("token", "payment_method_details.card.last4"),
        "refunded": Field("token", _refunded),
        "status": _f("token", "status"),
    },
}


@dataclass(frozen=True, slots=True)
class Clause:
    field: str
    op: str
    value: str | int | None  # None is ``null``
    negated: bool = False
    metadata_key: str | None = None


@dataclass(frozen=True, slots=True)
class Query:
    clauses: tuple[Clause, ...]
    any_of: bool = False  # OR instead of AND


def _error(message: str) -> InvalidRequestError:
    return InvalidRequestError(message, param="query")


_FIELD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_BARE_RE = re.compile(r"[^\s\"']+")
_INT_RE = re.compile(r"-?\d{1,18}")


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def skip_ws(self) -> bool:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1
        return self.pos > start

    def done(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self, n: int = 1) -> str:
        return self.text[self.pos:self.pos + n]

    def match(self, pattern: re.Pattern[str]) -> str | None:
        m = pattern.match(self.text, self.pos)
        if m is None:
            return None
        self.pos = m.end()
        return m.group(0)

    def quoted(self) -> str:
        quote = self.text[self.pos]
        self.pos += 1
        out = []
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch == "\\" and self.pos + 1 < len(self.text):
                out.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            if ch == quote:
                self.pos += 1
                return "".join(out)
            out.append(ch)
            self.pos += 1
        raise _error(f"Invalid query: unterminated quoted value at position {self.pos}.")


def _parse_clause(sc: _Scanner, fields: Mapping[str, Field], resource: str) -> Clause:
    negated = False
    if sc.peek() == "-":
        negated = True
        sc.pos += 1
    if sc.peek() in ("(", ")"):
        raise _error("Invalid query: parentheses are not supported by the search query"
                     " language.")
    start = sc.pos
    name = sc.match(_FIELD_RE)
    if name is None:
        raise _error(f"Invalid query: expected a field name at position {start}.")
    metadata_key = None
    if name == "metadata":
        if sc.peek() != "[" or sc.peek(2)[1:] not in ("\"", "'"):
            raise _error('Invalid query: metadata is queried as metadata["key"].')
        sc.pos += 1
        metadata_key = sc.quoted()
        if sc.peek() != "]":
            raise _error('Invalid query: metadata is queried as metadata["key"].')
        sc.pos += 1
    elif name not in fields:
        raise _error(
            f"Field `{name}` is an unsupported search field for resource `{resource}`. See"
            f" https://stripe.com/docs/search#query-fields-for-{resource.replace('_', '-')}"
            " for a list of supported fields.")
    op = next((o for o in OPERATORS if sc.text.startswith(o, sc.pos)), None)
    if op is None:
        shown = sc.peek(2) or "the end of the query"
        raise _error(f"Invalid query: expected an operator (:, ~, >, <, >=, <=) after `{name}`,"
                     f" found {shown!r}.")
    sc.pos += len(op)
    kind = "token" if metadata_key is not None else fields[name].type
    value: str | int | None
    if sc.peek() in ("\"", "'"):
        value = sc.quoted()
        if kind == "numeric":
            if not _INT_RE.fullmatch(value):
                raise _error(f"Invalid query: `{name}` is numeric; {value[:40]!r} is not a"
                             " number.")
            value = int(value)
    else:
        bare = sc.match(_BARE_RE)
        if bare is None:
            raise _error(f"Invalid query: missing value after `{name}{op}`.")
        if bare.lower() == "null":
            value = None
        elif _INT_RE.fullmatch(bare):
            # "Quotation marks are optional for numeric values."
            value = int(bare) if kind == "numeric" else bare
        else:
            raise _error(f"Invalid query: the value {bare[:40]!r} of `{name}` must be quoted"
                         " (string values need quotation marks).")
    if value is None and op != ":":
        raise _error(f"Invalid query: null can only be used with `:` (`{name}{op}null`).")
    if op == "~":
        if kind != "string":
            raise _error(f"Invalid query: `{name}` does not support substring matching (~).")
        if not isinstance(value, str) or len(value) < MIN_SUBSTRING:
            raise _error(f"Invalid query: a substring match (~) on `{name}` needs at least"
                         f" {MIN_SUBSTRING} characters.")
    if op in NUMERIC_OPS and kind != "numeric":
        raise _error(f"Invalid query: `{name}` does not support the comparison operator {op}.")
    if kind == "numeric" and isinstance(value, str):
        raise _error(f"Invalid query: `{name}` is numeric; {value[:40]!r} is not a number.")
    return Clause(field=name, op=op, value=value, negated=negated, metadata_key=metadata_key)


def parse(text: str, resource: str) -> Query:
    """Parse a search query for ``resource`` (``customers``, ``payment_intents``, ``charges``)."""
    fields = RESOURCE_FIELDS[resource]
    sc = _Scanner(text)
    sc.skip_ws()
    if sc.done():
        raise _error("Invalid query: the query is empty.")
    clauses: list[Clause] = []
    joins: set[str] = set()
    while True:
        clauses.append(_parse_clause(sc, fields, resource))
        if len(clauses) > MAX_CLAUSES:
            raise _error(f"Invalid query: a query can have at most {MAX_CLAUSES} clauses.")
        had_ws = sc.skip_ws()
        if sc.done():
            break
        if not had_ws:
            raise _error(f"Invalid query: unexpected {sc.peek()!r} at position {sc.pos}.")
        word = re.match(r"(AND|OR)(?=\s|$)", sc.text[sc.pos:], re.IGNORECASE)
        if word is not None:
            joins.add(word.group(1).upper())
            sc.pos += len(word.group(1))
            if not sc.skip_ws() or sc.done():
                raise _error("Invalid query: a clause must follow AND/OR.")
        else:
            joins.add("AND")
        if len(joins) > 1:
            raise _error("Invalid query: AND and OR cannot be combined in one query.")
    return Query(tuple(clauses), any_of=joins == {"OR"})


def _words(text: str) -> list[str]:
    return text.lower().split()


def _clause_matches(clause: Clause, obj: Json, fields: Mapping[str, Field]) -> bool:
    if clause.metadata_key is not None:
        actual: Any = (obj.get("metadata") or {}).get(clause.metadata_key)
        kind = "token"
    else:
        field = fields[clause.field]
        actual, kind = field.get(obj), field.type
    want = clause.value
    if want is None:
        return actual is None
    if actual is None:
        return False
    if kind == "numeric":
        assert isinstance(want, int)
        if isinstance(actual, bool) or not isinstance(actual, int):
            return False
        return {":": actual == want, ">": actual > want, "<": actual < want,
                ">=": actual >= want, "<=": actual <= want}[clause.op]
    have = str(actual).lower()
    needle = str(want).lower()
    if clause.op == "~":
        return needle in have
    if kind == "token":
        return have == needle
    words, query = _words(have), _words(needle)
    if not query:
        return have == needle
    return any(words[i:i + len(query)] == query for i in range(len(words) - len(query) + 1))


def matches(query: Query, obj: Json, resource: str) -> bool:
    fields = RESOURCE_FIELDS[resource]
    results = (_clause_matches(c, obj, fields) != c.negated for c in query.clauses)
    return any(results) if query.any_of else all(results)


# --- pagination -----------------------------------------------------------------------------
# Search pages by an opaque cursor: the response's ``next_page`` is sent back as ``page`` ("Don't
# include this parameter on the first call"). Here it is the position of the last object returned.


def encode_page(position: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([position]).encode()).decode()


def decode_page(page: str) -> int:
    try:
        value = json.loads(base64.urlsafe_b64decode(page.encode("ascii")))
    except (ValueError, UnicodeError):
        value = None
    if not (isinstance(value, list) and len(value) == 1 and isinstance(value[0], int)
            and not isinstance(value[0], bool)):
        # UNVERIFIED: Stripe's wording for a malformed page cursor.
        raise InvalidRequestError(f"Invalid page: {page[:60]}", param="page")
    return int(value[0])
