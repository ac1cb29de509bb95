"""Every test-mode response checked against Stripe's own schemas (``data/stripe-schemas.json``,
trimmed from Stripe's OpenAPI description and current fixtures; its ``source`` field says which).

``problems(body)`` returns what is wrong with one JSON response body (empty when it is Stripe's
shape); ``ShapeRecorder`` is an aiohttp middleware that checks every response an app sends, so the
test-mode fixtures can fail a test whose responses drift from Stripe's shapes.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from functools import cache
from pathlib import Path
from typing import Any

from aiohttp import web
from jsonschema import Draft202012Validator

SCHEMAS = Path(__file__).with_name("data") / "stripe-schemas.json"
# The test mode's own helper objects (not Stripe's API): documented in docs/testmode.md.
OWN_OBJECTS = frozenset({"testmode_clock", "test_helpers.fault"})
LIST_KEYS = {"list": {"object", "data", "has_more", "url"},
             "search_result": {"object", "data", "has_more", "url", "next_page"}}


@cache
def _document() -> dict[str, Any]:
    return json.loads(SCHEMAS.read_text())  # type: ignore[no-any-return]


@cache
def validator(name: str) -> Draft202012Validator:
    doc = _document()
    return Draft202012Validator({"$defs": doc["$defs"], "$ref": f"#/$defs/{name}"})


def _flatten(errors: Any) -> list[Any]:
    """Reach into ``anyOf`` (Stripe's nullable and expandable fields) for the real mismatch."""
    out = []
    for e in errors:
        inner = [c for c in e.context or ()
                 if not (c.validator == "type" and c.validator_value in ("null", "string"))]
        out.extend(_flatten(inner) if inner else [e])
    return out


def _schema_name(obj: dict[str, Any]) -> str | None:
    kind = obj.get("object")
    if kind in ("customer", "webhook_endpoint") and obj.get("deleted"):
        return f"deleted_{kind}"
    if isinstance(kind, str) and kind in _document()["$defs"]:
        return kind
    return None


def problems(body: Any, where: str = "") -> list[str]:
    if not isinstance(body, dict):
        return [f"{where}: not a JSON object"]
    if "error" in body:
        return [f"{where} error{e.json_path[1:]}: {e.message}"
                for e in _flatten(validator("error").iter_errors(body))]
    kind = body.get("object")
    if kind in OWN_OBJECTS:
        return []
    if kind in LIST_KEYS:
        out = []
        keys = set(body) - {"total_count"} if kind == "search_result" else set(body)
        if keys != LIST_KEYS[kind]:
            out.append(f"{where}: {kind} has keys {sorted(body)}, Stripe's are"
                       f" {sorted(LIST_KEYS[kind])}")
        if not isinstance(body.get("has_more"), bool) or not isinstance(body.get("url"), str):
            out.append(f"{where}: {kind} has_more/url of the wrong type")
        for i, item in enumerate(body.get("data") or ()):
            out.extend(problems(item, f"{where}.data[{i}]"))
        return out
    name = _schema_name(body)
    if name is None:
        return [f"{where}: unknown object {kind!r}"]
    found = [f"{where} {name}{e.json_path[1:]}: {e.message}"
             for e in _flatten(validator(name).iter_errors(body))]
    if name == "event" and isinstance(body.get("data"), dict):
        # An event's data.object is the resource "same as retrieving the same object".
        found.extend(problems(body["data"].get("object"), f"{where} event.data.object"))
    return found


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ShapeRecorder:
    """Middleware (put it first): checks every JSON body the app answers with."""

    def __init__(self) -> None:
        self.checked = 0
        self.failures: list[str] = []

    def attach(self, app: web.Application) -> web.Application:
        """Check ``app``'s responses too (tests that build their own test-mode app)."""
        app.middlewares.insert(0, self.middleware)
        return app

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if (isinstance(response, web.Response) and response.content_type == "application/json"
                and response.body is not None and request.path.startswith("/")):
            raw = response.body
            assert isinstance(raw, bytes | bytearray)
            self.checked += 1
            found = problems(json.loads(raw), f"{request.method} {request.path}")
            self.failures.extend(found[:5])
        return response
