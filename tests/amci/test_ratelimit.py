"""The per-key limiter keeps AMCI under the upstream's rate limit: callers wait, not 429."""

from __future__ import annotations

import asyncio
from typing import Any

from amci.settings import RateLimitSettings
from amci.testmode.app import create_app as create_testmode_app
from amci.testmode.settings import TestmodeSettings

PAY = "/v1/stripe/payments"


async def burst(stack: Any, n: int) -> list[int]:
    """n token payments at once: one upstream call each (AMCI knows the token's customer)."""
    token = (await stack.save_card())["token"]
    results = await asyncio.gather(*(
        stack.post(PAY, {"amount": "1.00", "currency": "USD", "token": token})
        for _ in range(n)))
    return [status for status, _, _ in results]


async def test_limiter_waits_instead_of_429(make_stack: Any, aiohttp_server: Any) -> None:
    # The upstream allows 6 requests/s (a bucket of 6); AMCI is set to 5/s for the key.
    upstream = await aiohttp_server(create_testmode_app(
        TestmodeSettings(db_path=None, rate_limit_per_second=6.0)))
    limited = await make_stack(
        testmode=upstream,
        rate_limit=RateLimitSettings(enabled=True, test_per_second=5.0, max_wait_seconds=5.0))
    statuses = await burst(limited, 8)
    assert statuses == [201] * 8
    assert await limited.metric("amci_limiter_waits_total", mode="test", outcome="waited") >= 6


async def test_without_the_limiter_the_upstream_says_429(make_stack: Any,
                                                         aiohttp_server: Any) -> None:
    upstream = await aiohttp_server(create_testmode_app(
        TestmodeSettings(db_path=None, rate_limit_per_second=6.0)))
    unlimited = await make_stack(testmode=upstream)  # fixtures switch AMCI's limiter off
    statuses = await burst(unlimited, 8)
    assert 429 in statuses and 201 in statuses


async def test_limiter_refuses_when_the_wait_would_be_too_long(make_stack: Any) -> None:
    # 4/s: calls 0.25 s apart; nobody may wait more than 0.1 s.
    stack = await make_stack(
        rate_limit=RateLimitSettings(enabled=True, test_per_second=4.0, max_wait_seconds=0.1))
    results = await asyncio.gather(*(stack.get(f"{PAY}/pi_doesnotexist0000") for _ in range(3)))
    statuses = sorted(status for status, _ in results)
    assert statuses == [404, 429, 429]  # one reached the upstream (no such payment), two didn't
    assert stack.upstream.count("GET", "/v1/payment_intents") == 1
    assert await stack.metric("amci_limiter_waits_total", outcome="refused") == 2
    assert next(b for st, b in results if st == 429)["error"]["code"] == "rate_limit"
