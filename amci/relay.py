"""The relay to Stripe: the only module that imports ``stripe``; its errors are translated here,
once, into AMCI's error tree.

One ``stripe.StripeClient`` per mode (``base_addresses`` is per client: test → the embedded
test-mode server or any URL, live → https://api.stripe.com), each on the app's aiohttp session
through ``stripe.AIOHTTPClient(session=…)``, with ``max_network_retries`` set explicitly (the SDK
makes none by default on a StripeClient). Every call passes the caller's key and an idempotency
key in the per-request options, so one client serves every caller; retries reuse that key
(stripe-facts §10) and Stripe dedupes them.

Calls go through the per-key limiter first, and are counted in the upstream metrics.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
import stripe

from amci.auth import ApiKey, Mode
from amci.errors import AmciError, UpstreamError, UpstreamUnavailable
from amci.limiter import Limiter
from amci.logs import log
from amci.metrics import Metrics

T = TypeVar("T")

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
        limiters: Mapping[Mode, Limiter | None],
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
        self._limiters = dict(limiters)
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
        c = self._clients[mode].v1.customers
        return await self._call(
            "POST /v1/customers", mode, key, lambda o: c.create_async(params, o), idem  # type: ignore[arg-type]
        )

    async def create_card_method(
        self, mode: Mode, key: ApiKey, idem: str, *, number: str, exp_month: int, exp_year: int,
        cvc: str | None, holder: str | None,
    ) -> dict[str, Any]:
        card: dict[str, Any] = {"number": number, "exp_month": exp_month, "exp_year": exp_year}
        if cvc is not None:
            card["cvc"] = cvc
        params: dict[str, Any] = {"type": "card", "card": card}
        if holder:
            params["billing_details"] = {"name": holder}
        c = self._clients[mode].v1.payment_methods
        return await self._call(
            "POST /v1/payment_methods", mode, key, lambda o: c.create_async(params, o), idem  # type: ignore[arg-type]
        )

    async def attach(
        self, mode: Mode, key: ApiKey, idem: str, *, payment_method: str, customer: str
    ) -> dict[str, Any]:
        c = self._clients[mode].v1.payment_methods
        return await self._call(
            "POST /v1/payment_methods/{id}/attach",
            mode,
            key,
            lambda o: c.attach_async(payment_method, {"customer": customer}, o),
            idem,
        )

    async def detach(self, mode: Mode, key: ApiKey, *, payment_method: str) -> dict[str, Any]:
        c = self._clients[mode].v1.payment_methods
        return await self._call(
            "POST /v1/payment_methods/{id}/detach",
            mode,
            key,
            lambda o: c.detach_async(payment_method, None, o),
            None,
        )

    async def retrieve_method(
        self, mode: Mode, key: ApiKey, *, payment_method: str
    ) -> dict[str, Any]:
        c = self._clients[mode].v1.payment_methods
        return await self._call(
            "GET /v1/payment_methods/{id}",
            mode,
            key,
            lambda o: c.retrieve_async(payment_method, None, o),
            None,
        )

    async def create_payment(
        self, mode: Mode, key: ApiKey, idem: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        c = self._clients[mode].v1.payment_intents
        return await self._call(
            "POST /v1/payment_intents", mode, key, lambda o: c.create_async(params, o), idem  # type: ignore[arg-type]
        )

    async def retrieve_payment(self, mode: Mode, key: ApiKey, payment_id: str) -> dict[str, Any]:
        c = self._clients[mode].v1.payment_intents
        return await self._call(
            "GET /v1/payment_intents/{id}",
            mode,
            key,
            # The charge carries amount_refunded (a PaymentIntent has no such field).
            lambda o: c.retrieve_async(payment_id, {"expand": ["latest_charge"]}, o),
            None,
        )

    async def capture(
        self, mode: Mode, key: ApiKey, idem: str, payment_id: str, amount_minor: int | None
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"expand": ["latest_charge"]}
        if amount_minor is not None:
            params["amount_to_capture"] = amount_minor
        c = self._clients[mode].v1.payment_intents
        return await self._call(
            "POST /v1/payment_intents/{id}/capture",
            mode,
            key,
            lambda o: c.capture_async(payment_id, params, o),  # type: ignore[arg-type]
            idem,
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
        c = self._clients[mode].v1.refunds
        return await self._call(
            "POST /v1/refunds", mode, key, lambda o: c.create_async(params, o), idem  # type: ignore[arg-type]
        )

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

    def api_base(self, mode: Mode) -> str:
        return self._upstreams[mode].api_base

    # --- the one place calls happen ------------------------------------------------------------

    async def _call(
        self,
        endpoint: str,
        mode: Mode,
        key: ApiKey,
        call: Callable[[Any], Awaitable[Any]],
        idem: str | None,
    ) -> dict[str, Any]:
        limiter = self._limiters.get(mode)
        if limiter is not None:
            try:
                wait = limiter.reserve(key.fingerprint)
            except AmciError:
                self._metrics.limiter_waits.labels(mode.value, "refused").inc()
                raise
            if wait > 0:
                self._metrics.limiter_waits.labels(mode.value, "waited").inc()
                self._metrics.limiter_wait_seconds.labels(mode.value).observe(wait)
                await asyncio.sleep(wait)  # the limiter's schedule, not synchronisation
        # The only reveal() of a key in AMCI: into the SDK's per-request options.
        options: dict[str, Any] = {"api_key": key.reveal()}
        if idem is not None:
            options["idempotency_key"] = idem
        started = time.perf_counter()
        status = 0
        try:
            obj = await call(options)
            status = 200
        except stripe.StripeError as exc:
            status = exc.http_status or 0
            raise self._translate(exc, endpoint) from None
        finally:
            self._metrics.upstream_requests.labels(endpoint, str(status)).inc()
            self._metrics.upstream_seconds.labels(endpoint).observe(time.perf_counter() - started)
        result: dict[str, Any] = obj.to_dict()
        return result

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
        code = err.get("code") or exc.code or _default_code(status)
        return UpstreamError(
            status,
            str(err.get("type") or ("card_error" if status == 402 else "invalid_request_error")),
            str(code),
            str(err.get("message") or exc.user_message or "Stripe refused the request."),
            param=_PARAM_NAMES.get(param, param) if isinstance(param, str) else None,
            decline_code=decline if isinstance(decline := err.get("decline_code"), str) else None,
            payment=payment if isinstance(payment, str) else None,
        )

    async def close(self) -> None:
        # AIOHTTPClient leaves a session it was given open: the app's session ctx closes it.
        self._clients.clear()


def _default_code(status: int) -> str:
    return {
        401: "api_key_unknown",
        402: "card_declined",
        403: "permission_denied",
        404: "resource_missing",
        409: "idempotency_key_in_use",
        429: "rate_limit",
    }.get(status, "invalid_request")

