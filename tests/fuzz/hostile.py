"""Issue 7's hostile input classes, as alterations of a request about to be sent (requests'
keyword arguments). Each returns the altered request, or None when it does not apply to the case.
Every class must be refused: a 2xx answer to one is a failure of its own."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

AMOUNT_FIELDS = frozenset({"amount", "minimum_payment"})


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, (*path, i))
    else:
        yield path, value


def _set(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _set(value[head], rest, new)}
    copy = list(value)
    copy[head] = _set(copy[head], rest, new)
    return copy


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        value = value[p]
    return value


def _json_body(kwargs: dict[str, Any]) -> Any:
    return kwargs.get("json")


def _with_body(kwargs: dict[str, Any], body: Any) -> dict[str, Any]:
    return {**kwargs, "json": body}


def _with_raw(kwargs: dict[str, Any], raw: bytes, content_type: str = "application/json"
              ) -> dict[str, Any]:
    out = {k: v for k, v in kwargs.items() if k != "json"}
    headers = {k: v for k, v in dict(out.get("headers") or {}).items()
               if k.lower() != "content-type"}
    out["headers"] = {**headers, "Content-Type": content_type}
    out["data"] = raw
    return out


def _string_leaf(kwargs: dict[str, Any], pick: int, names: frozenset[str] | None = None
                 ) -> tuple[Any, tuple[Any, ...]] | None:
    """A string in the JSON body (one named in ``names``, if given), chosen by ``pick``."""
    body = _json_body(kwargs)
    leaves = [p for p, v in _leaves(body) if isinstance(v, str)
              and (names is None or (p and p[-1] in names))]
    if not leaves:
        return None
    return body, leaves[pick % len(leaves)]


def deep_json(kwargs: dict[str, Any], pick: int, case: Any) -> dict[str, Any] | None:
    """JSON nested deeper than Python's recursion limit, inside a body small enough for the
    services' body-size limits (so it is the depth that is tested, not the size)."""
    if not case.operation.body:
        return None
    depth = (1_500, 5_000, 12_000)[pick % 3]
    if isinstance(_json_body(kwargs), dict) and _json_body(kwargs):
        key = sorted(_json_body(kwargs))[pick % len(_json_body(kwargs))]
        rest = {k: v for k, v in _json_body(kwargs).items() if k != key}
        prefix = json.dumps(rest)[:-1] + (", " if rest else "")
        raw = f'{prefix}"{key}": ' + "[" * depth + "]" * depth + "}"
    else:
        raw = "[" * depth + "]" * depth
    return _with_raw(kwargs, raw.encode())


def long_number(kwargs: dict[str, Any], pick: int, case: Any) -> dict[str, Any] | None:
    """5,000 digits in an amount or a card number (past Python's int-conversion limit)."""
    found = _string_leaf(kwargs, pick, AMOUNT_FIELDS | {"number"})
    if found is None:
        return None
    body, path = found
    digits = "9" * 5_000 + ("" if path[-1] == "number" else ".00")
    return _with_body(kwargs, _set(body, path, digits))


def lone_surrogate(kwargs: dict[str, Any], pick: int, case: Any) -> dict[str, Any] | None:
    """A lone surrogate (\\ud800, escaped in the JSON) appended to one of the body's strings."""
    found = _string_leaf(kwargs, pick)
    if found is None:
        return None
    body, path = found
    value: str = _get(body, path)
    return _with_body(kwargs, _set(body, path, value + "\ud800"))


def unknown_field(kwargs: dict[str, Any], pick: int, case: Any) -> dict[str, Any] | None:
    """A misspelled or invented field (``captrue`` charged a card that should have been only
    authorized)."""
    body = _json_body(kwargs)
    if not isinstance(body, dict):
        return None
    name = ("captrue", "amount_extra", "metadata_", "customer_id")[pick % 4]
    if name in body:
        return None
    return _with_body(kwargs, {**body, name: False})


def non_ascii_digits(kwargs: dict[str, Any], pick: int, case: Any) -> dict[str, Any] | None:
    """An amount in Arabic-Indic digits ("١٠.٠٠" was charged as 10.00)."""
    found = _string_leaf(kwargs, pick, AMOUNT_FIELDS)
    if found is None:
        return None
    body, path = found
    arabic = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
    value: str = _get(body, path)
    if not value.isascii() or not any(c.isdigit() for c in value):
        return None
    return _with_body(kwargs, _set(body, path, value.translate(arabic)))


def bad_header_bytes(kwargs: dict[str, Any], pick: int, case: Any) -> dict[str, Any] | None:
    """An ``Idempotency-Key`` of bytes that are not UTF-8, where the operation takes one."""
    declared = {p.name.lower() for p in case.operation.headers}
    if "idempotency-key" not in declared:
        return None
    headers = dict(kwargs.get("headers") or {})
    headers["Idempotency-Key"] = (b"\xff\xfe", b"key-\xc3\x28", b"\xed\xa0\x80")[pick % 3]
    return {**kwargs, "headers": headers}


def text_plain(kwargs: dict[str, Any], pick: int, case: Any) -> dict[str, Any] | None:
    """The JSON body sent as ``text/plain`` (what a web page can POST cross-site)."""
    if kwargs["method"] in ("GET", "HEAD") or _json_body(kwargs) is None:
        return None
    return _with_raw(kwargs, json.dumps(_json_body(kwargs)).encode(), "text/plain")


@dataclass(frozen=True)
class Hostile:
    name: str
    mutate: Callable[[dict[str, Any], int, Any], dict[str, Any] | None]


# Both services: "Bad input gets a clear 4xx, never a 500; unknown fields are refused"; amounts are
# ASCII digits only; header values must be ASCII.
HOSTILE = (
    Hostile("deep_json", deep_json),
    Hostile("long_number", long_number),
    Hostile("lone_surrogate", lone_surrogate),
    Hostile("unknown_field", unknown_field),
    Hostile("non_ascii_digits", non_ascii_digits),
    Hostile("bad_idempotency_key_bytes", bad_header_bytes),
)
# The billing client's /api: state-changing requests must be application/json (415 otherwise).
JSON_ONLY = Hostile("json_as_text_plain", text_plain)
