"""Fixtures: the real AMCI proxy in front of the real Stripe test-mode server, and billing client
apps pointed at it — all over loopback HTTP (pytest-aiohttp servers). Tests may import ``amci``;
only ``billing_client`` modules may not."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from amci.app import create_app as create_amci_app
from amci.settings import (
    RateLimitSettings,
    StoreSettings,
    SubscriptionSettings,
    UpstreamSettings,
)
from amci.settings import (
    Settings as AmciSettings,
)
from amci.testmode.app import create_app as create_testmode_app
from amci.testmode.settings import TestmodeSettings
from billing_client import keys
from billing_client.app import create_app
from billing_client.auth import Tokens
from billing_client.crypto import Secret, Vault
from billing_client.logs import JsonFormatter
from billing_client.settings import Settings
from billing_client.storage import Storage

STRIPE_KEY = "sk_test_51BillingClientTestsKeywxyz"
LOGIN = "portaone-admin"
VISA = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}
AMEX = {"number": "378282246310005", "exp_month": 12, "exp_year": 2034, "cvc": "1234"}
DECLINED = {"number": "4000000000000002", "exp_month": 12, "exp_year": 2034, "cvc": "123"}

ServerFactory = Callable[..., Awaitable[TestServer]]
ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture
async def testmode(aiohttp_server: ServerFactory) -> TestServer:
    return await aiohttp_server(
        create_testmode_app(TestmodeSettings(db_path=None, rate_limit_per_second=None))
    )


def amci_app(
    testmode_url: str, db_path: str, rate_limit: RateLimitSettings | None = None
) -> web.Application:
    return create_amci_app(
        AmciSettings(
            store=StoreSettings(db_path=db_path),
            upstream=UpstreamSettings(test_api_base=testmode_url, max_network_retries=0),
            rate_limit=rate_limit or RateLimitSettings(enabled=False),
            subscriptions=(
                SubscriptionSettings(
                    id="tests",
                    stripe_integration_activated=True,
                    allow_any_test_key=True,
                    minimum_overrides={"CHF": "0.46"},
                ),
            ),
        )
    )


@pytest.fixture
async def amci(aiohttp_server: ServerFactory, testmode: TestServer, tmp_path: Path) -> TestServer:
    return await aiohttp_server(
        amci_app(str(testmode.make_url("")).rstrip("/"), str(tmp_path / "amci.sqlite3"))
    )


@pytest.fixture
def fernet_key() -> str:
    return Vault.generate_key()


def bc_settings(amci_url: str, db_path: str, key: str, **over: Any) -> Settings:
    return Settings(
        encryption_key=Secret(key),
        amci_url=amci_url,
        db_path=db_path,
        amci_timeout_seconds=over.pop("timeout", 5.0),
        **over,
    )


async def api_token(db_path: str, name: str = "tests") -> str:
    """A real API token in the billing client's store, made the way `create-token` makes one."""
    storage = Storage(db_path)
    await storage.open()
    try:
        return (await Tokens(storage).create(name)).reveal()
    finally:
        await storage.close()


async def authorized(aiohttp_client: ClientFactory, app: web.Application) -> TestClient[Any, Any]:
    """A client for ``app`` that sends a fresh API token (created in its store) on every call."""
    token = await api_token(app[keys.SETTINGS].store, f"tests-{secrets.token_hex(4)}")
    return await aiohttp_client(app, headers={"Authorization": f"Bearer {token}"})


class Clock:
    """The billing client's injected clock: starts at the real time, moves only when told."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_billing(
    aiohttp_client: ClientFactory, tmp_path: Path, fernet_key: str
) -> Callable[..., Awaitable[TestClient[Any, Any]]]:
    """A billing client app (real HTTP server on loopback) pointed at ``amci_url``."""

    async def make(
        amci_url: str,
        db_name: str = "bc.sqlite3",
        *,
        clock: Callable[[], float] = time.time,
        **over: Any,
    ) -> TestClient[Any, Any]:
        app = create_app(
            bc_settings(amci_url, str(tmp_path / db_name), fernet_key, **over), clock=clock
        )
        return await authorized(aiohttp_client, app)

    return make


@pytest.fixture
async def bc(
    amci: TestServer, make_billing: Callable[..., Awaitable[TestClient[Any, Any]]]
) -> TestClient[Any, Any]:
    return await make_billing(str(amci.make_url("")).rstrip("/"))


@pytest.fixture(params=["sqlite", "postgresql"])
async def bc_each_store(
    request: pytest.FixtureRequest,
    amci: TestServer,
    make_billing: Callable[..., Awaitable[TestClient[Any, Any]]],
) -> TestClient[Any, Any]:
    """``bc`` on each storage backend (PostgreSQL: a fresh database on the suite's cluster)."""
    over = {} if request.param == "sqlite" else {"store_url": request.getfixturevalue("pg_url")}
    return await make_billing(str(amci.make_url("")).rstrip("/"), **over)


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def captured_logs() -> Iterator[Captured]:
    handler = Captured()
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old)


async def setup_stripe(
    client: TestClient[Any, Any],
    *,
    protection: str = "token_only",
    methods: tuple[str, ...] = ("VISA", "MasterCard"),
    minimum: str = "0.5",
    email: str | None = "john@example.com",
    currency: str = "USD",
) -> dict[str, Any]:
    """The spec's administrator steps, then a customer. Returns ids."""
    r = await client.post(
        "/api/payment-systems",
        json={
            "name": f"Stripe {protection}",
            "processor": "Stripe",
            "login": LOGIN,
            "password": STRIPE_KEY,
            "test_mode": True,
        },
    )
    assert r.status == 201, await r.text()
    ps = await r.json()
    r = await client.patch(
        f"/api/payment-systems/{ps['id']}",
        json={"enabled_methods": list(methods), "data_protection": protection},
    )
    assert r.status == 200, await r.text()
    r = await client.put(
        f"/api/currencies/{currency}", json={"payment_system": ps["id"], "minimum_payment": minimum}
    )
    assert r.status == 200, await r.text()
    body: dict[str, Any] = {"name": "John Doe", "currency": currency}
    if email:
        body["email"] = email
    r = await client.post("/api/customers", json=body)
    assert r.status == 201, await r.text()
    return {"ps": ps["id"], "customer": (await r.json())["id"]}


async def stripe_payment_intents(testmode_url: str) -> list[dict[str, Any]]:
    """What the Stripe side holds: the test-mode server's list endpoint, in Stripe's shape."""
    import aiohttp

    async with (
        aiohttp.ClientSession() as s,
        s.get(
            f"{testmode_url}/v1/payment_intents?limit=100",
            headers={"Authorization": f"Bearer {STRIPE_KEY}"},
        ) as r,
    ):
        assert r.status == 200, await r.text()
        return list((await r.json())["data"])


def url(server: TestServer) -> str:
    return str(server.make_url("")).rstrip("/")
