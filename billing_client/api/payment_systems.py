"""``/api/payment-systems``."""

from __future__ import annotations

from aiohttp import web

from billing_client.api.wire import json_response, read_body, usecases
from billing_client.contract import PaymentSystemCreate, PaymentSystemUpdate
from billing_client.usecases import payment_systems


async def create(request: web.Request) -> web.Response:
    body = await read_body(request, PaymentSystemCreate)
    return json_response(await payment_systems.create(usecases(request), body), 201)


async def list_all(request: web.Request) -> web.Response:
    return json_response(await payment_systems.list_all(usecases(request)))


async def get(request: web.Request) -> web.Response:
    return json_response(await payment_systems.get(usecases(request), request.match_info["id"]))


async def update(request: web.Request) -> web.Response:
    body = await read_body(request, PaymentSystemUpdate)
    return json_response(
        await payment_systems.update(usecases(request), request.match_info["id"], body)
    )


async def delete(request: web.Request) -> web.Response:
    return json_response(await payment_systems.delete(usecases(request), request.match_info["id"]))
