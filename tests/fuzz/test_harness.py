"""The fuzzing engine itself can fail: against a small aiohttp app on loopback whose routes each
break their OpenAPI document in one way, every class the service fuzz tests assert on is found —
and a route that keeps its document is clean."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from aiohttp import web

from .engine import Fuzzer
from .hostile import HOSTILE

_JSON = "application/json"


def _response(schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": "ok", "content": {_JSON: {"schema": schema}}}


_ID = {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}},
       "additionalProperties": False}
_STRICT_BODY = {"required": True, "content": {_JSON: {"schema": {
    "type": "object", "required": ["n"], "additionalProperties": False,
    "properties": {"n": {"type": "integer", "minimum": 1, "maximum": 9}}}}}}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "liar", "version": "1"},
    "paths": {
        "/ok": {"post": {"requestBody": _STRICT_BODY, "responses": {
            "201": _response(_ID), "400": _response({"type": "object"})}}},
        "/boom": {"get": {"responses": {"200": _response(_ID)}}},
        "/teapot": {"get": {"responses": {"200": _response(_ID)}}},
        "/wrong-shape": {"get": {"responses": {"200": _response(_ID)}}},
        "/plain": {"get": {"responses": {"200": _response(_ID)}}},
        "/lenient": {"post": {"requestBody": _STRICT_BODY, "responses": {
            "201": _response(_ID), "400": _response({"type": "object"})}}},
    },
}


async def _ok(request: web.Request) -> web.Response:
    try:
        body = await request.json()
    except ValueError:
        return web.json_response({"error": "json"}, status=400)
    valid = (isinstance(body, dict) and set(body) == {"n"} and type(body["n"]) is int
             and 1 <= body["n"] <= 9)
    if not valid:
        return web.json_response({"error": "invalid"}, status=400)
    return web.json_response({"id": "x"}, status=201)


async def _boom(request: web.Request) -> web.Response:
    return web.json_response({"error": "boom"}, status=500)


async def _teapot(request: web.Request) -> web.Response:
    return web.json_response({"id": "x"}, status=418)


async def _wrong_shape(request: web.Request) -> web.Response:
    return web.json_response({"id": 5})


async def _plain(request: web.Request) -> web.Response:
    return web.Response(text='{"id": "x"}')  # text/plain where the document says JSON


async def _lenient(request: web.Request) -> web.Response:
    return web.json_response({"id": "x"}, status=201)  # takes anything, as a careless handler


@pytest.fixture
def liar() -> Iterator[str]:
    app = web.Application()
    app.router.add_post("/ok", _ok)
    app.router.add_get("/boom", _boom)
    app.router.add_get("/teapot", _teapot)
    app.router.add_get("/wrong-shape", _wrong_shape)
    app.router.add_get("/plain", _plain)
    app.router.add_post("/lenient", _lenient)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, access_log=None)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.run_until_complete(runner.cleanup())
        loop.close()


def test_every_asserted_class_is_found(liar: str) -> None:
    fuzzer = Fuzzer(
        schema=schemathesis.openapi.from_dict(DOCUMENT),
        base_url=liar,
        headers={},
        seeded={},
        resolve=lambda case: None,
        hostile=HOSTILE,
    )
    report = fuzzer.run(examples=8)
    found: dict[str, set[str]] = {}
    for f in report.findings.values():
        found.setdefault(f.operation, set()).add(f.kind)
    assert "POST /ok" not in found, report.failures()
    assert report.ok("POST /ok") >= 1, report.table()  # positive cases do succeed
    assert "Server error" in found["GET /boom"], found
    assert "Undocumented status code" in found["GET /teapot"], found
    assert "Response violates schema" in found["GET /wrong-shape"], found
    assert any("Content-Type" in kind for kind in found["GET /plain"]), found
    lenient = found["POST /lenient"]
    assert "Schema-violating request accepted" in lenient, found
    assert {"hostile unknown_field accepted", "hostile deep_json accepted"} <= lenient, found
