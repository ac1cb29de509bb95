"""The notification outbox: delivers what ``amci.webhooks`` committed, at least once.

One background task per process (a ``cleanup_ctx``). Each pass takes the due notifications —
for each payment (or card) only its lowest undelivered ``sequence``, so they leave in order —
leases them (another AMCI process on the same store leaves them alone), builds the body the
first time (the object fetched again from Stripe: its state now, not the event's copy), signs it
(``AMCI-Signature``, ``amci.notifications``) and POSTs it to the subscription's callback URL. A
2xx is delivery; anything else is retried with exponential backoff (1 s doubling, capped at
``retry_max_seconds``, with jitter) until ``give_up_after_seconds``. The body is stored once
built, so a redelivery sends the same notification (re-signed with a fresh ``t``).

A restart (even ``kill -9``) loses nothing: the rows are committed before Stripe was answered,
and the next process picks them up on its first pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
from aiohttp import web

from amci import contract, keys, money, notifications
from amci.auth import ApiKey
from amci.errors import AmciError
from amci.logs import log
from amci.sealing import SealingError
from amci.store.notifications import Notification
from amci.views import payment_view

BATCH = 20
LEASE_SECONDS = 60.0
IDLE_WAIT_SECONDS = 5.0
_jitter = random.SystemRandom().random


def refund_view(r: Mapping[str, Any], payment: str) -> dict[str, Any]:
    cur = money.currency(str(r["currency"]))
    return contract.dump(contract.Refund(
        id=r["id"], payment=r.get("payment_intent") or payment,
        amount=money.from_minor(int(r["amount"]), cur), amount_minor=int(r["amount"]),
        currency=cur.code, status=r.get("status"), reason=r.get("reason") or None,
        created=r.get("created"), failure_reason=r.get("failure_reason"),
    ))


def dispute_view(d: Mapping[str, Any]) -> dict[str, Any]:
    cur = money.currency(str(d["currency"]))
    charge = d.get("charge")
    return contract.dump(contract.Dispute(
        id=d["id"], payment=d.get("payment_intent"),
        charge=charge.get("id") if isinstance(charge, Mapping) else charge,
        amount=money.from_minor(int(d["amount"]), cur), amount_minor=int(d["amount"]),
        currency=cur.code, status=str(d.get("status")), reason=d.get("reason"),
        created=d.get("created"),
    ))


def _charge_card(pi: Mapping[str, Any]) -> Any:
    charge = pi.get("latest_charge")
    if isinstance(charge, Mapping):
        details = charge.get("payment_method_details")
        if isinstance(details, Mapping):
            return details.get("card")
    return None


class Outbox:
    def __init__(self, app: web.Application) -> None:
        self._app = app
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        app = self._app
        store = app[keys.STORE].notifications
        while True:
            self._wake.clear()
            try:
                due = await store.due(app[keys.CLOCK](), BATCH, LEASE_SECONDS)
                if due:
                    await asyncio.gather(*(self.deliver(n) for n in due))
                oldest = await store.oldest_pending()
                app[keys.METRICS].outbox_lag.set(
                    max(0.0, app[keys.CLOCK]() - oldest) if oldest is not None else 0.0)
                if len(due) == BATCH:
                    continue
                next_at = await store.next_due_at()
            except Exception:
                app[keys.LOGGER].exception("outbox_pass_failed")
                next_at = None
            wait = IDLE_WAIT_SECONDS
            if next_at is not None:
                wait = min(wait, max(0.0, next_at - app[keys.CLOCK]()))
            with contextlib.suppress(TimeoutError):
                # The schedule of the next due attempt, or a wake-up from a new event.
                # (asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow a
                # cancellation that arrives at the wrong moment and hang the shutdown.)
                async with asyncio.timeout(wait):
                    await self._wake.wait()

    async def deliver(self, n: Notification) -> None:
        app = self._app
        settings, store, metrics = app[keys.SETTINGS], app[keys.STORE].notifications, \
            app[keys.METRICS]
        sub = settings.subscription(n.subscription)
        callback = settings.callback(sub) if sub is not None else None
        if callback is None or callback.url is None or not callback.secrets:
            await self._failed(n, "no_callback", "No callback URL and secret are configured.")
            return
        try:
            body = n.body if n.body is not None else await self._build(n)
        except AmciError as exc:
            await self._failed(n, "upstream", f"Fetching the object from Stripe: {exc.code}")
            return
        t = int(time.time())  # wall time: the receiver checks it against its own clock
        header = notifications.sign(body, [s.get_secret_value() for s in callback.secrets], t)
        try:
            async with app[keys.SESSION].post(
                callback.url, data=body,
                headers={"Content-Type": "application/json", notifications.HEADER: header,
                         "User-Agent": "AMCI-Notifications/1"},
                timeout=aiohttp.ClientTimeout(total=settings.notifications.timeout_seconds),
                allow_redirects=False,
            ) as resp:
                status = resp.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            await self._failed(n, "network", f"The callback did not answer: {type(exc).__name__}")
            return
        if 200 <= status < 300:
            await store.delivered(n.id, app[keys.CLOCK]())
            metrics.child(metrics.notifications, n.type).inc()
            log(app[keys.LOGGER], "notification_delivered", notification=n.id,
                notification_type=n.type, sequence=n.sequence, attempts=n.attempts + 1)
            return
        await self._failed(n, "status", f"The callback answered HTTP {status}.")

    async def _failed(self, n: Notification, reason: str, message: str) -> None:
        app = self._app
        settings, metrics = app[keys.SETTINGS].notifications, app[keys.METRICS]
        now = app[keys.CLOCK]()
        attempts = n.attempts + 1
        next_at: float | None = now + min(settings.retry_max_seconds,
                                          2.0 ** min(attempts - 1, 30)) * (0.5 + _jitter() / 2)
        if now - n.created_at > settings.give_up_after_seconds:
            next_at = None
            metrics.child(metrics.delivery_failures, "gave_up").inc()
        metrics.child(metrics.delivery_failures, reason).inc()
        await app[keys.STORE].notifications.failed_attempt(n.id, next_at, message)
        log(app[keys.LOGGER], "notification_delivery_failed", level=logging.WARNING,
            notification=n.id, reason=reason, attempts=attempts)

    async def _build(self, n: Notification) -> bytes:
        app = self._app
        store, relay = app[keys.STORE].notifications, app[keys.RELAY]
        key: ApiKey | None = None
        if n.scope is not None:
            sealed = await store.key(n.scope)
            if sealed is not None:
                with contextlib.suppress(SealingError):
                    key = ApiKey.unsealed(app[keys.SEALER], sealed)
        obj = json.loads(n.event_object)
        data: dict[str, Any]
        if key is not None and key.mode is not None and n.payment is not None:
            mode = key.mode
            pi = await relay.retrieve_payment(mode, key, n.payment)
            refunds = (await relay.list_refunds(mode, key, n.payment)).get("data") or []
            disputes = (await relay.list_disputes(mode, key, n.payment)).get("data") or []
            data = {"fresh": True, "payment": payment_view(pi, _charge_card(pi)),
                    "refunds": [refund_view(r, n.payment) for r in refunds],
                    "disputes": [dispute_view(d) for d in disputes]}
        elif key is not None and key.mode is not None and n.card is not None:
            pm = await relay.retrieve_method(key.mode, key, payment_method=n.card)
            data = {"fresh": True, "card": _card(pm)}
        else:
            data = {"fresh": False, **_from_event(n, obj)}
        body = json.dumps(contract.dump(contract.Notification(
            id=n.id, type=n.type,  # type: ignore[arg-type]
            created=int(n.created_at), livemode=n.livemode, subscription=n.subscription,
            sequence=n.sequence, payment=n.payment, card=n.card, event=n.event,
            data=contract.NotificationData.model_validate(data),
        )), separators=(",", ":")).encode()
        await store.set_body(n.id, body)
        return body


def _card(pm: Mapping[str, Any]) -> dict[str, Any]:
    card = pm.get("card") if isinstance(pm.get("card"), Mapping) else {}
    assert isinstance(card, Mapping)
    return {"token": pm["id"], "customer": pm.get("customer"), "brand": card.get("brand"),
            "last4": card.get("last4"), "exp_month": card.get("exp_month"),
            "exp_year": card.get("exp_year"), "detached": pm.get("customer") is None}


def _from_event(n: Notification, obj: Mapping[str, Any]) -> dict[str, Any]:
    """No key to fetch with (a live event for a payment AMCI never saw): the event's copy."""
    kind = obj.get("object")
    if kind == "payment_intent":
        return {"payment": payment_view(obj, None)}
    if kind == "refund" and n.payment is not None:
        return {"refunds": [refund_view(obj, n.payment)]}
    if kind == "dispute":
        return {"disputes": [dispute_view(obj)]}
    if kind == "payment_method":
        return {"card": _card(obj)}
    return {}


async def outbox_ctx(app: web.Application) -> AsyncIterator[None]:
    outbox = app[keys.OUTBOX]
    task = asyncio.create_task(outbox.run(), name="amci-outbox")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
