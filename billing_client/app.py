"""``create_app(settings, *, session=None)`` → the billing client's ``web.Application``.

Everything with a lifetime (the store, the HTTP session to AMCI) is opened and closed in one
``cleanup_ctx`` generator. The network is injected: pass ``session`` to share one (it is then
not closed here); AMCI's address comes from ``settings.amci_url``.

Middlewares: ``error_middleware`` (outermost: request id, log, metrics, the error envelope) around
``pages_middleware`` (sessions and CSRF on the console's ``/admin`` and the portal's ``/portal``
pages, their errors as HTML; ``web/pages.py``) around ``access_middleware`` (API token and
JSON-only bodies on ``/api``; see ``access.py``).

The background reconciler (``reconciler.py``) is a second ``cleanup_ctx``, after the first: it
starts once storage and AMCI are ready and is cancelled before they close. ``on_reconcile_pass``
is called after every pass (tests synchronise on it instead of sleeping).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

import aiohttp
from aiohttp import web

from billing_client import keys, openapi
from billing_client.access import access_middleware, check_routes
from billing_client.amci_client import AmciClient
from billing_client.api.routes import ROUTES
from billing_client.auth import Admins, CustomerLogins, Tokens
from billing_client.crypto import Vault
from billing_client.errors import BillingError
from billing_client.logs import log
from billing_client.metrics import Metrics
from billing_client.middleware import error_middleware
from billing_client.reconciler import OnPass, run_reconciler
from billing_client.sessions import Sessions, Throttle
from billing_client.settings import Settings, SettingsError
from billing_client.storage import Storage
from billing_client.usecases import demo
from billing_client.usecases.context import Context
from billing_client.web.pages import STATIC, STATIC_DIR, pages_middleware
from billing_client.web.routes import ROUTES as PAGE_ROUTES

logger = logging.getLogger("billing_client")


def create_app(
    settings: Settings,
    *,
    session: aiohttp.ClientSession | None = None,
    clock: Callable[[], float] = time.time,
    on_reconcile_pass: OnPass | None = None,
) -> web.Application:
    # The error middleware is outermost: it renders the access middleware's 401/415 too.
    app = web.Application(
        middlewares=[error_middleware, pages_middleware, access_middleware],
        client_max_size=256 * 1024,
    )
    app[keys.SETTINGS] = settings
    app[keys.METRICS] = Metrics()
    app[keys.OPENAPI] = openapi.document_bytes()
    for method, path, handler in (*ROUTES, *PAGE_ROUTES):
        app.router.add_route(method, path, handler)
    app.router.add_static(STATIC, STATIC_DIR)
    check_routes(app)

    async def resources_ctx(app: web.Application) -> AsyncIterator[None]:
        storage = Storage(settings.store)
        await storage.open()
        own_session = session is None
        http = session or aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=100),
            timeout=aiohttp.ClientTimeout(total=settings.amci_timeout_seconds),
        )
        try:
            amci = AmciClient(
                settings.amci_url,
                http,
                metrics=app[keys.METRICS],
                timeout_seconds=settings.amci_timeout_seconds,
            )
            usecases = Context(
                storage, Vault(settings.encryption_key), amci, app[keys.METRICS], clock=clock
            )
            app[keys.STORAGE] = storage
            app[keys.TOKENS] = Tokens(storage, clock=clock)
            app[keys.ADMINS] = Admins(storage, clock=clock)
            app[keys.CUSTOMER_LOGINS] = CustomerLogins(storage, clock=clock)
            app[keys.SESSIONS] = Sessions(
                storage,
                idle_seconds=settings.session_idle_seconds,
                max_seconds=settings.session_max_seconds,
                clock=clock,
            )
            app[keys.THROTTLE] = Throttle(storage, clock=clock)
            app[keys.USECASES] = usecases
            if settings.demo is not None:
                try:
                    ps_id = await demo.seed_payment_system(
                        usecases, settings.demo.payment_system, settings.demo.currencies
                    )
                except BillingError as exc:
                    raise SettingsError(
                        f"demo.payment_system.{exc.param or ''}: {exc.message}".replace(".:", ":")
                    ) from None
                log(logger, "demo_payment_system_ready", payment_system=ps_id)
            log(logger, "started", amci=settings.amci_url, db=storage.url.safe)
            yield
        finally:
            if own_session:
                await http.close()
            await storage.close()

    async def reconciler_ctx(app: web.Application) -> AsyncIterator[None]:
        interval = settings.reconcile_interval_seconds
        if interval <= 0:
            yield
            return
        task = asyncio.create_task(
            run_reconciler(app[keys.USECASES], interval, on_pass=on_reconcile_pass),
            name="billing-client-reconciler",
        )
        app[keys.RECONCILER] = task
        log(logger, "reconciler_started", interval_seconds=interval)
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app.cleanup_ctx.append(resources_ctx)
    app.cleanup_ctx.append(reconciler_ctx)
    return app
