"""The embedded test mode gets ``testmode.public_url``: its 3D Secure page URLs use it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import stripe

from amci import keys
from amci.app import create_app
from amci.settings import (
    EmbeddedTestmodeSettings,
    RateLimitSettings,
    Settings,
    StoreSettings,
    SubscriptionSettings,
)


async def test_embedded_testmode_builds_page_urls_from_public_url(
    aiohttp_client: Any, tmp_path: Path,
) -> None:
    settings = Settings(
        store=StoreSettings(db_path=str(tmp_path / "amci.sqlite3")),
        rate_limit=RateLimitSettings(enabled=False),
        testmode=EmbeddedTestmodeSettings(db_path=None, rate_limit_per_second=None,
                                          public_url="https://stripe.example.test"),
        subscriptions=(SubscriptionSettings(id="demo", stripe_integration_activated=True,
                                            allow_any_test_key=True),),
    )
    client = await aiohttp_client(create_app(settings))
    base = client.server.app[keys.TEST_API_BASE]
    async with aiohttp.ClientSession() as http:
        sdk = stripe.StripeClient("sk_test_public_url", http_client=stripe.AIOHTTPClient(
            session=http), base_addresses={"api": base}, max_network_retries=0)
        pi = await sdk.v1.payment_intents.create_async(
            {"amount": 1000, "currency": "eur", "confirm": True,
             "payment_method": "pm_card_authenticationRequired",
             "return_url": "https://shop.example/back"})
    assert pi.next_action is not None and pi.next_action.redirect_to_url is not None
    assert str(pi.next_action.redirect_to_url.url).startswith(
        "https://stripe.example.test/_testmode/authenticate/")
