"""The demo payment system from the settings: created once at start-up (by name), its currencies
assigned; a bad demo section stops start-up with the key named."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from billing_client.app import create_app
from billing_client.settings import DemoSettings, SettingsError

from ..conftest import LOGIN, STRIPE_KEY, bc_settings, url

MakeBilling = Callable[..., Awaitable[TestClient[Any, Any]]]
DEMO = {
    "name": "Stripe (DEMO)",
    "processor": "Stripe",
    "login": LOGIN,
    "password": STRIPE_KEY,
    "enabled_methods": ["VISA"],
}


async def test_created_once_with_its_currencies(
    amci: TestServer, make_billing: MakeBilling
) -> None:
    demo = DemoSettings(payment_system=DEMO, currencies={"USD": "0.5", "chf": "0.46"})
    first = await make_billing(url(amci), "demo.sqlite3", demo=demo)
    systems = (await (await first.get("/api/payment-systems")).json())["data"]
    assert [(p["name"], p["test_mode"], p["enabled_methods"]) for p in systems] == [
        ("Stripe (DEMO)", True, ["VISA"])
    ]
    currencies = (await (await first.get("/api/currencies")).json())["data"]
    assert [(c["code"], c["minimum_payment"], c["payment_system"]) for c in currencies] == [
        ("CHF", "0.46", systems[0]["id"]),
        ("USD", "0.50", systems[0]["id"]),
    ]
    await first.close()
    again = await make_billing(url(amci), "demo.sqlite3", demo=demo)
    assert len((await (await again.get("/api/payment-systems")).json())["data"]) == 1


async def test_a_bad_demo_names_the_key(amci: TestServer, tmp_path: Path, fernet_key: str) -> None:
    demo = DemoSettings(payment_system={**DEMO, "login": "abc"})
    settings = bc_settings(url(amci), str(tmp_path / "bad-demo.sqlite3"), fernet_key, demo=demo)
    runner = web.AppRunner(create_app(settings))
    try:
        with pytest.raises(SettingsError, match=r"^demo\.payment_system\.login: "):
            await runner.setup()  # start-up: the resources, then the demo
    finally:
        await runner.cleanup()
