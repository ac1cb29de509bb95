"""The relay to Stripe: the only module that imports ``stripe``; its errors are translated here,
once, into AMCI's error tree.

One ``stripe.StripeClient`` per mode (``base_addresses`` is per client: test → the embedded
test-mode server or any URL, live → https://api.stripe.com), each on the app's aiohttp session
through ``stripe.AIOHTTPClient(session=…)``, with ``max_network_retries`` set explicitly (the SDK
makes none by default on a StripeClient). Every call passes the caller's key and an idempotency
key in the per-request options, so one client serves every caller; the SDK's retries reuse that
key (retrying with the same key and parameters is what docs.stripe.com/error-low-level advises)
and Stripe dedupes them.

Calls go through ``StripeClient.raw_request_async`` (the SDK's documented "custom requests"):
the SDK still builds the request — ``Authorization``, ``Stripe-Version``, the idempotency key,
form encoding, retries with backoff on the same key — and raises its ``StripeError`` classes
from Stripe's error body, but hands back the parsed JSON (``StripeResponse.data``) instead of
turning every nested object into a ``StripeObject`` that AMCI would convert back with
``to_dict()``. That conversion was the largest single cost of a relayed payment (see the
benchmark section of docs/amci.md); AMCI only ever reads plain JSON fields.

Calls go through the rate limits first (``amci.limiter``), and are counted in the upstream metrics.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import aiohttp
import stripe

from amci import declines
from amci.auth import ApiKey, Mode
from amci.errors import AmciError, UpstreamError, UpstreamUnavailable
from amci.limiter import RateLimits
from amci.logs import log
from amci.metrics import Metrics

# Stripe parameter names → the names of AMCI's request fields, so ``param`` names what the
# billing system sent.
_PARAM_NAMES = {
    "amount_to_capture": "amount",
    "payment_method": "token",
    "card[number]": "card.number",
    "card[exp_month]": "card.exp_month",
    "card[exp_year]": "card.exp_year",
    "card[cvc]": "card.cvc",
    "email": "customer.email",
}


# How late after its slot a call may still leave (see ``Relay._take_slot``).
LATE_SECONDS = 0.02


@dataclass(frozen=True, slots=True)
class Upstream:
    """Where and how to reach Stripe in one mode."""

    api_base: str
    max_network_retries: int
    timeout_seconds: float


class Relay:
    """Semantic Stripe operations for the handlers; results are plain dicts (Stripe's JSON)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        upstreams: Mapping[Mode, Upstream],
        *,
        limits: RateLimits,
        metrics: Metrics,
        logger: logging.Logger,
    ) -> None:
        if os.environ.get("STRIPE_LOG", "").lower() in ("debug", "info") or stripe.log:
            # The SDK would print request bodies (card numbers) to stderr.
            raise RuntimeError("STRIPE_LOG / stripe.log must be unset: the SDK would log card data")
        self._session = session
        self._upstreams = dict(upstreams)
        self._clients = {
            mode: stripe.StripeClient(
                # A placeholder: every request passes the caller's key in its options.
                "sk_test_amci_placeholder" if mode is Mode.TEST else "sk_live_amci_placeholder",
                base_addresses={"api": up.api_base},
                max_network_retries=up.max_network_retries,
                http_client=stripe.AIOHTTPClient(
                    session=session,
                    timeout=aiohttp.ClientTimeout(total=up.timeout_seconds),
                ),
            )
            for mode, up in upstreams.items()
        }
        self._limits = limits
        self._metrics = metrics
        self._log = logger

    # --- the operations ----------------------------------------------------------------------

    async def create_customer(
        self, mode: Mode, key: ApiKey, idem: str, *, email: str, name: str | None,
        reference: str | None,
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"email": email}
        if name:
            params["name"] = name
        if reference:
            params["metadata"] = {"reference": reference}
        return await self._call("POST /v1/customers", mode, key, "post", "/v1/customers", params,
                                idem)

    async def create_card_method(
        self, mode: Mode, key: ApiKey, idem: str, *, number: str, exp_month: int, exp_year: int,
        cvc: str | None, holder: str | None, email: str | None = None,
    ) -> dict[str, Any]:
        card: dict[str, Any] = {"number": number, "exp_month": exp_month, "exp_year": exp_year}
        if cvc is not None:
            card["cvc"] = cvc
        params: dict[str, Any] = {"type": "card", "card": card}
        # Where Stripe keeps who holds a card: billing_details (name, email).
        billing = {k: v for k, v in (("name", holder), ("email", email)) if v}
        if billing:
            params["billing_details"] = billing
        return await self._call("POST /v1/payment_methods", mode, key, "post",
                                "/v1/payment_methods", params, idem)

    async def attach(
        self, mode: Mode, key: ApiKey, idem: str, *, payment_method: str, customer: str
    ) -> dict[str, Any]:
        return await self._call(
            "POST /v1/payment_methods/{id}/attach", mode, key, "post",
            f"/v1/payment_methods/{_quote(payment_method)}/attach", {"customer": customer}, idem,
        )

    async def detach(self, mode: Mode, key: ApiKey, *, payment_method: str) -> dict[str, Any]:
        return await self._call(
            "POST /v1/payment_methods/{id}/detach", mode, key, "post",
            f"/v1/payment_methods/{_quote(payment_method)}/detach", {}, None,
        )

    async def delete_customer(self, mode: Mode, key: ApiKey, *, customer: str) -> dict[str, Any]:
        return await self._call(
            "DELETE /v1/customers/{id}", mode, key, "delete",
            f"/v1/customers/{_quote(customer)}", {}, None,
        )

    async def retrieve_method(
        self, mode: Mode, key: ApiKey, *, payment_method: str
    ) -> dict[str, Any]:
        return await self._call(
            "GET /v1/payment_methods/{id}", mode, key, "get",
            f"/v1/payment_methods/{_quote(payment_method)}", {}, None,
        )

    async def create_payment(
        self, mode: Mode, key: ApiKey, idem: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        return await self._call("POST /v1/payment_intents", mode, key, "post",
                                "/v1/payment_intents", params, idem)

    async def confirm_payment(
        self, mode: Mode, key: ApiKey, idem: str, payment_id: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        return await self._call(
            "POST /v1/payment_intents/{id}/confirm", mode, key, "post",
            f"/v1/payment_intents/{_quote(payment_id)}/confirm", params, idem,
        )

    async def list_payments(self, mode: Mode, key: ApiKey, *, customer: str) -> dict[str, Any]:
        return await self._call("GET /v1/payment_intents", mode, key, "get",
                                "/v1/payment_intents", {"customer": customer, "limit": 100},
                                None)

    async def create_setup(
        self, mode: Mode, key: ApiKey, idem: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        return await self._call("POST /v1/setup_intents", mode, key, "post",
                                "/v1/setup_intents", params, idem)

    async def list_setups(
        self, mode: Mode, key: ApiKey, *, payment_method: str
    ) -> dict[str, Any]:
        return await self._call("GET /v1/setup_intents", mode, key, "get", "/v1/setup_intents",
                                {"payment_method": payment_method, "limit": 100}, None)

    async def retrieve_payment(self, mode: Mode, key: ApiKey, payment_id: str) -> dict[str, Any]:
        return await self._call(
            "GET /v1/payment_intents/{id}", mode, key, "get",
            f"/v1/payment_intents/{_quote(payment_id)}",
            # The charge carries amount_refunded (a PaymentIntent has no such field).
            {"expand": ["latest_charge"]}, None,
        )

    async def capture(
        self, mode: Mode, key: ApiKey, idem: str, payment_id: str, amount_minor: int | None
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"expand": ["latest_charge"]}
        if amount_minor is not None:
            params["amount_to_capture"] = amount_minor
        return await self._call(
            "POST /v1/payment_intents/{id}/capture", mode, key, "post",
            f"/v1/payment_intents/{_quote(payment_id)}/capture", params, idem,
        )

    async def refund(
        self, mode: Mode, key: ApiKey, idem: str, payment_id: str, amount_minor: int | None,
        reason: str | None,
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"payment_intent": payment_id}
        if amount_minor is not None:
            params["amount"] = amount_minor
        if reason is not None:
            params["reason"] = reason
        return await self._call("POST /v1/refunds", mode, key, "post", "/v1/refunds", params,
                                idem)

    async def list_refunds(self, mode: Mode, key: ApiKey, payment_id: str) -> dict[str, Any]:
        return await self._call("GET /v1/refunds", mode, key, "get", "/v1/refunds",
                                {"payment_intent": payment_id, "limit": 100}, None)

    async def list_disputes(self, mode: Mode, key: ApiKey, payment_id: str) -> dict[str, Any]:
        return await self._call("GET /v1/disputes", mode, key, "get", "/v1/disputes",
                                {"payment_intent": payment_id, "limit": 100}, None)

    async def list_webhook_endpoints(self, mode: Mode, key: ApiKey) -> dict[str, Any]:
        return await self._call("GET /v1/webhook_endpoints", mode, key, "get",
                                "/v1/webhook_endpoints", {"limit": 100}, None)

    async def create_webhook_endpoint(
        self, mode: Mode, key: ApiKey, idem: str, url: str
    ) -> dict[str, Any]:
        return await self._call("POST /v1/webhook_endpoints", mode, key, "post",
                                "/v1/webhook_endpoints",
                                {"url": url, "enabled_events": ["*"],
                                 "description": "AMCI notifications"}, idem)

    async def delete_webhook_endpoint(
        self, mode: Mode, key: ApiKey, endpoint: str
    ) -> dict[str, Any]:
        return await self._call("DELETE /v1/webhook_endpoints/{id}", mode, key, "delete",
                                f"/v1/webhook_endpoints/{_quote(endpoint)}", {}, None)

    @staticmethod
    def verify_event(payload: bytes, header: str, secret: str) -> dict[str, Any] | None:
        """The event, if ``header`` is a valid ``Stripe-Signature`` of ``payload`` under
        ``secret`` (the SDK's check: a v1 HMAC-SHA256 over "{t}.{payload}", t within 300 s;
        docs.stripe.com/webhooks#verify-events); else None."""
        try:
            stripe.Webhook.construct_event(payload, header, secret)
        except (stripe.SignatureVerificationError, ValueError):
            return None
        data = json.loads(payload)
        return data if isinstance(data, dict) else None

    async def reachable(self, mode: Mode) -> bool:
        """The upstream answers HTTP at all (an unauthenticated call gets Stripe's 401)."""
        base = self._upstreams[mode].api_base
        try:
            async with self._session.get(
                f"{base}/v1/payment_intents", timeout=aiohttp.ClientTimeout(total=2)
            ) as resp:
                return resp.status < 500
        except (aiohttp.ClientError, TimeoutError):
            return False

    # --- the one place calls happen ------------------------------------------------------------

    async def _call(
        self,
        endpoint: str,
        mode: Mode,
        key: ApiKey,
        method: str,
        path: str,
        params: dict[str, Any],
        idem: str | None,
    ) -> dict[str, Any]:
        metrics = self._metrics
        await self._take_slot(mode, key, endpoint)
        client = self._clients[mode]
        started = time.perf_counter()
        status = 0
        try:
            # The only reveal() of a key in AMCI: into the SDK's per-request options.
            if idem is None:
                resp = await client.raw_request_async(method, path, api_key=key.reveal(),
                                                      **params)
            else:
                resp = await client.raw_request_async(method, path, api_key=key.reveal(),
                                                      idempotency_key=idem, **params)
            status = int(resp.code)
        except stripe.StripeError as exc:
            status = exc.http_status or 0
            raise self._translate(exc, endpoint) from None
        finally:
            metrics.child(metrics.upstream_requests, endpoint, str(status)).inc()
            metrics.child(metrics.upstream_seconds, endpoint).observe(
                time.perf_counter() - started
            )
        data = resp.data
        if not isinstance(data, dict):
            log(self._log, "upstream_error", level=logging.WARNING, endpoint=endpoint,
                upstream_status=status)
            raise UpstreamUnavailable(502, "Stripe answered with a body that is not an object.")
        return data

    async def _take_slot(self, mode: Mode, key: ApiKey, endpoint: str) -> None:
        """Wait for the rate limits' slot. With strict (shared) limits, a process that wakes up
        late (its event loop or CPU stalled) would send together with the calls booked after it
        and crowd Stripe's one-second window: it books a new slot instead, at most twice, so a
        call leaves within ``LATE_SECONDS`` of a slot."""
        metrics = self._metrics
        loop = asyncio.get_running_loop()
        for attempt in range(3):
            try:
                wait = await self._limits.reserve(mode, key, endpoint)
            except AmciError:
                metrics.child(metrics.limiter_waits, mode.value, "refused").inc()
                raise
            due = loop.time() + wait
            if wait > 0:
                metrics.child(metrics.limiter_waits, mode.value, "waited").inc()
                metrics.child(metrics.limiter_wait_seconds, mode.value).observe(wait)
                await asyncio.sleep(wait)  # the limiter's schedule, not synchronisation
            late = loop.time() - due
            if not self._limits.strict or late <= LATE_SECONDS or attempt == 2:
                return
            metrics.child(metrics.limiter_waits, mode.value, "rebooked").inc()

    def _translate(self, exc: stripe.StripeError, endpoint: str) -> AmciError:
        status = exc.http_status or 0
        body = exc.json_body if isinstance(exc.json_body, dict) else {}
        err = body.get("error") if isinstance(body.get("error"), dict) else {}
        assert isinstance(err, dict)
        if isinstance(exc, stripe.APIConnectionError) or status == 0:
            log(self._log, "upstream_unreachable", level=logging.WARNING, endpoint=endpoint)
            return UpstreamUnavailable(503)
        if status >= 500:
            log(self._log, "upstream_error", level=logging.WARNING, endpoint=endpoint,
                upstream_status=status)
            return UpstreamUnavailable(
                502, "Stripe answered with a server error. Retry with the same Idempotency-Key."
            )
        pi = err.get("payment_intent")
        payment = pi.get("id") if isinstance(pi, dict) else None
        param = err.get("param")
        code = str(err.get("code") or exc.code or _default_code(status))
        decline = err.get("decline_code") if isinstance(err.get("decline_code"), str) else None
        advice = err.get("advice_code") if isinstance(err.get("advice_code"), str) else None
        return UpstreamError(
            status,
            str(err.get("type") or ("card_error" if status == 402 else "invalid_request_error")),
            code,
            str(err.get("message") or exc.user_message or "Stripe refused the request."),
            param=_PARAM_NAMES.get(param, param) if isinstance(param, str) else None,
            decline_code=decline,
            payment=payment if isinstance(payment, str) else None,
            advice_code=advice,
            retryable=declines.retryable(code, decline, advice),
        )

    async def close(self) -> None:
        # AIOHTTPClient leaves a session it was given open: the app's session ctx closes it.
        self._clients.clear()


def _quote(object_id: str) -> str:
    """An id in a URL path, quoted as the SDK's typed services do (``stripe._util.sanitize_id``)."""
    return quote_plus(object_id)


def _default_code(status: int) -> str:
    return {
        401: "api_key_unknown",
        402: "card_declined",
        403: "permission_denied",
        404: "resource_missing",
        409: "idempotency_key_in_use",
        429: "rate_limit",
    }.get(status, "invalid_request")

