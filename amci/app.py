"""``create_app(settings, *, …)`` → the AMCI proxy as an aiohttp application.

Resources, each opened and closed in one ``cleanup_ctx`` generator, in order:
store (SQLite or PostgreSQL, by URL) → HTTP session → embedded Stripe test-mode server
(unless ``test_api_base`` is configured) → relay (one ``stripe.StripeClient`` per mode on that
session; rate limits in process, or shared through PostgreSQL) → idempotency pruner.

One middleware does the request id, the access log line, the request metrics and the error
envelope; ``/v1`` routes are authenticated there too (``auth.authenticate``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web

from amci import auth, contract, handlers, keys, logs, money
from amci.errors import AmciError, CardInvalid, PolicyRefusal, parameter_invalid
from amci.limiter import Limiter, LocalLimits, RateLimits, SharedLimits
from amci.logs import log
from amci.metrics import Metrics, create_metrics
from amci.outbox import Outbox, outbox_ctx
from amci.relay import Relay, Upstream
from amci.sealing import Sealer
from amci.settings import Settings
from amci.store import Store, open_store
from amci.store.postgres import PostgresStore
from amci.webhooks import Registrar
from httpkit.serving import GuardedRunner

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
# Stripe's deliveries: authenticated by Stripe-Signature, not by a key (``webhooks.py``).
WEBHOOKS_PREFIX = "/v1/stripe/webhooks/"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Ctx = Callable[[web.Application], AsyncIterator[None]]


def create_app(
    settings: Settings,
    *,
    session: aiohttp.ClientSession | None = None,
    store: Store | None = None,
    clock: Callable[[], float] | None = None,
    logger: logging.Logger | None = None,
    metrics: Metrics | None = None,
) -> web.Application:
    """``session``: the network (injected by tests and the benchmark; else one is made);
    ``store``: records (else the store ``settings.store`` names); ``clock``: wall-clock seconds
    for TTLs and card expiry."""
    app = web.Application(middlewares=[_middleware], client_max_size=contract.MAX_BODY)
    app[keys.SETTINGS] = settings
    app[keys.METRICS] = metrics or create_metrics()
    app[keys.LOGGER] = logger or logging.getLogger("amci")
    app[keys.CLOCK] = clock or time.time
    app[keys.INSTANCE] = uuid.uuid4().hex
    app[keys.FX] = money.load_fx(settings.fx_rates_file)
    money.currencies()  # the currency table is parsed here, not inside the first payment
    logs.quiet_stripe_logger()
    encryption_key = settings.notifications.encryption_key
    # Without a configured key (tests, a throwaway run) the sealed secrets live as long as the
    # process; ``amci serve`` always passes one (from encryption_key_file).
    app[keys.SEALER] = Sealer(
        encryption_key.get_secret_value() if encryption_key is not None else Sealer.generate()
    )
    app[keys.OUTBOX] = Outbox(app)
    app[keys.REGISTRAR] = Registrar(app)

    app.cleanup_ctx.append(_store_ctx(store))
    app.cleanup_ctx.append(_session_ctx(session))
    app.cleanup_ctx.append(_testmode_ctx)
    app.cleanup_ctx.append(_relay_ctx)
    app.cleanup_ctx.append(_pruner_ctx)
    app.cleanup_ctx.append(outbox_ctx)
    for method, path, handler in handlers.ROUTES:
        app.router.add_route(method, path, handler)
    return app


# --- resources -----------------------------------------------------------------------------------


def _store_ctx(injected: Store | None) -> Ctx:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        url = app[keys.SETTINGS].store.resolved_url
        store = injected if injected is not None else await open_store(url)
        app[keys.STORE] = store
        yield
        if injected is None:
            await store.close()

    return ctx


def _session_ctx(injected: aiohttp.ClientSession | None) -> Ctx:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        up = app[keys.SETTINGS].upstream
        session = injected or aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=up.connection_limit),
            timeout=aiohttp.ClientTimeout(total=up.timeout_seconds),
        )
        app[keys.SESSION] = session
        yield
        if injected is None:
            await session.close()

    return ctx


async def _testmode_ctx(app: web.Application) -> AsyncIterator[None]:
    """Start the Stripe test-mode server inside this process unless a URL is configured."""
    settings = app[keys.SETTINGS]
    if settings.upstream.test_api_base is not None:
        app[keys.TEST_API_BASE] = settings.upstream.test_api_base.rstrip("/")
        yield
        return
    # Imported here: only the embedded mode needs the test-mode server.
    from amci.testmode.app import create_app as create_testmode_app
    from amci.testmode.settings import TestmodeSettings

    tm = settings.testmode
    tm_app = create_testmode_app(
        TestmodeSettings(
            db_path=tm.db_path,
            settlement_currency=tm.settlement_currency,
            rate_limit_per_second=tm.rate_limit_per_second,
            fx_rates_file=settings.fx_rates_file,
            public_url=tm.public_url,
            request_header_timeout_seconds=settings.server.request_header_timeout_seconds,
        )
    )
    runner = GuardedRunner(
        tm_app, header_timeout=settings.server.request_header_timeout_seconds, access_log=None
    )
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    app[keys.TEST_API_BASE] = app[keys.EMBEDDED_TESTMODE] = f"http://{host}:{port}"
    log(app[keys.LOGGER], "embedded_testmode_started", api_base=app[keys.TEST_API_BASE])
    yield
    await runner.cleanup()


async def _relay_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    up, rl = settings.upstream, settings.rate_limit

    def upstream(base: str) -> Upstream:
        return Upstream(base.rstrip("/"), up.max_network_retries, up.timeout_seconds)

    def limiter(rate: float) -> Limiter | None:
        return Limiter(rate, max_wait=rl.max_wait_seconds) if rl.enabled else None

    store = app[keys.STORE]
    limits: RateLimits
    if rl.enabled and isinstance(store, PostgresStore):
        # Replicas share one store: Stripe's limits are shared through it too.
        accounts = {fp: sub.id for sub in settings.subscriptions for fp in sub.key_fingerprints}

        def account_of(key: auth.ApiKey) -> str:
            # A subscription's keys share its account's limit; a key admitted by
            # allow_any_test_key may be any test account: its own.
            return accounts.get(key.fingerprint) or f"key-{key.fingerprint[:32]}"

        limits = SharedLimits(
            store, account_of=account_of,
            per_second={auth.Mode.TEST: rl.test_per_second, auth.Mode.LIVE: rl.live_per_second},
            endpoint_per_second=rl.endpoint_per_second, max_wait=rl.max_wait_seconds,
            headroom=rl.headroom,
        )
    else:
        limits = LocalLimits({auth.Mode.TEST: limiter(rl.test_per_second),
                              auth.Mode.LIVE: limiter(rl.live_per_second)})
    relay = Relay(
        app[keys.SESSION],
        {
            auth.Mode.TEST: upstream(app[keys.TEST_API_BASE]),
            auth.Mode.LIVE: upstream(up.live_api_base),
        },
        limits=limits,
        metrics=app[keys.METRICS],
        logger=app[keys.LOGGER],
    )
    app[keys.RELAY] = relay
    yield
    await relay.close()


async def _pruner_ctx(app: web.Application) -> AsyncIterator[None]:
    """Drop idempotency records older than the TTL, at start-up and every 10 minutes."""
    ttl = app[keys.SETTINGS].idempotency.ttl_seconds

    async def prune_forever() -> None:
        while True:
            removed = await app[keys.STORE].prune(app[keys.CLOCK]() - ttl)
            if removed:
                log(app[keys.LOGGER], "idempotency_pruned", removed=removed)
            await asyncio.sleep(600)

    task = asyncio.create_task(prune_forever())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


# --- the middleware ------------------------------------------------------------------------------


@web.middleware
async def _middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    app = request.app
    started = time.perf_counter()
    incoming = request.headers.get("X-Request-Id", "")
    request_id = incoming if _REQUEST_ID_RE.match(incoming) else f"req_{uuid.uuid4().hex[:24]}"
    request[keys.REQUEST_ID] = request_id
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    error: AmciError | None = None
    try:
        if (request.path.startswith("/v1/") and resource is not None
                and not request.path.startswith(WEBHOOKS_PREFIX)):
            if len(incoming) > 64 or not (incoming.isascii() and incoming.isprintable()):
                raise parameter_invalid(
                    "X-Request-Id", "X-Request-Id must be at most 64 printable ASCII characters."
                )
            caller = auth.authenticate(
                request.headers.get("Authorization"), app[keys.SETTINGS].subscriptions
            )
            request[keys.PRINCIPAL] = caller
            await app[keys.REGISTRAR].ensure(caller)
        response = await handler(request)
    except AmciError as exc:
        error = exc
        response = web.json_response(exc.envelope(), status=exc.status)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = {404: "resource_missing", 405: "method_not_allowed", 413: "parameter_invalid"}.get(
            exc.status, "invalid_request"
        )
        message = (
            f"Unrecognized request URL ({request.method}: {request.path})."
            if exc.status == 404
            else exc.reason
        )
        error = AmciError(exc.status, "invalid_request_error", code, message)
        response = web.json_response(error.envelope(), status=exc.status)
    except asyncio.CancelledError:
        raise
    except Exception:
        log(app[keys.LOGGER], "unhandled_error", level=logging.ERROR, request_id=request_id,
            route=route, method=request.method)
        app[keys.LOGGER].exception("unhandled_error_traceback",
                                   extra={logs.FIELDS_ATTR: {"request_id": request_id}})
        error = AmciError(500, "api_error", "internal_error",
                          "AMCI hit an internal error; it has been logged.")
        response = web.json_response(error.envelope(), status=500)
    response.headers["Request-Id"] = request_id
    elapsed = time.perf_counter() - started
    metrics = app[keys.METRICS]
    metrics.child(metrics.requests, route, request.method, str(response.status)).inc()
    metrics.child(metrics.request_seconds, route, request.method).observe(elapsed)
    if isinstance(error, PolicyRefusal | CardInvalid):
        metrics.child(metrics.policy_refusals, error.code).inc()
    fields: dict[str, Any] = {
        "request_id": request_id,
        "method": request.method,
        "route": route,
        "status": response.status,
        "duration_ms": round(elapsed * 1000, 3),
    }
    principal = request.get(keys.PRINCIPAL)
    if principal is not None:
        fields.update(
            subscription=principal.subscription.id, mode=principal.mode.value,
            key=principal.key.masked,
        )
    if error is not None:
        fields.update(error_type=error.type, error_code=error.code)
        if error.decline_code:
            fields["decline_code"] = error.decline_code
    if response.headers.get("Idempotent-Replayed"):
        fields["replayed"] = True
    log(app[keys.LOGGER], "request", **fields)
    return response
