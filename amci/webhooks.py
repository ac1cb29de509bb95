"""Stripe's webhooks in: ``POST /v1/stripe/webhooks/{subscription}``, and AMCI's endpoint with
the test mode.

A delivery is verified against every secret the subscription has: the live endpoint's
``stripe_webhook_secret`` (created in Stripe's Dashboard) and the ``whsec_`` of each test-mode
endpoint AMCI registered. The event and the notification it calls for are committed in one
transaction before AMCI answers 2xx ("return a successful status code (2xx) prior to any complex
logic", docs.stripe.com/webhooks): the outbox (``amci.outbox``) fetches the object and delivers
later, so a crash after the answer loses nothing, and a crash before it makes Stripe send again.
Duplicates are dropped by event id and by (object, type, state) (``amci.notifications``).

Test mode: on a test key's first use by a subscription with a callback, AMCI registers
``{public_url}/v1/stripe/webhooks/{subscription}`` with the test mode, idempotently: it lists the
account's endpoints first, and creates with an idempotency key derived from the scope and URL,
so two AMCI processes racing get the same endpoint and secret back (Stripe replays the first
answer under a key for 24 hours, docs.stripe.com/api/idempotent_requests). The secret is sealed
at rest, per scope (subscription and key fingerprint).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import uuid
from typing import Any

from aiohttp import web

from amci import contract, keys, notifications
from amci.auth import Mode, Principal
from amci.errors import AmciError, InvalidRequest, NotFound
from amci.logs import log
from amci.sealing import SealingError
from amci.store.notifications import Endpoint, NewNotification


def webhook_url(app: web.Application, subscription: str) -> str:
    return f"{app[keys.SETTINGS].public_url()}/v1/stripe/webhooks/{subscription}"


async def receive(request: web.Request) -> web.Response:
    app = request.app
    settings, store = app[keys.SETTINGS], app[keys.STORE].notifications
    sub_id = request.match_info["subscription"]
    sub = settings.subscription(sub_id)
    if sub is None:
        raise NotFound(f"No such subscription: {sub_id}", param="subscription")
    # The exact bytes Stripe signed (within the app's body limit: larger is a 413).
    body = await request.read()
    header = request.headers.get("Stripe-Signature", "")
    candidates: list[tuple[str | None, str]] = []
    if sub.stripe_webhook_secret is not None:
        candidates.append((None, sub.stripe_webhook_secret.get_secret_value()))
    sealer = app[keys.SEALER]
    for ep in await store.endpoints(sub_id):
        try:
            candidates.append((ep.scope, sealer.open(ep.sealed_secret)))
        except SealingError:
            log(app[keys.LOGGER], "endpoint_secret_unreadable", level=logging.ERROR,
                subscription=sub_id)
    relay = app[keys.RELAY]
    event: dict[str, Any] | None = None
    scope: str | None = None
    for candidate, secret in candidates:
        event = relay.verify_event(body, header, secret)
        if event is not None:
            scope = candidate
            break
    metrics = app[keys.METRICS]
    if event is None or not isinstance(event.get("id"), str):
        metrics.signature_failures.inc()
        raise InvalidRequest(
            "signature_invalid",
            "The Stripe-Signature header does not verify with this subscription's endpoint "
            "secret.", param="Stripe-Signature")
    notice = notifications.notice_of(event)
    new: NewNotification | None = None
    if notice is not None:
        if scope is None:
            # A live endpoint's event: the key is the one the payment (or card) was made with.
            scope = (await store.payment_scope(sub_id, notice.payment) if notice.payment
                     else await store.card_scope(sub_id, notice.subject))
        new = NewNotification(
            id=f"ntf_{uuid.uuid4().hex[:24]}", subscription=sub_id, scope=scope,
            type=notice.type, subject=notice.subject, payment=notice.payment, card=notice.card,
            dedupe=notice.dedupe, event=str(event["id"]), livemode=bool(event.get("livemode")),
            event_object=json.dumps(event["data"]["object"]).encode())
    created = await store.record_event(str(event["id"]), new, app[keys.CLOCK]())
    outcome = "notified" if created else ("duplicate" if notice is not None else "ignored")
    metrics.child(metrics.webhooks, outcome).inc()
    log(app[keys.LOGGER], "webhook_received", subscription=sub_id, stripe_event=event["id"],
        event_type=str(event.get("type")), outcome=outcome, notification=created)
    if created:
        app[keys.OUTBOX].wake()
    return web.json_response(contract.dump(contract.WebhookReceived(received=True)))


class Registrar:
    """Registers AMCI's webhook endpoint with the test mode, once per scope."""

    def __init__(self, app: web.Application) -> None:
        self._app = app
        self._done: set[str] = set()
        self._locks: dict[str, asyncio.Lock] = {}

    async def ensure(self, principal: Principal) -> None:
        """Called on every authenticated request; does work only on a scope's first one. A
        failure is logged and tried again on the next request (the payment goes on)."""
        scope = principal.scope
        if scope in self._done:
            return
        app = self._app
        settings = app[keys.SETTINGS]
        if settings.callback(principal.subscription).url is None:
            return  # nothing to notify: no need for Stripe's events
        lock = self._locks.setdefault(scope, asyncio.Lock())
        async with lock:
            if scope in self._done:
                return
            try:
                await self._register(principal)
                self._done.add(scope)
            except AmciError as exc:
                log(app[keys.LOGGER], "webhook_registration_failed", level=logging.WARNING,
                    subscription=principal.subscription.id, error_code=exc.code)

    async def _register(self, principal: Principal) -> None:
        app = self._app
        store, sealer, now = app[keys.STORE].notifications, app[keys.SEALER], app[keys.CLOCK]()
        scope, mode, key = principal.scope, principal.mode, principal.key
        # The key is kept (sealed) for fetching objects when their events arrive.
        await store.put_key(scope, key.sealed(sealer), now)
        if mode is not Mode.TEST or not app[keys.SETTINGS].notifications.register_test_endpoints:
            return  # live: the endpoint is created in the Dashboard (README)
        relay = app[keys.RELAY]
        url = webhook_url(app, principal.subscription.id)
        known = await store.endpoint(scope)
        listed = (await relay.list_webhook_endpoints(mode, key)).get("data") or []
        ours = [e for e in listed if isinstance(e, dict) and e.get("url") == url]
        if known is not None and known.url == url and any(e.get("id") == known.endpoint
                                                          for e in ours):
            return
        idem = "amci-webhook-" + hashlib.sha256(f"{scope}\n{url}".encode()).hexdigest()[:40]
        we = await relay.create_webhook_endpoint(mode, key, idem, url)
        secret = we.get("secret")
        if not isinstance(secret, str):
            raise InvalidRequest("webhook_secret_missing",
                                 "The test mode did not return the endpoint's secret.")
        await store.put_endpoint(principal.subscription.id, Endpoint(
            scope, str(we["id"]), url, sealer.seal(secret)), now)
        for stale in ours:
            # Registered by an attempt whose secret AMCI no longer holds (older than the
            # idempotency window): one endpoint per account.
            if stale.get("id") != we["id"]:
                await relay.delete_webhook_endpoint(mode, key, str(stale["id"]))
        log(app[keys.LOGGER], "webhook_endpoint_registered",
            subscription=principal.subscription.id, endpoint=we["id"])
