"""Reading requests and writing JSON answers, shared by every handler.

Money-moving POSTs accept an ``Idempotency-Key`` header (1–255 characters, as Stripe and AMCI
take it): the same request sent again returns the first result with
``Idempotent-Replayed: true`` — or, if the first attempt is still pending because AMCI was down,
completes it under the key it was given when it was created.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from billing_client import keys
from billing_client.errors import InvalidRequest, invalid
from billing_client.usecases.context import Context, Result


def usecases(request: web.Request) -> Context:
    return request.app[keys.USECASES]


def json_response(
    body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response(body, status=status, headers=headers, dumps=_dumps)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def result_response(result: Result) -> web.Response:
    headers = {"Idempotent-Replayed": "true"} if result.replayed else None
    return json_response(result.body, result.status, headers)


async def read_json(request: web.Request, *, optional: bool = False) -> Any:
    if not request.can_read_body:
        if optional:
            return {}
        raise InvalidRequest("The request needs a JSON body.", code="parameter_missing")
    raw = await request.read()
    if optional and not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest(
            "The request body is not valid JSON.", code="parameter_invalid"
        ) from None


def idempotency_key(request: web.Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not 1 <= len(key) <= 255:
        raise invalid("Idempotency-Key", "Idempotency-Key must be 1 to 255 characters long.")
    return key
