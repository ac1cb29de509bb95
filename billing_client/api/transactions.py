"""Payments and their transactions: ``/api/customers/{id}/payments``,
``/api/customers/{id}/transactions`` and ``/api/transactions/{id}[/capture|/refunds|/void|/retry]``.
"""

from __future__ import annotations

from aiohttp import web

from billing_client.api.wire import (
    audited,
    idempotency_key,
    json_response,
    read_body,
    result_response,
    return_base,
    usecases,
)
from billing_client.contract import Capture, PaymentCreate, RefundCreate, Retry, Void
from billing_client.errors import PaymentRefused
from billing_client.usecases import follow_ups, payments, transactions
from billing_client.usecases.context import Result


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
    result = await follow_ups.capture(ctx, request.match_info["id"], body, key)
    await _audit_follow_up(request, "captured", result)
    return result_response(result)


async def refund(request: web.Request) -> web.Response:
    key = idempotency_key(request)
    body = await read_body(request, RefundCreate, optional=True)
    ctx = usecases(request)
    result = await follow_ups.refund(ctx, request.match_info["id"], body, key)
    await _audit_follow_up(request, "refunded", result)
    return result_response(result)


async def void(request: web.Request) -> web.Response:
    await read_body(request, Void, optional=True)  # nothing to give, but unknown fields refused
    txn_id = request.match_info["id"]
    try:
        result = await follow_ups.void(usecases(request), txn_id)
    except PaymentRefused as exc:
        # Every void is a new attempt (no Idempotency-Key), refused by Stripe: recorded as such.
        child = (exc.extra.get("transaction") or {}).get("id", "")
        await audited(request, "void refused", "transaction", txn_id, f"{child}: {exc.message}")
        raise
    await _audit_follow_up(request, "voided", result)
    return result_response(result)


async def _audit_follow_up(request: web.Request, action: str, result: Result) -> None:
    """A capture, refund or void that went through, once (a replay is not a second one)."""
    if result.replayed:
        return
    child = result.body
    await audited(
        request, action, "transaction", request.match_info["id"],
        f"{child['id']}: {child.get('amount') or ''} {child['currency']}".strip(),
    )


async def retry(request: web.Request) -> web.Response:
    body = await read_body(request, Retry, optional=True)
    return result_response(
        await transactions.retry(usecases(request), request.match_info["id"], body)
    )
