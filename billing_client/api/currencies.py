"""``/api/currencies``."""

from __future__ import annotations

from aiohttp import web

from billing_client.api.wire import audited, json_response, read_body, usecases
from billing_client.contract import CurrencyAssignment
from billing_client.usecases import currencies


async def list_all(request: web.Request) -> web.Response:
    return json_response(await currencies.list_all(usecases(request)))


async def put(request: web.Request) -> web.Response:
    body = await read_body(request, CurrencyAssignment)
    saved = await currencies.put(usecases(request), request.match_info["code"], body)
    await audited(
        request, "changed", "currency", saved["code"],
        f"payment system {saved['payment_system']}, minimum payment "
        f"{saved['minimum_payment_display']}",
    )
    return json_response(saved)


async def get(request: web.Request) -> web.Response:
    return json_response(await currencies.get(usecases(request), request.match_info["code"]))
