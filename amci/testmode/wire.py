"""Stripe's wire format: form bodies in bracket notation in, Stripe-shaped JSON out.

Stripe's v1 API takes ``application/x-www-form-urlencoded`` bodies where nesting is written with
brackets: ``card[number]=…``, ``metadata[order]=…``, ``expand[]=…`` or, as stripe-python 16 sends
lists, ``expand[0]=…`` (docs.stripe.com/api, "Request parameters"). Parameters are checked against
a per-endpoint spec; an unknown one gets Stripe's 400 ``parameter_unknown`` naming it in the same
bracket form ("Received unknown parameter: card[foo]").
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from amci.testmode import jsontext
from amci.testmode.errors import InvalidRequestError

_KEY_RE = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_SEG_RE = re.compile(r"\[([^\[\]]*)\]")
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_B62_OF_BYTE = bytes(ord(_B62[b % 62]) for b in range(256))
_B62_DROP = bytes(range(248, 256))


def new_id(prefix: str, length: int = 24) -> str:
    """``cus_…``-style identifier: Stripe's prefix and random base62 characters.

    Uniform over the 62 characters: random bytes below 248 (4 × 62) map to ``byte % 62`` and the
    8 values above are dropped (rejection sampling), all in ``bytes.translate``."""
    out = b""
    while len(out) < length:
        out += os.urandom(length + 8).translate(_B62_OF_BYTE, _B62_DROP)
    return prefix + "_" + out[:length].decode("ascii")


dumps = jsontext.dumps


def bad_body(message: str) -> InvalidRequestError:
    return InvalidRequestError(f"Invalid request body: {message}")


def decode_form(raw: bytes | str) -> dict[str, Any]:
    """Decode a form body or query string into nested dicts/lists (values stay strings)."""
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise bad_body("it is not valid UTF-8.") from None
    else:
        text = raw
    try:
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict", max_num_fields=5000)
    except (UnicodeDecodeError, ValueError) as exc:
        raise bad_body(f"it is not a valid form encoding ({type(exc).__name__}).") from None
    root: dict[str, Any] = {}
    for key, value in pairs:
        m = _KEY_RE.match(key)
        if m is None:
            raise bad_body(f"cannot parse the parameter name {key[:100]!r}.")
        path = [m.group(1), *_SEG_RE.findall(m.group(2))]
        _assign(root, path, value, key)
    return root


def _assign(node: Any, path: list[str], value: str, full: str) -> None:
    for i, seg in enumerate(path):
        last = i == len(path) - 1
        nxt_is_append = not last and path[i + 1] == ""
        if isinstance(node, list):
            if seg != "":
                raise bad_body(f"parameter {full[:100]!r} mixes array and hash forms.")
            if last:
                node.append(value)
                return
            child: Any = [] if nxt_is_append else {}
            node.append(child)
            node = child
            continue
        if seg == "":
            raise bad_body(f"parameter {full[:100]!r} mixes array and hash forms.")
        if last:
            if isinstance(node.get(seg), dict | list):
                raise bad_body(f"parameter {full[:100]!r} is given both as a value and a hash.")
            node[seg] = value
            return
        existing = node.get(seg)
        if existing is None:
            existing = [] if nxt_is_append else {}
            node[seg] = existing
        elif isinstance(existing, str):
            raise bad_body(f"parameter {full[:100]!r} is given both as a value and a hash.")
        node = existing


# --- parameter specs ---------------------------------------------------------------------------


class Spec:
    def coerce(self, value: Any, name: str) -> Any:
        raise NotImplementedError


@dataclass(frozen=True)
class Str(Spec):
    max_len: int = 5000

    def coerce(self, value: Any, name: str) -> Any:
        if not isinstance(value, str):
            raise InvalidRequestError(f"Invalid string: {name} must be a string", param=name)
        if value == "":
            return None  # Stripe: an empty string unsets the field
        if len(value) > self.max_len:
            raise InvalidRequestError(
                f"Invalid string: {value[:20]}...; must be at most {self.max_len} characters",
                param=name,
            )
        return value


@dataclass(frozen=True)
class Int(Spec):
    def coerce(self, value: Any, name: str) -> Any:
        if isinstance(value, str) and value == "":
            return None
        if not isinstance(value, str) or not re.fullmatch(r"-?\d{1,30}", value):
            shown = value if isinstance(value, str) else "object"
            raise InvalidRequestError(
                f"Invalid integer: {shown[:50]}", code="parameter_invalid_integer", param=name
            )
        return int(value)


@dataclass(frozen=True)
class Bool(Spec):
    def coerce(self, value: Any, name: str) -> Any:
        if value in ("true", "false"):
            return value == "true"
        if value == "":
            return None
        shown = value if isinstance(value, str) else "object"
        raise InvalidRequestError(f"Invalid boolean: {shown[:50]}", param=name)


@dataclass(frozen=True)
class Enum(Spec):
    values: tuple[str, ...]

    def coerce(self, value: Any, name: str) -> Any:
        if value == "":
            return None
        if value not in self.values:
            opts = ", ".join(self.values[:-1]) + (", or " if len(self.values) > 2 else " or ")
            opts += self.values[-1]
            raise InvalidRequestError(f"Invalid {name}: must be one of {opts}", param=name)
        return value


@dataclass(frozen=True)
class Metadata(Spec):
    """``metadata[key]=value``; an empty value deletes the key, ``metadata=`` clears all."""

    def coerce(self, value: Any, name: str) -> Any:
        if value == "":
            return {}
        if not isinstance(value, dict):
            raise InvalidRequestError("Invalid hash", param=name)
        if len(value) > 50:
            raise InvalidRequestError(
                "Invalid metadata: metadata cannot have more than 50 keys", param=name
            )
        out: dict[str, str | None] = {}
        for k, v in value.items():
            if not isinstance(v, str):
                raise InvalidRequestError("Invalid hash", param=f"{name}[{k}]")
            if len(k) > 40:
                raise InvalidRequestError(
                    "Invalid metadata: metadata keys must be at most 40 characters",
                    param=f"{name}[{k[:40]}]",
                )
            if len(v) > 500:
                raise InvalidRequestError(
                    "Invalid metadata: metadata values must be at most 500 characters",
                    param=f"{name}[{k}]",
                )
            out[k] = v or None
        return out


@dataclass(frozen=True)
class Obj(Spec):
    fields: Mapping[str, Spec]

    def coerce(self, value: Any, name: str) -> Any:
        if value == "":
            return None
        if not isinstance(value, dict):
            raise InvalidRequestError("Invalid object", param=name)
        return check(value, self.fields, prefix=name)


@dataclass(frozen=True)
class List(Spec):
    item: Spec

    def coerce(self, value: Any, name: str) -> Any:
        if value == "":
            return []
        if isinstance(value, dict):
            if not all(k.isdigit() for k in value):
                raise InvalidRequestError("Invalid array", param=name)
            value = [value[k] for k in sorted(value, key=int)]
        if not isinstance(value, list):
            raise InvalidRequestError("Invalid array", param=name)
        return [self.item.coerce(v, f"{name}[{i}]") for i, v in enumerate(value)]


def check(
    params: Mapping[str, Any], spec: Mapping[str, Spec], *, prefix: str = ""
) -> dict[str, Any]:
    """Validate and coerce ``params`` by ``spec``; unknown names are Stripe's parameter_unknown."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else key
        sub = spec.get(key)
        if sub is None:
            raise InvalidRequestError(
                f"Received unknown parameter: {name}", code="parameter_unknown", param=name
            )
        out[key] = sub.coerce(value, name)
    return out


