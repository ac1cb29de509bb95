"""Request faults on demand, applied by the Stripe middleware after authentication and before
the idempotency layer replays anything (kinds and their effect: ``amci.testmode.faults``)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from amci.testmode import faults
from amci.testmode.auth import Account
from amci.testmode.errors import ApiError, RateLimitError, StripeError
from amci.testmode.idempotency import fingerprint
from amci.testmode.keys import (
    AFTER_COMMIT,
    BACKGROUND_ERRORS,
    CLOCK,
    CONTEXT,
    REQUEST_ID,
    SETTINGS,
    SHOULD_RETRY,
    STORE,
)
from amci.testmode.store import SavedResult
from amci.testmode.wire import decode_form, dumps

# docs.stripe.com/error-codes, lock_timeout and rate_limit.
LOCK_TIMEOUT_MESSAGE = (
    "This object cannot be accessed right now because another API request or Stripe process is"
    " currently accessing it. If you see this error intermittently, retry the request. If you"
    " see this error frequently and are making multiple concurrent requests to a single object,"
    " make your requests serially or at a lower rate.")
RATE_LIMIT_MESSAGE = ("Too many requests hit the API too quickly. We recommend an exponential"
                      " backoff of your requests.")


async def apply_fault(request: web.Request, acct: Account) -> web.StreamResponse | None:
    """A fault of this account matching the request (``amci.testmode.faults``), or one drawn
    by the background error rate. Returns a response to send instead of running the request
    (or raises the error to answer)."""
    app = request.app
    ctx = app[CONTEXT]
    fault = faults.take_request_fault(ctx, acct.id, request.method, request.path)
    kind = fault.kind if fault else None
    rng = app.get(BACKGROUND_ERRORS)
    if kind is None and rng is not None and rng.random() < app[SETTINGS].fault_error_rate:
        kind = "api_error"
    if kind is None:
        return None
    latency = (fault.latency_ms if fault and fault.latency_ms is not None else 0) / 1000
    if kind == "latency":
        await asyncio.sleep(latency)
        return None
    if kind == "rate_limit":
        # Stripe's SDKs do not retry rate-limit 429s: no Stripe-Should-Retry (UNVERIFIED).
        raise RateLimitError(RATE_LIMIT_MESSAGE, code="rate_limit")
    if kind == "lock_timeout":
        request[SHOULD_RETRY] = "true"  # the SDKs "retry 429s caused by lock timeouts"
        raise RateLimitError(LOCK_TIMEOUT_MESSAGE, code="lock_timeout")
    if kind in ("disconnect", "timeout"):
        waited = 0.0
        while kind == "timeout" and waited < latency:
            transport = request.transport
            if transport is None or transport.is_closing():
                break
            await asyncio.sleep(0.05)
            waited += 0.05
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=500)  # never reaches the client
    if kind == "api_error_after_commit":
        request[AFTER_COMMIT] = True
        return None
    # api_error: a 500 before any change, saved under the Idempotency-Key as Stripe saves 500s.
    err = internal_error(request)
    key = request.headers.get("Idempotency-Key") if request.method == "POST" else None
    if key is not None and len(key) <= 255:
        try:
            params = decode_form(await request.read())
        except StripeError:
            params = None
        store, now = app[STORE], app[CLOCK].now()
        if params is not None and store.saved_result(
                acct.id, key, now - app[SETTINGS].idempotency_ttl_seconds) is None:
            store.save_result(acct.id, key, SavedResult(
                now, fingerprint(request.method, request.path, params), err.status,
                dumps(err.body()), request[REQUEST_ID]))
    raise err


def internal_error(request: web.Request) -> ApiError:
    return ApiError("An unknown error occurred. Request id: " + request[REQUEST_ID])
