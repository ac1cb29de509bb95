"""The test-mode server's aiohttp app: routes, the Stripe middleware, the clock test helper.

A request goes: Stripe middleware (Request-Id, auth → account, rate limit, Stripe-Version, error
rendering) → endpoint wrapper (idempotency, form decoding, one transaction) → resource function
(``amci.testmode.routes``).
"""

from __future__ import annotations

import json
import logging
import random
import re
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from amci import money
from amci.testmode import events, faults, timers
from amci.testmode.amounts import AmountPolicy
from amci.testmode.auth import Account, account_for
from amci.testmode.clock import Clock
from amci.testmode.delivery import Deliverer
from amci.testmode.errors import (
    ApiError,
    InvalidRequestError,
    RateLimitError,
    StripeError,
    UnrecognizedURL,
)
from amci.testmode.fault_injection import apply_fault, internal_error
from amci.testmode.idempotency import InFlight, check_key, fingerprint, mismatch
from amci.testmode.keys import (
    ACCOUNT,
    AFTER_COMMIT,
    BACKGROUND_ERRORS,
    CLOCK,
    CONTEXT,
    DELIVERER,
    IN_FLIGHT,
    RATE_LIMITER,
    REQUEST_ID,
    SETTINGS,
    SHOULD_RETRY,
    STORE,
)
from amci.testmode.pages import PAGE_ROUTE, page, public_base, submit, with_public_urls
from amci.testmode.queue import Queue
from amci.testmode.ratelimit import RateLimiter
from amci.testmode.resources.context import Context
from amci.testmode.routes import ROUTES, Endpoint
from amci.testmode.settings import TestmodeSettings
from amci.testmode.store import SavedResult, Store
from amci.testmode.wire import decode_form, dumps, new_id

log = logging.getLogger("amci.testmode")

# stripe-python 16.1.0 pins this version; answered when a request names none.
DEFAULT_API_VERSION = events.API_VERSION
_VERSION_RE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:\.[a-z_]+)?$")
MAX_BODY = 1024 * 1024
MAX_ADVANCE_SECONDS = 10 * 366 * 86400

FAULTS_PATH = "/_testmode/faults"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text, content_type="application/json")


def _error(exc: StripeError) -> web.Response:
    return _json(exc.status, dumps(exc.body()))


@web.middleware
async def stripe_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    rid = new_id("req", 14)
    request[REQUEST_ID] = rid
    deliverer = request.app.get(DELIVERER)
    if deliverer is None or not request.path.startswith("/v1/"):
        return await _stripe(request, handler, rid)
    deliverer.request_started()
    try:
        return await _stripe(request, handler, rid)
    finally:
        deliverer.request_finished()


async def _stripe(request: web.Request, handler: Handler, rid: str) -> web.StreamResponse:
    version = request.headers.get("Stripe-Version")
    try:
        v1 = request.path == "/v1" or request.path.startswith("/v1/")
        if v1 or request.path.startswith(FAULTS_PATH):
            _check_header_values(request)
            acct = account_for(request.headers.get("Authorization"))
            request[ACCOUNT] = acct
            limiter = request.app.get(RATE_LIMITER)
            if limiter is not None and not limiter.allow(acct.id):
                # Legacy body had code "rate_limit"; whether current 429s carry it is UNVERIFIED.
                raise RateLimitError(
                    "Request rate limit exceeded. You can learn more about rate limits here"
                    " https://stripe.com/docs/rate-limits.", code="rate_limit")
            if version is not None and not _VERSION_RE.match(version):
                bad = version[:60]
                version = None
                raise InvalidRequestError(f"Invalid Stripe API version: {bad}")
            if v1:
                early = await apply_fault(request, acct)
                if early is not None:
                    return early
        response = await handler(request)
    except StripeError as exc:
        response = _error(exc)
    except web.HTTPException as exc:
        # aiohttp's own refusals (e.g. 413 body too large) in Stripe's envelope.
        err = InvalidRequestError(f"{exc.reason}.", status=exc.status)
        response = _error(err)
    except Exception:
        log.exception("test-mode server bug on %s %s", request.method, request.path)
        response = _error(ApiError("An unknown error occurred. Request id: " + rid))
    response.headers["Request-Id"] = rid
    response.headers["Stripe-Version"] = version or DEFAULT_API_VERSION
    if SHOULD_RETRY in request:
        response.headers["Stripe-Should-Retry"] = request[SHOULD_RETRY]
    return response