def require(params: Mapping[str, Any], name: str) -> Any:
    value = params.get(name)
    if value is None:
        raise InvalidRequestError(
            f"Missing required param: {name}.", code="parameter_missing", param=name
        )
    return value


EXPAND = List(Str(max_len=200))
LIST_PARAMS: dict[str, Spec] = {
    "limit": Int(),
    "starting_after": Str(max_len=255),
    "ending_before": Str(max_len=255),
    "expand": EXPAND,
}


@dataclass(frozen=True)
class Created(Spec):
    """A list's ``created`` filter: an exact timestamp or a range hash (``created[gt]``,
    ``[gte]``, ``[lt]``, ``[lte]``), as docs.stripe.com/api (list endpoints) describes it.
    Normalized to range bounds."""

    def coerce(self, value: Any, name: str) -> Any:
        if isinstance(value, str):
            exact = Int().coerce(value, name)
            return None if exact is None else {"gte": exact, "lte": exact}
        if not isinstance(value, dict):
            raise InvalidRequestError("Invalid object", param=name)
        bounds = check(value, {op: Int() for op in ("gt", "gte", "lt", "lte")}, prefix=name)
        return {op: v for op, v in bounds.items() if v is not None}


CREATED = Created()
# List endpoints that Stripe documents a ``created`` filter for (all but PaymentMethods').
DATED_LIST_PARAMS: dict[str, Spec] = {**LIST_PARAMS, "created": CREATED}
