"""Mode follows the key: sk_live_/rk_live_ go to the live base address, sk_test_/rk_test_ to the
test mode — never the other way round. The live side here is a recording HTTP server on loopback
that answers like Stripe (api.stripe.com is not reachable from tests, and must never be)."""

from __future__ import annotations

import hashlib
from typing import Any

from aiohttp import web

from amci.settings import SubscriptionSettings, UpstreamSettings
from amci.testmode.app import create_app as create_testmode_app
from amci.testmode.settings import TestmodeSettings

LIVE_KEY = "sk_live_51LiveMerchantSecretKey000000000live"
CARD = {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2034}


def _live_stripe(seen: list[tuple[str, str]]) -> web.Application:
    """Just enough of api.stripe.com for one card payment, recording (path, Authorization)."""

    async def payment_methods(request: web.Request) -> web.Response:
        seen.append((request.path, request.headers.get("Authorization", "")))
        return web.json_response({"id": "pm_live_1", "object": "payment_method", "type": "card",
                                  "livemode": True, "card": CARD})

    async def payment_intents(request: web.Request) -> web.Response:
        seen.append((request.path, request.headers.get("Authorization", "")))
        form = await request.post()
        return web.json_response({
            "id": "pi_live_1", "object": "payment_intent", "livemode": True,
            "amount": int(str(form["amount"])), "amount_capturable": 0,
            "amount_received": int(str(form["amount"])), "currency": str(form["currency"]),
            "status": "requires_confirmation", "capture_method": "automatic",
            "latest_charge": None,
            "payment_method": str(form["payment_method"]), "metadata": {},
            "created": 1_764_000_000,
        })

    async def confirm(request: web.Request) -> web.Response:
        seen.append((request.path, request.headers.get("Authorization", "")))
        return web.json_response({
            "id": "pi_live_1", "object": "payment_intent", "livemode": True, "amount": 1000,
            "amount_capturable": 0, "amount_received": 1000, "currency": "usd",
            "status": "succeeded", "capture_method": "automatic", "latest_charge": "ch_live_1",
            "payment_method": "pm_live_1", "metadata": {}, "created": 1_764_000_000,
        })

    app = web.Application()
    app.router.add_post("/v1/payment_intents/pi_live_1/confirm", confirm)
    app.router.add_post("/v1/payment_methods", payment_methods)
    app.router.add_post("/v1/payment_intents", payment_intents)
    return app


async def test_live_keys_go_to_the_live_base_and_test_keys_never_do(
    make_stack: Any, aiohttp_server: Any
) -> None:
    seen: list[tuple[str, str]] = []
    live = await aiohttp_server(_live_stripe(seen))
    testmode = await aiohttp_server(
        create_testmode_app(TestmodeSettings(db_path=None, rate_limit_per_second=None)))
    live_merchant = SubscriptionSettings(
        id="live-merchant", active=True, stripe_integration_activated=True,
        key_fingerprints=(hashlib.sha256(LIVE_KEY.encode()).hexdigest(),))
    base = await make_stack(testmode=testmode)  # the shared test subscriptions, plus ours:
    stack = await make_stack(
        testmode=testmode,
        subscriptions=(*base.settings.subscriptions, live_merchant),
        upstream=UpstreamSettings(
            test_api_base=base.testmode_url, live_api_base=str(live.make_url("")).rstrip("/"),
            max_network_retries=0, timeout_seconds=10,
        ),
    )

    body = {"amount": "10.00", "currency": "USD", "card": stack.card("4242424242424242")}
    status, pay, _ = await stack.post("/v1/stripe/payments", body, key=LIVE_KEY)
    assert status == 201, pay
    assert (pay["id"], pay["livemode"], pay["amount"]) == ("pi_live_1", True, "10.00")
    # Both calls went to the live upstream, each with the caller's live key as Bearer.
    assert seen == [("/v1/payment_methods", f"Bearer {LIVE_KEY}"),
                    ("/v1/payment_intents", f"Bearer {LIVE_KEY}"),
                    ("/v1/payment_intents/pi_live_1/confirm", f"Bearer {LIVE_KEY}")]

    # A test key goes to the test mode; the live upstream sees nothing more.
    status, pay, _ = await stack.post("/v1/stripe/payments", body)
    assert status == 201, pay
    assert pay["livemode"] is False and pay["id"] != "pi_live_1"
    assert len(seen) == 3
