"""Reading requests and writing JSON answers, shared by every handler.

A body is read within the app's size limit (256 KiB, else 413), its nesting depth is bounded
*before* it is parsed (a deeply nested document would otherwise exhaust the parser's recursion),
it must decode as UTF-8 JSON whose strings hold no lone surrogates (``"\\ud800"`` cannot be
stored or sent on), and then it is validated once against its ``contract`` model.

Money-moving POSTs accept an ``Idempotency-Key`` header (1–255 printable ASCII characters, as
Stripe takes it): the same request sent again returns the first result with
``Idempotent-Replayed: true`` — or, if the first attempt is still pending because AMCI was down,
completes it under the key it was given when it was created.
"""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel

from billing_client import contract, keys
from billing_client.errors import InvalidRequest, invalid
from billing_client.usecases import audit
from billing_client.usecases.context import Context, Result

M = TypeVar("M", bound=BaseModel)

MAX_DEPTH = 16  # the deepest body of the contract is 3 levels; anything far deeper is refused
_SURROGATE = re.compile("[\ud800-\udfff]")
_PRINTABLE_ASCII = re.compile(r"^[\x20-\x7e]{1,255}$")


def usecases(request: web.Request) -> Context:
    return request.app[keys.USECASES]


async def audited(
    request: web.Request, action: str, object_type: str, object_id: str, detail: str = ""
) -> None:
    """An entry in the audit trail for what this API token did (the console records its
    administrators' actions the same way)."""
    actor = f"API token {request[keys.API_CLIENT]}"
    await audit.record(usecases(request), actor, action, object_type, object_id, detail)


def return_base(request: web.Request) -> str:
    """Where the customer's browser reaches this billing client: the address this request came
    to (behind a reverse proxy, forward the Host header)."""
    return f"{request.scheme}://{request.host}"


def json_response(
    body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response(body, status=status, headers=headers, dumps=_dumps)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def result_response(result: Result) -> web.Response:
    headers = {"Idempotent-Replayed": "true"} if result.replayed else None
    return json_response(result.body, result.status, headers)


async def read_body(request: web.Request, model: type[M], *, optional: bool = False) -> M:
    """The request's JSON body, validated against ``model`` (an empty optional body is ``{}``)."""
    return contract.parse(model, await _read_json(request, optional=optional))


async def _read_json(request: web.Request, *, optional: bool) -> Any:
    raw = await request.read() if request.can_read_body else b""
    if not raw.strip():
        if optional:
            return {}
        raise InvalidRequest("The request needs a JSON body.", code="parameter_missing")
    if not _depth_ok(raw):
        raise InvalidRequest(
            f"The request body is nested too deeply (at most {MAX_DEPTH} levels).",
            code="parameter_invalid",
        )
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        # ValueError also covers an integer literal beyond Python's int-conversion limit.
        raise InvalidRequest(
            "The request body is not valid JSON.", code="parameter_invalid"
        ) from None
    _check_text(body, "")
    return body


def _depth_ok(raw: bytes) -> bool:
    """Whether the JSON text nests at most ``MAX_DEPTH`` deep (brackets in strings don't count)."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH:
        return True
    depth, in_string, escaped = 0, False, False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > MAX_DEPTH:
                return False
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return True


def _check_text(value: Any, path: str) -> None:
    """Refuse strings (keys too) that are not valid Unicode: lone surrogates such as ``\\ud800``."""
    if isinstance(value, str):
        if _SURROGATE.search(value):
            raise invalid(
                path or "body",
                f"{path or 'The body'} must be valid Unicode text (no lone surrogates).",
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else key
            if _SURROGATE.search(key):
                raise invalid(
                    "body", "Field names must be valid Unicode text (no lone surrogates)."
                )
            _check_text(item, where)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_text(item, f"{path}.{i}" if path else str(i))


def idempotency_key(request: web.Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not _PRINTABLE_ASCII.match(key):
        raise invalid(
            "Idempotency-Key", "Idempotency-Key must be 1 to 255 printable ASCII characters."
        )
    return key
