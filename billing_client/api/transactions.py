"""Payments and their transactions: ``/api/customers/{id}/payments``,
``/api/customers/{id}/transactions`` and ``/api/transactions/{id}[/capture|/refunds|/void|/retry]``.
"""

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
from billing_client.contract import Capture, PaymentCreate, RefundCreate, Retry, Void
from billing_client.usecases import follow_ups, payments, transactions


async def pay(request: web.Request) -> web.Response:
    key = idempotency_key(request)
    body = await read_body(request, PaymentCreate)
    return result_response(
        await payments.pay(
            usecases(request), request.match_info["id"], body, key, return_base(request)
        )
    )


async def list_for_customer(request: web.Request) -> web.Response:
    ctx = usecases(request)
    return json_response(await transactions.list_for_customer(ctx, request.match_info["id"]))


async def get(request: web.Request) -> web.Response:
    return json_response(await transactions.get(usecases(request), request.match_info["id"]))


async def capture(request: web.Request) -> web.Response:
    key = idempotency_key(request)
    body = await read_body(request, Capture, optional=True)
    ctx = usecases(request)
    return result_response(await follow_ups.capture(ctx, request.match_info["id"], body, key))


async def refund(request: web.Request) -> web.Response:
    key = idempotency_key(request)
    body = await read_body(request, RefundCreate, optional=True)
    ctx = usecases(request)
    return result_response(await follow_ups.refund(ctx, request.match_info["id"], body, key))


async def void(request: web.Request) -> web.Response:
    await read_body(request, Void, optional=True)  # nothing to give, but unknown fields refused
    return result_response(await follow_ups.void(usecases(request), request.match_info["id"]))


async def retry(request: web.Request) -> web.Response:
    body = await read_body(request, Retry, optional=True)
    return result_response(
        await transactions.retry(usecases(request), request.match_info["id"], body)
    )
