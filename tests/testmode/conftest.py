"""Fixtures for the test-mode contract suite.

The suite talks to a Stripe-compatible server only through ``stripe_base_url`` (plus the
documented ``/_testmode/clock`` helper), so any other Stripe-compatible server can be plugged in
by overriding that fixture. By default it is AMCI's own server on an ephemeral loopback port,
in memory, with the rate limit off (the rate-limit test builds its own app).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable, Iterator

import aiohttp
import pytest
import stripe
from aiohttp.test_utils import TestServer

from amci.testmode import TestmodeSettings, create_app
from tests.testmode.shapes import ShapeRecorder

ClientFactory = Callable[..., stripe.StripeClient]


def new_key() -> str:
    return "sk_test_" + secrets.token_hex(12)


@pytest.fixture
def shapes() -> Iterator[ShapeRecorder]:
    """Checks every JSON response of the test-mode apps it is attached to against Stripe's
    schemas: a test whose responses are not Stripe's shape fails at teardown, naming the
    fields. ``testmode_server`` attaches it; tests building their own app call ``attach``."""
    recorder = ShapeRecorder()
    yield recorder
    assert not recorder.failures, "responses not in Stripe's shape:\n" + "\n".join(
        recorder.failures[:20])


@pytest.fixture
async def testmode_server(aiohttp_server, shapes: ShapeRecorder) -> TestServer:  # type: ignore[no-untyped-def]
    app = create_app(TestmodeSettings(rate_limit_per_second=None))
    return await aiohttp_server(shapes.attach(app))


@pytest.fixture
def stripe_base_url(testmode_server: TestServer) -> str:
    return str(testmode_server.make_url("")).rstrip("/")


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def make_client(http: aiohttp.ClientSession, stripe_base_url: str) -> ClientFactory:
    def make(key: str | None = None, base_url: str | None = None) -> stripe.StripeClient:
        return stripe.StripeClient(
            key or new_key(),
            http_client=stripe.AIOHTTPClient(session=http),
            base_addresses={"api": base_url or stripe_base_url},
            max_network_retries=0,
        )

    return make


@pytest.fixture
def client(make_client: ClientFactory) -> stripe.StripeClient:
    """A client on a fresh account (every test key is its own account)."""
    return make_client()


@pytest.fixture
def key() -> str:
    return new_key()


async def advance_clock(http: aiohttp.ClientSession, base_url: str, seconds: int) -> int:
    url = f"{base_url}/_testmode/clock/advance"
    async with http.post(url, data={"seconds": str(seconds)}) as r:
        assert r.status == 200
        return int((await r.json())["now"])