def _check_header_values(request: web.Request) -> None:
    """HTTP header values are ASCII here: aiohttp hands other bytes over as lone surrogates
    (which SQLite can't bind: an ``Idempotency-Key`` of invalid UTF-8 was a 500). Refused with a
    400 naming the header, without echoing the value. Stripe's exact answer is UNVERIFIED."""
    for name, value in request.headers.items():
        if not value.isascii():
            raise InvalidRequestError(
                f"Invalid {name} header: header values must be ASCII characters.",
                param=name if name.lower() == "idempotency-key" else None)


async def _no_expect(request: web.Request) -> None:
    """Defer ``Expect: 100-continue`` to the endpoint, which answers it once the idempotency key
    is registered as in flight (HTTP lets a server decide before reading the body)."""
    return None


def _endpoint(fn: Endpoint) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        app = request.app
        acct = request[ACCOUNT]
        post = request.method == "POST"
        key = request.headers.get("Idempotency-Key") if post else None
        in_flight = app[IN_FLIGHT]
        if key is not None:
            check_key(key)
            in_flight.enter(acct.id, key)
        try:
            if request.headers.get("Expect", "").lower() == "100-continue":
                await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            if post:
                ctype = request.content_type
                if ctype == "application/json":
                    raise InvalidRequestError(
                        "Invalid request: the v1 API takes application/x-www-form-urlencoded"
                        " bodies (bracket notation for nesting), not JSON.")
                raw: bytes | str = await request.read()
            else:
                raw = request.query_string
            params = decode_form(raw)
            return _run(request, fn, acct, params, key)
        finally:
            if key is not None:
                in_flight.leave(acct.id, key)

    return handler


def _run(request: web.Request, fn: Endpoint, acct: Account, params: dict[str, object],
         key: str | None) -> web.Response:
    """Execute one resource function in one transaction, saving the idempotent result with it."""
    app = request.app
    store, settings, clock = app[STORE], app[SETTINGS], app[CLOCK]
    ctx = app[CONTEXT]
    # Whatever fell due runs first, so no request sees an overdue state.
    _, due_queued = timers.run_due(ctx)
    now = clock.now()
    fp = ""
    if key is not None:
        fp = fingerprint(request.method, request.path, params)
        saved = store.saved_result(acct.id, key, now - settings.idempotency_ttl_seconds)
        if saved is not None:
            if saved.fingerprint != fp:
                raise mismatch(key)
            resp = _json(saved.status, with_public_urls(saved.body, public_base(request)))
            resp.headers["Idempotent-Replayed"] = "true"
            resp.headers["Original-Request"] = saved.request_id
            resp.headers["Idempotency-Key"] = key
            return resp
    store.begin()
    try:
        status, body = 200, fn(ctx, acct, dict(request.match_info), params)
    except StripeError as exc:
        if not exc.stored:
            store.rollback()
            raise
        status, body = exc.status, exc.body()
    except BaseException:
        store.rollback()
        raise
    try:
        queued = events.record(ctx, events.Cause(request[REQUEST_ID], key))
    except BaseException:
        store.rollback()
        raise
    if request.get(AFTER_COMMIT):
        # The change and its events are committed; the client gets a 500, saved as the key's
        # result (Stripe: "the idempotency layer caches the result of POST mutations that
        # result in server errors").
        status, body = 500, internal_error(request).body()
    text = dumps(body)
    if key is not None:
        store.save_result(acct.id, key, SavedResult(now, fp, status, text, request[REQUEST_ID]))
        store.maybe_prune(now - settings.idempotency_ttl_seconds)
    store.commit()
    if queued or due_queued:
        app[DELIVERER].wake()
    resp = _json(status, with_public_urls(text, public_base(request)))
    if key is not None:
        resp.headers["Idempotency-Key"] = key
    return resp


async def _unrecognized(request: web.Request) -> web.StreamResponse:
    raise UnrecognizedURL(request.method, request.path)


# --- test helper: the clock ------------------------------------------------------------------


def _clock_body(clock: Clock) -> web.Response:
    return _json(200, dumps({"object": "testmode_clock", "now": clock.now()}))


