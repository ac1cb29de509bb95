"""Timers persist across restarts; stores older than the timers get theirs at start-up."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest
import stripe
from aiohttp.test_utils import TestServer

from amci.testmode import TestmodeSettings, create_app
from tests.testmode.conftest import advance_clock, new_key
from tests.testmode.shapes import ShapeRecorder

DAY = 86400


@pytest.mark.parametrize("legacy", [False, True], ids=["timer", "store-without-timers"])
async def test_an_authorization_expires_after_a_restart(
    legacy: bool, tmp_path: Path, aiohttp_server: Callable[..., TestServer],
    http: aiohttp.ClientSession, shapes: ShapeRecorder,
) -> None:
    db = tmp_path / "tm.db"
    settings = TestmodeSettings(rate_limit_per_second=None, db_path=str(db))
    key = new_key()

    async def start() -> tuple[TestServer, str, stripe.StripeClient]:
        server = await aiohttp_server(shapes.attach(create_app(settings)))
        base = str(server.make_url("")).rstrip("/")
        return server, base, stripe.StripeClient(
            key, http_client=stripe.AIOHTTPClient(session=http), base_addresses={"api": base},
            max_network_retries=0)

    server, base, c = await start()
    pi = await c.v1.payment_intents.create_async(
        {"amount": 900, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True,
         "capture_method": "manual"})
    await server.close()
    if legacy:
        with sqlite3.connect(db) as raw:
            assert raw.execute("DELETE FROM timers").rowcount == 1
    server, base, c = await start()
    await advance_clock(http, base, 7 * DAY)
    assert (await c.v1.payment_intents.retrieve_async(pi.id)).status == "canceled"
    assert [e.type for e in (await c.v1.events.list_async({"limit": 2})).data] == [
        "charge.expired", "payment_intent.canceled"]
