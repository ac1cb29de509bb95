"""``/api/customers``."""

from __future__ import annotations

from aiohttp import web

from billing_client.api.wire import audited, json_response, read_body, usecases
from billing_client.contract import CustomerCreate, CustomerUpdate
from billing_client.usecases import customers


async def create(request: web.Request) -> web.Response:
    body = await read_body(request, CustomerCreate)
    created = await customers.create(usecases(request), body)
    await audited(request, "created", "customer", created["id"], f"name {created['name']!r}")
    return json_response(created, 201)


async def list_all(request: web.Request) -> web.Response:
    return json_response(await customers.list_all(usecases(request)))


async def get(request: web.Request) -> web.Response:
    return json_response(await customers.get(usecases(request), request.match_info["id"]))


async def update(request: web.Request) -> web.Response:
    body = await read_body(request, CustomerUpdate)
    customer_id = request.match_info["id"]
    updated = await customers.update(usecases(request), customer_id, body)
    fields = ", ".join(sorted(body.model_fields_set))
    await audited(request, "changed", "customer", customer_id, fields)
    return json_response(updated)
