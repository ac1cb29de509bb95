"""Shared fixtures: a real test-mode server on loopback, AMCI in front of it, real SDK between.

Rate limits are off here except in the tests about them.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from amci.app import create_app
from amci.logs import JsonFormatter
from amci.settings import (
    EmbeddedTestmodeSettings,
    IdempotencySettings,
    RateLimitSettings,
    Settings,
    StoreSettings,
    SubscriptionSettings,
    UpstreamSettings,
)
from amci.testmode.app import create_app as create_testmode_app
from amci.testmode.settings import TestmodeSettings

KEY = "sk_test_51AcmeSecretKeyForTests000000000wxyz"
KEY_OTHER = "sk_test_51OtherAccountSecretKey0000000abcd"
KEY_INACTIVE = "sk_test_51InactiveSubscriptionKey00000zzzz"
KEY_NOINT = "sk_test_51NoIntegrationSubscription0000yyyy"
LOGIN = "portabilling-login"


def fp(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


SUBSCRIPTIONS = (
    SubscriptionSettings(
        id="acme", name="Acme", active=True, stripe_integration_activated=True,
        key_fingerprints=(fp(KEY), fp(KEY_OTHER)),
    ),
    SubscriptionSettings(
        id="lapsed", active=False, stripe_integration_activated=True,
        key_fingerprints=(fp(KEY_INACTIVE),),
    ),
    SubscriptionSettings(
        id="pending", active=True, stripe_integration_activated=False,
        key_fingerprints=(fp(KEY_NOINT),),
    ),
)


def basic(key: str = KEY, login: str = LOGIN) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{login}:{key}".encode()).decode()}


def card(number: str = "4242424242424242", **extra: Any) -> dict[str, Any]:
    return {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123", **extra}


class Counter:
    """Counts requests the test-mode server receives, by "METHOD path-prefix"."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def count(self, method: str, prefix: str) -> int:
        return sum(1 for c in self.calls if c.startswith(f"{method} {prefix}"))

    def exact(self, method: str, path: str) -> int:
        return sum(1 for c in self.calls if c == f"{method} {path}")

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.calls.append(f"{request.method} {request.path}")
        response: web.StreamResponse = await handler(request)
        return response


@dataclasses.dataclass
class Stack:
    amci: TestClient[web.Request, web.Application]
    testmode: TestServer
    upstream: Counter
    settings: Settings

    # Helpers and constants for the test modules (importlib mode: they can't import conftest).
    KEY = KEY
    KEY_OTHER = KEY_OTHER
    KEY_INACTIVE = KEY_INACTIVE
    KEY_NOINT = KEY_NOINT
    LOGIN = LOGIN
    basic = staticmethod(basic)
    card = staticmethod(card)

    @property
    def testmode_url(self) -> str:
        return str(self.testmode.make_url("")).rstrip("/")

    async def post(self, path: str, body: Any, *, key: str = KEY, idem: str | None = None,
                   headers: dict[str, str] | None = None) -> tuple[int, Any, Any]:
        h = {**basic(key), **(headers or {})}
        if idem is not None:
            h["Idempotency-Key"] = idem
        resp = await self.amci.post(path, json=body, headers=h)
        return resp.status, await resp.json(), resp.headers

    async def get(self, path: str, *, key: str = KEY) -> tuple[int, Any]:
        resp = await self.amci.get(path, headers=basic(key))
        return resp.status, await resp.json()

    async def save_card(self, number: str = "4242424242424242", **body: Any) -> dict[str, Any]:
        status, data, _ = await self.post(
            "/v1/stripe/cards",
            {"card": card(number), "customer": {"email": "john@example.com", "name": "John Doe",
                                                "reference": "cust-42"}, **body},
        )
        assert status == 201, data
        return dict(data)

    async def metric(self, name: str, **labels: str) -> float:
        text = await (await self.amci.get("/metrics")).text()
        total = 0.0
        for line in text.splitlines():
            if not line.startswith(name + "{") and line.split(" ")[0] != name:
                continue
            if all(f'{k}="{v}"' in line for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
        return total


def make_settings(tmp_path: Path, test_api_base: str | None, **over: Any) -> Settings:
    base = Settings(
        store=StoreSettings(db_path=str(tmp_path / "amci.sqlite3")),
        upstream=UpstreamSettings(test_api_base=test_api_base, max_network_retries=0,
                                  timeout_seconds=10),
        rate_limit=RateLimitSettings(enabled=False),
        idempotency=IdempotencySettings(),
        testmode=EmbeddedTestmodeSettings(db_path=None, rate_limit_per_second=None),
        subscriptions=SUBSCRIPTIONS,
    )
    return base.model_copy(update=over)


StackFactory = Callable[..., Awaitable[Stack]]


@pytest.fixture
async def make_stack(
    aiohttp_server: Any, aiohttp_client: Any, tmp_path: Path
) -> AsyncIterator[StackFactory]:
    async def factory(*, testmode: TestServer | None = None, counter: Counter | None = None,
                      **over: Any) -> Stack:
        counter = counter or Counter()
        if testmode is None:
            tm_app = create_testmode_app(TestmodeSettings(db_path=None, rate_limit_per_second=None))
            tm_app.middlewares.append(counter.middleware)
            testmode = await aiohttp_server(tm_app)
        assert testmode is not None
        settings = make_settings(tmp_path, str(testmode.make_url("")).rstrip("/"), **over)
        client = await aiohttp_client(create_app(settings))
        return Stack(client, testmode, counter, settings)

    yield factory


@pytest.fixture
async def stack(make_stack: StackFactory) -> Stack:
    return await make_stack()


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    """Every log record of the process (AMCI, aiohttp, stripe, test mode) at DEBUG, as AMCI's
    JSON lines."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
