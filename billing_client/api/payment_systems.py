"""``/api/payment-systems``."""

from __future__ import annotations

from aiohttp import web

from billing_client.api.wire import audited, json_response, read_body, usecases
from billing_client.contract import PaymentSystemCreate, PaymentSystemUpdate
from billing_client.usecases import payment_systems


async def create(request: web.Request) -> web.Response:
    body = await read_body(request, PaymentSystemCreate)
    created = await payment_systems.create(usecases(request), body)
    await audited(request, "created", "payment_system", created["id"], f"name {created['name']!r}")
    return json_response(created, 201)


async def list_all(request: web.Request) -> web.Response:
    return json_response(await payment_systems.list_all(usecases(request)))


async def get(request: web.Request) -> web.Response:
    return json_response(await payment_systems.get(usecases(request), request.match_info["id"]))


async def update(request: web.Request) -> web.Response:
    body = await read_body(request, PaymentSystemUpdate)
    ps_id = request.match_info["id"]
    updated = await payment_systems.update(usecases(request), ps_id, body)
    # Which fields were given, never a secret's value.
    fields = ", ".join(sorted(body.model_fields_set))
    await audited(request, "changed", "payment_system", ps_id, fields)
    return json_response(updated)


async def delete(request: web.Request) -> web.Response:
    deleted = await payment_systems.delete(usecases(request), request.match_info["id"])
    await audited(request, "deleted", "payment_system", deleted["id"])
    return json_response(deleted)
