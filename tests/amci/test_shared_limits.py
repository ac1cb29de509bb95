"""The relay under shared (PostgreSQL) rate limits: a call that wakes up late books again
instead of crowding the calls booked after it. Real relay, real store, real test-mode server."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import aiohttp

from amci.auth import ApiKey, Mode
from amci.limiter import SharedLimits
from amci.metrics import create_metrics
from amci.relay import Relay, Upstream
from amci.store import open_store
from amci.store.postgres import PostgresStore
from amci.testmode.app import create_app as create_testmode_app
from amci.testmode.settings import TestmodeSettings

KEY = ApiKey("sk_test_51SharedLimitsRelayKey000000000000wxyz")


async def test_a_late_wake_up_books_a_new_slot(pg_url: str, aiohttp_server: Any) -> None:
    store = await open_store(pg_url)
    assert isinstance(store, PostgresStore)
    server = await aiohttp_server(create_testmode_app(
        TestmodeSettings(db_path=None, rate_limit_per_second=None)))
    base = str(server.make_url("")).rstrip("/")
    metrics = create_metrics()
    # 4.5/s booked: slots 0.22 s apart.
    limits = SharedLimits(store, account_of=lambda key: "acme",
                          per_second={Mode.TEST: 5.0, Mode.LIVE: 5.0},
                          endpoint_per_second=5.0, max_wait=5.0)

    def count(outcome: str) -> float:
        return metrics.registry.get_sample_value(
            "amci_limiter_waits_total", {"mode": "test", "outcome": outcome}) or 0.0

    async with aiohttp.ClientSession() as session:
        relay = Relay(session, {mode: Upstream(base, 0, 10) for mode in Mode}, limits=limits,
                      metrics=metrics, logger=logging.getLogger("test"))
        first = await relay.create_customer(Mode.TEST, KEY, "idem-1", email="a@example.com",
                                            name=None, reference=None)
        assert (count("waited"), count("rebooked")) == (0, 0)
        # The second call's slot is ~0.22 s away; the event loop stalls through it.
        asyncio.get_running_loop().call_later(0.05, time.sleep, 0.4)
        second = await relay.create_customer(Mode.TEST, KEY, "idem-2", email="b@example.com",
                                             name=None, reference=None)
        assert first["id"] != second["id"]
        assert count("rebooked") == 1
        assert count("waited") >= 1
        await relay.close()
    await store.close()


async def test_the_headroom_sets_the_spacing_of_booked_calls(pg_url: str) -> None:
    """At 10/s, headroom 0.5 books calls 0.2 s apart; 1.0 books them 0.1 s apart."""
    store = await open_store(pg_url)
    assert isinstance(store, PostgresStore)
    try:
        for headroom, spacing in ((0.5, 0.2), (1.0, 0.1)):
            limits = SharedLimits(store, account_of=lambda key, h=headroom: f"acct-{h}",
                                  per_second={Mode.TEST: 10.0, Mode.LIVE: 10.0},
                                  endpoint_per_second=100.0, max_wait=5.0, headroom=headroom)
            waits = [await limits.reserve(Mode.TEST, KEY, "/v1/customers") for _ in range(3)]
            # Each wait is the slot's distance from "now"; the calls between take a little time.
            assert waits[0] == 0.0
            assert spacing * 2 - 0.05 < waits[2] <= spacing * 2, waits
    finally:
        await store.close()
