"""``/api/customers``."""

from __future__ import annotations

from aiohttp import web

from billing_client.api.wire import json_response, read_body, usecases
from billing_client.contract import CustomerCreate, CustomerUpdate
from billing_client.usecases import customers


async def create(request: web.Request) -> web.Response:
    body = await read_body(request, CustomerCreate)
    return json_response(await customers.create(usecases(request), body), 201)


async def list_all(request: web.Request) -> web.Response:
    return json_response(await customers.list_all(usecases(request)))


async def get(request: web.Request) -> web.Response:
    return json_response(await customers.get(usecases(request), request.match_info["id"]))


async def update(request: web.Request) -> web.Response:
    body = await read_body(request, CustomerUpdate)
    return json_response(await customers.update(usecases(request), request.match_info["id"], body))
