"""``/api/customers/{id}/cards``."""

from __future__ import annotations

from aiohttp import web

from billing_client.api.wire import (
    idempotency_key,
    json_response,
    read_body,
    result_response,
    return_base,
    usecases,
)
from billing_client.contract import CardSave
from billing_client.usecases import cards


async def add(request: web.Request) -> web.Response:
    key = idempotency_key(request)
    body = await read_body(request, CardSave)
    return result_response(await cards.add(
        usecases(request), request.match_info["id"], body, key, return_base(request)
    ))


async def list_all(request: web.Request) -> web.Response:
    return json_response(await cards.list_all(usecases(request), request.match_info["id"]))


async def delete(request: web.Request) -> web.Response:
    customer, card = request.match_info["id"], request.match_info["card_id"]
    return json_response(await cards.delete(usecases(request), customer, card))