async def clock_get(request: web.Request) -> web.StreamResponse:
    return _clock_body(request.app[CLOCK])


async def clock_advance(request: web.Request) -> web.StreamResponse:
    raw = await request.read()
    if request.content_type == "application/json":
        try:
            data = json.loads(raw or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise InvalidRequestError("Invalid request body: not valid JSON.") from None
        if not isinstance(data, dict):
            raise InvalidRequestError("Invalid request body: expected a JSON object.")
    else:
        data = decode_form(raw)
    unknown = sorted(set(data) - {"seconds"})
    if unknown:
        raise InvalidRequestError(f"Received unknown parameter: {unknown[0]}",
                                  code="parameter_unknown", param=unknown[0])
    seconds = data.get("seconds")
    if seconds is None:
        raise InvalidRequestError("Missing required param: seconds.", code="parameter_missing",
                                  param="seconds")
    if isinstance(seconds, str) and re.fullmatch(r"\d{1,12}", seconds):
        seconds = int(seconds)
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        raise InvalidRequestError(f"Invalid integer: {str(seconds)[:40]}",
                                  code="parameter_invalid_integer", param="seconds")
    if not 0 <= seconds <= MAX_ADVANCE_SECONDS:
        raise InvalidRequestError(
            f"seconds must be between 0 and {MAX_ADVANCE_SECONDS}.", param="seconds")
    app = request.app
    clock = app[CLOCK]
    clock.advance(seconds)
    app[STORE].set_meta("clock_now", str(clock.now()))
    # Everything that fell due runs before the advance answers: timers, then the deliveries
    # due (their attempts awaited).
    timers.run_due(app[CONTEXT])
    await app[DELIVERER].drain()
    return _clock_body(clock)


# --- the app -----------------------------------------------------------------------------------


def create_app(settings: TestmodeSettings, *, clock: Clock | None = None) -> web.Application:
    """The test-mode server. ``clock`` is injectable (tests pass a frozen one)."""
    try:
        settlement = money.currency(settings.settlement_currency)
    except money.MoneyError:
        raise ValueError(
            f"settlement_currency: unknown currency {settings.settlement_currency!r}") from None
    policy = AmountPolicy(settlement=settlement, fx=money.load_fx(settings.fx_rates_file))
    app = web.Application(middlewares=[stripe_middleware], client_max_size=MAX_BODY)
    app[SETTINGS] = settings
    app[CLOCK] = clock or Clock()
    app[IN_FLIGHT] = InFlight()
    if settings.rate_limit_per_second is not None:
        app[RATE_LIMITER] = RateLimiter(settings.rate_limit_per_second, app[CLOCK].time)
    if settings.fault_error_rate > 0:
        app[BACKGROUND_ERRORS] = random.Random(settings.fault_seed)

    async def store_ctx(app: web.Application) -> AsyncIterator[None]:
        store = Store(settings.db_path)
        app[STORE] = store
        clock = app[CLOCK]
        # The clock never runs backwards across a restart: due timers stay due.
        saved = store.meta("clock_now")
        if saved is not None and int(saved) > clock.now():
            clock.advance(int(saved) - clock.now())
        ctx = Context(store, clock, settings, policy, Queue(store.db))
        app[CONTEXT] = ctx
        timers.adopt_unscheduled_authorizations(ctx)
        deliverer = Deliverer(ctx)
        app[DELIVERER] = deliverer
        await deliverer.start()
        deliverer.wake()  # deliveries a previous run left pending
        yield
        await deliverer.stop()
        store.close()

    app.cleanup_ctx.append(store_ctx)
    for method, path, fn in ROUTES:
        app.router.add_route(method, path, _endpoint(fn), expect_handler=_no_expect)
    app.router.add_get("/_testmode/clock", clock_get)
    app.router.add_post("/_testmode/clock/advance", clock_advance)
    app.router.add_post(FAULTS_PATH, _endpoint(faults.create))
    app.router.add_get(FAULTS_PATH, _endpoint(faults.list_))
    app.router.add_delete(FAULTS_PATH + "/{id}", _endpoint(faults.delete))
    app.router.add_get(PAGE_ROUTE, page)
    app.router.add_post(PAGE_ROUTE, submit)
    app.router.add_route("*", "/{tail:.*}", _unrecognized)
    return app
