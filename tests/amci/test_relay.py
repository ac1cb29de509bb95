"""amci.relay over real HTTP: what reaches Stripe (the test-mode server) when AMCI relays through
``StripeClient.raw_request_async`` — the SDK still builds every request: the caller's key as a
Bearer token, Stripe-Version, the derived idempotency key, form encoding, and retries that reuse
that key (docs.stripe.com/api/idempotent_requests)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from amci.app import create_app
from amci.testmode.app import create_app as create_testmode_app
from amci.testmode.settings import TestmodeSettings

Stack = Any
PAY = "/v1/stripe/payments"


@dataclass
class Seen:
    """What the test-mode server received for each POST /v1/payment_intents."""

    requests: list[tuple[dict[str, str], dict[str, str]]] = field(default_factory=list)
    confirms: list[tuple[dict[str, str], dict[str, str]]] = field(default_factory=list)
    fail_first: int = 0  # answer this many of them with 503 before letting them through

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.method == "POST" and request.path.endswith("/confirm"):
            self.confirms.append((dict(request.headers), dict(parse_qsl(await request.text()))))
        if request.method == "POST" and request.path == "/v1/payment_intents":
            form = dict(parse_qsl(await request.text()))
            self.requests.append((dict(request.headers), form))
            if self.fail_first > 0:
                self.fail_first -= 1
                return web.json_response(
                    {"error": {"type": "api_error", "message": "try again"}}, status=503
                )
        response: web.StreamResponse = await handler(request)
        return response


async def _stack(make_stack: Any, aiohttp_server: Any, seen: Seen, **over: Any) -> Stack:
    tm = create_testmode_app(TestmodeSettings(db_path=None, rate_limit_per_second=None))
    tm.middlewares.append(seen.middleware)
    return await make_stack(testmode=await aiohttp_server(tm), **over)


async def test_the_sdk_builds_the_upstream_request(make_stack: Any, aiohttp_server: Any) -> None:
    seen = Seen()
    stack = await _stack(make_stack, aiohttp_server, seen)
    saved = await stack.save_card()
    status, pay, _ = await stack.post(
        PAY, {"amount": "12.34", "currency": "EUR", "token": saved["token"], "reference": "inv-9",
              "metadata": {"plan": "gold"}}, idem="relay-1")
    assert status == 201 and pay["status"] == "succeeded", pay

    [(headers, form)] = seen.requests
    assert headers["Authorization"] == f"Bearer {stack.KEY}"  # the caller's key, per request
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}\.\w+", headers["Stripe-Version"])
    assert re.fullmatch(r"amci-[0-9a-f]{40}", headers["Idempotency-Key"])
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert "stripe" in headers["User-Agent"].lower() and "X-Stripe-Client-User-Agent" in headers
    assert form == {
        "amount": "1234", "currency": "eur", "capture_method": "automatic",
        "payment_method_types[0]": "card", "metadata[plan]": "gold",
        "metadata[reference]": "inv-9", "payment_method": saved["token"],
        "customer": saved["customer"], "expand[0]": "latest_charge",
    }  # created unconfirmed (amci.settlement), then confirmed:
    [(_, confirm)] = seen.confirms
    assert confirm == {"expand[0]": "latest_charge"}
    # no off_session: the customer is paying now (the request didn't say off_session)

    # A merchant-initiated charge of the same token: off_session only when asked for.
    status, pay, _ = await stack.post(
        PAY, {"amount": "1.00", "currency": "EUR", "token": saved["token"], "off_session": True})
    assert status == 201 and pay["status"] == "succeeded", pay
    assert seen.confirms[-1][1]["off_session"] == "true"


async def test_retries_reuse_the_idempotency_key(
    make_stack: Any, aiohttp_server: Any, aiohttp_client: Any
) -> None:
    """A 503 from Stripe is retried by the SDK (``max_network_retries``) with the same key."""
    seen = Seen(fail_first=1)
    stack = await _stack(make_stack, aiohttp_server, seen)
    settings = stack.settings.model_copy(update={
        "upstream": stack.settings.upstream.model_copy(update={"max_network_retries": 1})}
    )
    retrying = await aiohttp_client(create_app(settings))
    resp = await retrying.post(
        PAY, json={"amount": "5.00", "currency": "USD", "card": stack.card()},
        headers={**stack.basic(), "Idempotency-Key": "relay-2"})
    pay = await resp.json()
    assert resp.status == 201 and pay["status"] == "succeeded", pay
    assert len(seen.requests) == 2
    first, second = (headers["Idempotency-Key"] for headers, _ in seen.requests)
    assert first == second


async def test_a_stripe_error_is_relayed_with_its_class(stack: Stack) -> None:
    """The SDK raises its StripeError subclass from Stripe's body; the relay translates it."""
    status, err, _ = await stack.post(
        PAY, {"amount": "5.00", "currency": "USD", "card": stack.card("4000000000009995")},
        idem="relay-3")
    assert status == 402
    assert err["error"]["type"] == "card_error"
    assert (err["error"]["code"], err["error"]["decline_code"]) == ("card_declined",
                                                                    "insufficient_funds")
    assert err["error"]["payment"].startswith("pi_")
