"""Stripe's webhooks into AMCI and AMCI's notifications out, in process: two AMCI apps sharing a
PostgreSQL store and a real test-mode server register one webhook endpoint for the account,
seal its secret and the key at rest, verify deliveries with the SDK, and deliver one signed
notification per change to a loopback receiver (the billing system's stand-in)."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from amci.app import create_app
from amci.sealing import Sealer
from amci.settings import (
    CallbackSettings,
    NotificationSettings,
    Settings,
    StoreSettings,
    SubscriptionSettings,
)
from amci.testmode import TestmodeSettings
from amci.testmode import create_app as create_testmode_app
from httpkit import signature as signatures
from tests.testmode.receiver import Receiver

KEY = "sk_test_webhooksAmciNotifications4242"
LOGIN = "portaone-webhooks"
SECRET = "callback-secret-1"
DEADLINE_S = 15.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def basic() -> dict[str, str]:
    import base64

    return {"Authorization": "Basic " + base64.b64encode(f"{LOGIN}:{KEY}".encode()).decode()}


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.start()
    yield r
    await r.close()


async def _amci(aiohttp_server: Any, tmp_path: Path, testmode: TestServer, store: str,
                receiver: Receiver, port: int, public_port: int) -> TestServer:
    from tests.amci.conftest import make_settings  # the shared test subscriptions

    base: Settings = make_settings(tmp_path, str(testmode.make_url("")).rstrip("/"))
    settings = base.model_copy(update={
        "store": StoreSettings(url=store),
        "subscriptions": (SubscriptionSettings(
            id="test-sub", active=True, stripe_integration_activated=True,
            allow_any_test_key=True),),
        "notifications": NotificationSettings(
            public_url=f"http://127.0.0.1:{public_port}",
            encryption_key=SecretStr(ENCRYPTION_KEY),
            callback=CallbackSettings(url=receiver.url, secrets=(SecretStr(SECRET),)),
            retry_max_seconds=0.2,
        ),
    })
    server: TestServer = await aiohttp_server(create_app(settings), port=port)
    return server


ENCRYPTION_KEY = Sealer.generate()


async def test_two_replicas_one_endpoint_sealed_secrets_signed_notifications(
    aiohttp_server: Any, tmp_path: Path, pg_url: str, receiver: Receiver,
) -> None:
    testmode = await aiohttp_server(create_testmode_app(TestmodeSettings(
        db_path=None, rate_limit_per_second=None, sweep_interval_seconds=0.1)))
    port_a = free_port()
    a = await _amci(aiohttp_server, tmp_path, testmode, pg_url, receiver, port_a, port_a)
    b = await _amci(aiohttp_server, tmp_path, testmode, pg_url, receiver, free_port(), port_a)
    body = {"amount": "10.00", "currency": "USD", "return_url": "https://billing.example/back",
            "reference": "inv-77",
            "card": {"number": "4000002760003184", "exp_month": 12, "exp_year": 2034,
                     "cvc": "123"}}
    async with aiohttp.ClientSession() as http:
        # Both replicas see the key for the first time at once: one endpoint for the account.
        async def first(server: TestServer, n: int) -> dict[str, Any]:
            async with http.post(server.make_url("/v1/stripe/payments"), headers=basic(),
                                 json={**body, "reference": f"inv-{n}"}) as r:
                assert r.status == 201, await r.text()
                return dict(await r.json())

        paid = await asyncio.gather(first(a, 1), first(b, 2))
        async with http.get(testmode.make_url("/v1/webhook_endpoints"),
                            headers={"Authorization": f"Bearer {KEY}"}) as r:
            endpoints = (await r.json())["data"]
        assert [e["url"] for e in endpoints] == [
            f"http://127.0.0.1:{port_a}/v1/stripe/webhooks/test-sub"]
        # At rest: the whsec_ and the key are sealed, never in the clear.
        conn = await asyncpg.connect(pg_url)
        try:
            sealed = [bytes(r[0]) for r in await conn.fetch(
                "SELECT sealed_secret FROM webhook_endpoints")]
            keys = [bytes(r[0]) for r in await conn.fetch("SELECT sealed FROM stripe_keys")]
        finally:
            await conn.close()
        assert len(sealed) == 1 and b"whsec_" not in sealed[0]
        assert len(keys) == 1 and KEY.encode() not in keys[0]
        assert Sealer(ENCRYPTION_KEY).open(keys[0]) == KEY

        # The customer completes 3D Secure on the test mode's page; nobody asks AMCI anything.
        for pay in paid:
            assert pay["status"] == "requires_action"
            async with http.post(pay["next_action"]["url"], data={"result": "complete"},
                                 allow_redirects=False) as r:
                assert r.status == 303
        got = await receiver.wait_for(2)
        notes = [json.loads(x.body) for x in got]
        for x in got:
            assert signatures.verify(x.headers["AMCI-Signature"], x.body, [SECRET], time.time())
        assert sorted(n["payment"] for n in notes) == sorted(p["id"] for p in paid)
        for note in notes:
            assert (note["type"], note["sequence"], note["data"]["fresh"]) == (
                "payment.succeeded", 1, True)
            assert note["data"]["payment"]["status"] == "succeeded"
            assert note["data"]["payment"]["amount"] == "10.00"

        # A forged delivery: refused, counted.
        async with http.post(a.make_url("/v1/stripe/webhooks/test-sub"), data=b'{"id":"evt_x"}',
                             headers={"Stripe-Signature": "t=1,v1=00"}) as r:
            assert r.status == 400 and (await r.json())["error"]["code"] == "signature_invalid"
        async with http.get(a.make_url("/metrics")) as r:
            assert "amci_webhook_signature_failures_total 1.0" in await r.text()
        # The notifications as the billing system lists them, and the payment by reference.
        async with http.get(a.make_url("/v1/stripe/notifications"), headers=basic()) as r:
            listed = (await r.json())["data"]
        assert {n["state"] for n in listed} == {"delivered"} and len(listed) == 2
        async with http.get(b.make_url("/v1/stripe/payments?reference=inv-2"),
                            headers=basic()) as r:
            assert r.status == 200 and (await r.json())["id"] == paid[1]["id"]

