"""Per-account rate limit (25 req/s by default) answered as Stripe's 429; a frozen clock makes
it deterministic."""

from __future__ import annotations

import aiohttp
import pytest
import stripe

from amci.testmode import Clock, TestmodeSettings, create_app
from amci.testmode.ratelimit import RateLimiter
from tests.testmode.conftest import ClientFactory, advance_clock
from tests.testmode.shapes import ShapeRecorder


async def test_429_per_account_and_refill(aiohttp_server, make_client: ClientFactory,  # type: ignore[no-untyped-def]
                                          http: aiohttp.ClientSession,
                                          shapes: ShapeRecorder) -> None:
    app = create_app(TestmodeSettings(), clock=Clock(frozen=True))
    server = await aiohttp_server(shapes.attach(app))
    base = str(server.make_url("")).rstrip("/")
    busy, calm = make_client(base_url=base), make_client(base_url=base)
    for _ in range(25):
        await busy.v1.customers.list_async()
    with pytest.raises(stripe.RateLimitError) as exc:
        await busy.v1.customers.list_async()
    assert exc.value.http_status == 429
    assert exc.value.json_body is not None
    assert exc.value.json_body["error"]["code"] == "rate_limit"
    await calm.v1.customers.list_async()  # another account is unaffected
    await advance_clock(http, base, 1)
    await busy.v1.customers.list_async()


async def test_rate_limit_can_be_off(  # type: ignore[no-untyped-def]
    aiohttp_server, make_client: ClientFactory, shapes: ShapeRecorder,
) -> None:
    app = create_app(TestmodeSettings(rate_limit_per_second=None), clock=Clock(frozen=True))
    server = await aiohttp_server(shapes.attach(app))
    client = make_client(base_url=str(server.make_url("")).rstrip("/"))
    for _ in range(60):
        await client.v1.customers.list_async()


@pytest.mark.parametrize(("rate", "burst"), [(1.0, 1), (5.0, 5), (0.5, 1)])
def test_bucket_table(rate: float, burst: int) -> None:
    clock = Clock(start=1_000_000, frozen=True)
    limiter = RateLimiter(rate, clock.time)
    assert [limiter.allow("a") for _ in range(burst + 1)] == [True] * burst + [False]
    assert limiter.allow("b")
    clock.advance(1 / rate)
    assert limiter.allow("a")
    assert not limiter.allow("a")
