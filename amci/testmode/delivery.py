"""Webhook deliveries from the persisted outbox, and the sweeper that runs due timers.

A delivery is a ``POST`` of the Event JSON to the endpoint's URL (and only there), signed
(``amci.testmode.signature``), with the headers Stripe's test-mode deliveries carry. "Success =
any 2xx"; redirects, other statuses, connection errors and timeouts are failures, retried after
``webhook_retry_schedule_seconds`` (clock time, so advancing the clock compresses it); after the
last retry the delivery is abandoned. An endpoint disabled or deleted when a delivery is due
drops it ("the event's remaining retries are dropped"). Nothing here runs inside an API request:
the request only writes the outbox row and wakes this task.

The signature's ``t`` is wall time (the receiver checks it against its own clock; an advanced
test clock would otherwise make every signature look stale or future).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time

import aiohttp

from amci.testmode import events, signature, timers
from amci.testmode.queue import Delivery
from amci.testmode.resources.context import Context
from amci.testmode.wire import dumps

log = logging.getLogger("amci.testmode.webhooks")

HEADERS = {"User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
           "Accept": "*/*; q=0.5, application/xml", "Cache-Control": "no-cache",
           # UNVERIFIED: the exact Content-Type of Stripe's deliveries.
           "Content-Type": "application/json; charset=utf-8"}
PRUNE_EVERY_SECONDS = 3600


class Deliverer:
    """Delivers the outbox. API requests come first: while the API is serving (a request in
    flight or one within ``QUIET_SECONDS``; kept by the server's middleware) deliveries start one
    at a time, at most every ``PACE_SECONDS``, so a burst of API traffic is not slowed by the
    deliveries it causes; they catch up ``webhook_concurrency`` at a time once it is quiet.
    ``drain`` (the clock advance) ignores the pacing."""

    QUIET_SECONDS = 0.05
    PACE_SECONDS = 0.02

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.busy = 0
        self._last_api = 0.0
        self._last_paced = 0.0
        self._backlog = False
        self.settings = ctx.settings
        self._wake = asyncio.Event()
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._last_prune = 0.0
        self.attempts = 0  # delivery attempts made (for the benchmark and tests)

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self.settings.webhook_concurrency),
            timeout=aiohttp.ClientTimeout(total=self.settings.webhook_timeout_seconds))
        self._task = asyncio.create_task(self._run(), name="testmode-sweeper")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for task in list(self._in_flight.values()):
            task.cancel()
        if self._in_flight:
            await asyncio.gather(*self._in_flight.values(), return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        while True:
            wait = self.PACE_SECONDS if self._backlog else self.settings.sweep_interval_seconds
            # asyncio.timeout, not wait_for: cancelled at the wrong moment (a server stopping
            # right after it started), Python 3.11's wait_for can leave this task hanging.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wake.wait()
            self._wake.clear()
            try:
                self.sweep()
            except Exception:
                log.exception("test-mode sweeper failed; retrying on the next sweep")

    def sweep(self) -> None:
        """Run due timers, start due deliveries (without waiting for them), prune old events."""
        timers.run_due(self.ctx)
        self._start_due()
        now = time.monotonic()
        if now - self._last_prune > PRUNE_EVERY_SECONDS:
            self._last_prune = now
            self._prune()

    async def drain(self) -> None:
        """Deliver everything due now and wait for those attempts (the clock advance answers
        after them, so a test sees the retry the advance made due)."""
        while True:
            self._start_due(force=True)
            if not self._in_flight:
                return
            await asyncio.gather(*list(self._in_flight.values()), return_exceptions=True)
            if not self.ctx.queue.due_deliveries(self.ctx.clock.now(), 1,
                                                 set(self._in_flight)):
                return

    def _start_due(self, *, force: bool = False) -> None:
        now = time.monotonic()
        quiet = force or (not self.busy and now - self._last_api >= self.QUIET_SECONDS)
        if quiet:
            free = self.settings.webhook_concurrency - len(self._in_flight)
        elif now - self._last_paced >= self.PACE_SECONDS:
            free = min(1, self.settings.webhook_concurrency_under_load - len(self._in_flight))
        else:
            free = 0
        due = self.ctx.queue.due_deliveries(self.ctx.clock.now(), max(free, 1),
                                            set(self._in_flight))
        self._backlog = bool(due) and free < len(due) + 1
        if free <= 0:
            return
        if not quiet and due:
            self._last_paced = now
        for d in due[:free]:
            task = asyncio.create_task(self._deliver(d))
            self._in_flight[d.seq] = task
            task.add_done_callback(functools.partial(self._done, d.seq))

    def _done(self, seq: int, _task: asyncio.Task[None]) -> None:
        self._in_flight.pop(seq, None)
        self._wake.set()  # more may be waiting for a free slot

    def request_started(self) -> None:
        self.busy += 1
        self._last_api = time.monotonic()

    def request_finished(self) -> None:
        self.busy -= 1
        self._last_api = time.monotonic()

    def _prune(self) -> None:
        oldest = self.ctx.clock.now() - events.RETENTION_SECONDS
        store = self.ctx.store
        store.begin()
        store.prune_kind("event", oldest)
        self.ctx.queue.prune(oldest)
        store.commit()

    async def _deliver(self, d: Delivery) -> None:
        store, queue = self.ctx.store, self.ctx.queue
        ep = store.get(d.account, d.endpoint)
        ev = store.get(d.account, d.event)
        if ep is None or ev is None or ep.data["status"] != "enabled":
            store.begin()
            queue.drop(d.seq)
            store.commit()
            return
        event = events.render(self.ctx, d.account, ev.data)
        if ep.data["api_version"]:
            # "An endpoint created with api_version gets events rendered in that version";
            # the test mode has one shape for every version.
            event["api_version"] = ep.data["api_version"]
        body = dumps(event).encode()
        headers = {**HEADERS, "Stripe-Signature": signature.header(
            body, ep.internal["secret"], int(time.time()))}
        ok = False
        assert self._session is not None
        self.attempts += 1
        try:
            async with self._session.post(ep.data["url"], data=body, headers=headers,
                                          allow_redirects=False) as resp:
                ok = 200 <= resp.status < 300
                if not ok:
                    log.info("webhook %s to %s: HTTP %d", d.event, d.endpoint, resp.status)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            log.info("webhook %s to %s: %s", d.event, d.endpoint, type(exc).__name__)
        schedule = self.settings.webhook_retry_schedule_seconds
        store.begin()
        if ok:
            queue.attempted(d.seq, state="delivered")
        elif d.attempts < len(schedule):
            queue.attempted(d.seq, state="pending",
                            due=self.ctx.clock.now() + schedule[d.attempts])
        else:
            queue.attempted(d.seq, state="failed")
        store.commit()
