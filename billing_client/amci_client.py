"""The only module that knows AMCI's URLs (docs/amci-api.md). The base URL and the HTTP session
are constructor arguments, so tests and deployments point it anywhere.

Translation happens here, once:
- AMCI answered with its Stripe-style error envelope (4xx) → ``AmciError`` carrying AMCI's
  ``type``/``code``/``param``/``message`` untouched (the message is meant for the end user);
- AMCI unreachable, timed out, 5xx, its own rate limit (429: "retry shortly", never stored
  under the key), or "same Idempotency-Key still in flight" (409) → ``AmciUnavailable``: the
  outcome is unknown or nothing was done, and the caller may retry with the same key.

Secrets leave the process here and only here: ``Secret.reveal()`` builds the Basic credentials
and the card fields of the JSON body.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp

from billing_client.crypto import ApiKey, Login, Secret
from billing_client.metrics import Metrics


@dataclass(frozen=True, slots=True)
class Credentials:
    """The payment system's login and Stripe key, sent as HTTP Basic ``login:key``."""

    login: Login
    api_key: ApiKey


class AmciError(Exception):
    """AMCI refused the request (4xx, Stripe envelope)."""

    def __init__(self, status: int, error: dict[str, Any]) -> None:
        self.status = status
        self.type = str(error.get("type") or "api_error")
        self.code = error.get("code")
        self.param = error.get("param")
        self.message = str(error.get("message") or "The payment system refused the request.")
        self.decline_code = error.get("decline_code")
        self.payment = error.get("payment")
        # AMCI's word on whether the same card may be retried without the customer.
        retryable = error.get("retryable")
        self.retryable = retryable if isinstance(retryable, bool) else None
        super().__init__(f"AMCI {status} {self.type}/{self.code}")


class AmciUnavailable(Exception):
    """No usable answer from AMCI; safe to retry with the same idempotency key."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


def _wire_default(value: object) -> str:
    if isinstance(value, Secret):
        return value.reveal()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class AmciClient:
    def __init__(
        self,
        base_url: str,
        session: aiohttp.ClientSession,
        *,
        metrics: Metrics,
        timeout_seconds: float = 10.0,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._session = session
        self._metrics = metrics
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)

    # -- routes ---------------------------------------------------------------------------------

    async def save_card(
        self, creds: Credentials, body: dict[str, Any], idempotency_key: str
    ) -> dict[str, Any]:
        return await self._call(
            "POST", "/v1/stripe/cards", "/v1/stripe/cards", creds, body, idempotency_key
        )

    async def delete_card(self, creds: Credentials, token: str) -> dict[str, Any]:
        return await self._call(
            "DELETE", f"/v1/stripe/cards/{quote(token, safe='')}", "/v1/stripe/cards/{token}", creds
        )

    async def create_payment(
        self, creds: Credentials, body: dict[str, Any], idempotency_key: str
    ) -> dict[str, Any]:
        return await self._call(
            "POST", "/v1/stripe/payments", "/v1/stripe/payments", creds, body, idempotency_key
        )

    async def get_card(self, creds: Credentials, token: str) -> dict[str, Any]:
        return await self._call(
            "GET", f"/v1/stripe/cards/{quote(token, safe='')}", "/v1/stripe/cards/{token}", creds
        )

    async def get_payment(self, creds: Credentials, payment_id: str) -> dict[str, Any]:
        return await self._call(
            "GET",
            f"/v1/stripe/payments/{quote(payment_id, safe='')}",
            "/v1/stripe/payments/{id}",
            creds,
        )

    async def find_payment(self, creds: Credentials, reference: str) -> dict[str, Any]:
        """The payment AMCI created with this reference (the transaction id), fresh from
        Stripe; AmciError 404 when there is none."""
        return await self._call(
            "GET",
            f"/v1/stripe/payments?reference={quote(reference, safe='')}",
            "/v1/stripe/payments?reference",
            creds,
        )

    async def authenticate(
        self, creds: Credentials, payment_id: str, return_url: str, idempotency_key: str
    ) -> dict[str, Any]:
        """A fresh 3D Secure link for a payment waiting on its customer."""
        return await self._call(
            "POST",
            f"/v1/stripe/payments/{quote(payment_id, safe='')}/authenticate",
            "/v1/stripe/payments/{id}/authenticate",
            creds,
            {"return_url": return_url},
            idempotency_key,
        )

    async def capture(
        self, creds: Credentials, payment_id: str, body: dict[str, Any], idempotency_key: str
    ) -> dict[str, Any]:
        return await self._call(
            "POST",
            f"/v1/stripe/payments/{quote(payment_id, safe='')}/capture",
            "/v1/stripe/payments/{id}/capture",
            creds,
            body,
            idempotency_key,
        )

    async def refund(
        self, creds: Credentials, payment_id: str, body: dict[str, Any], idempotency_key: str
    ) -> dict[str, Any]:
        return await self._call(
            "POST",
            f"/v1/stripe/payments/{quote(payment_id, safe='')}/refunds",
            "/v1/stripe/payments/{id}/refunds",
            creds,
            body,
            idempotency_key,
        )

    async def void(self, creds: Credentials, payment_id: str) -> dict[str, Any]:
        return await self._call(
            "POST",
            f"/v1/stripe/payments/{quote(payment_id, safe='')}/void",
            "/v1/stripe/payments/{id}/void",
            creds,
            {},
        )

    # -- plumbing -------------------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        route: str,
        creds: Credentials,
        body: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        token = base64.b64encode(
            f"{creds.login.reveal()}:{creds.api_key.reveal()}".encode()
        ).decode()
        headers = {"Authorization": f"Basic {token}", "Accept": "application/json"}
        data: bytes | None = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body, default=_wire_default, separators=(",", ":")).encode()
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        started = time.perf_counter()
        outcome = "unavailable"
        try:
            try:
                async with self._session.request(
                    method, self._base + path, data=data, headers=headers, timeout=self._timeout
                ) as resp:
                    status = resp.status
                    raw = await resp.read()
            except TimeoutError as exc:
                raise AmciUnavailable("AMCI did not answer in time.") from exc
            except (aiohttp.ClientError, OSError) as exc:
                raise AmciUnavailable("AMCI cannot be reached.") from exc
            try:
                parsed = json.loads(raw) if raw else {}
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict):
                raise AmciUnavailable(f"AMCI answered {status} without a JSON object.", status)
            error = parsed.get("error")
            if 200 <= status < 300:
                outcome = "ok"
                return parsed
            if status >= 500 or status == 429 or (
                status == 409
                and isinstance(error, dict)
                and error.get("code") == "idempotency_key_in_use"
            ):
                message = error.get("message") if isinstance(error, dict) else None
                raise AmciUnavailable(str(message or f"AMCI answered {status}."), status)
            outcome = "error"
            raise AmciError(status, error if isinstance(error, dict) else {})
        finally:
            self._metrics.amci_latency.labels(route=route, outcome=outcome).observe(
                time.perf_counter() - started
            )
