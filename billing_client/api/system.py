"""Service routes outside ``/api``: health, Prometheus metrics, the OpenAPI document."""

from __future__ import annotations

from aiohttp import web

from billing_client import keys
from billing_client.api.wire import json_response


async def healthz(request: web.Request) -> web.Response:
    ok = await request.app[keys.STORAGE].ping()
    return json_response(
        {"status": "ok" if ok else "degraded", "service": "billing-client"}, 200 if ok else 503
    )


async def metrics(request: web.Request) -> web.Response:
    body = request.app[keys.METRICS].render()
    return web.Response(
        body=body, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"}
    )


async def openapi(request: web.Request) -> web.Response:
    return web.Response(body=request.app[keys.OPENAPI], content_type="application/json")
