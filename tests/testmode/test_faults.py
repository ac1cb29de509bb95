"""Faults on demand, observed through the official SDK as Stripe's own failures would be."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
import stripe
from aiohttp.test_utils import TestServer

from amci.testmode import TestmodeSettings, create_app
from tests.testmode.conftest import advance_clock, new_key
from tests.testmode.receiver import Receiver
from tests.testmode.shapes import ShapeRecorder


async def fault(http: aiohttp.ClientSession, base: str, key: str, **fields: Any) -> dict[str, Any]:
    async with http.post(f"{base}/_testmode/faults", data={k: str(v) for k, v in fields.items()},
                         headers={"Authorization": f"Bearer {key}"}) as r:
        body = await r.json()
        assert r.status == 200, body
        return body  # type: ignore[no-any-return]


def sdk(http: aiohttp.ClientSession, base: str, key: str, retries: int = 0,
        timeout: float = 80) -> stripe.StripeClient:
    return stripe.StripeClient(key, http_client=stripe.AIOHTTPClient(session=http,
                                                                     timeout=timeout),
                               base_addresses={"api": base}, max_network_retries=retries)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.start()
    yield r
    await r.close()


async def test_faults_api_is_per_account(http: aiohttp.ClientSession, stripe_base_url: str,
                                         key: str) -> None:
    f = await fault(http, stripe_base_url, key, kind="api_error", path="/v1/customers*",
                    method="POST", count=2)
    assert f["object"] == "test_helpers.fault" and f["id"].startswith("fault_")
    auth = {"Authorization": f"Bearer {key}"}
    async with http.get(f"{stripe_base_url}/_testmode/faults", headers=auth) as r:
        listed = await r.json()
    assert listed["object"] == "list" and [x["id"] for x in listed["data"]] == [f["id"]]
    async with http.get(f"{stripe_base_url}/_testmode/faults",
                        headers={"Authorization": f"Bearer {new_key()}"}) as r:
        assert (await r.json())["data"] == []
    async with http.get(f"{stripe_base_url}/_testmode/faults") as r:
        assert r.status == 401
    async with http.delete(f"{stripe_base_url}/_testmode/faults/{f['id']}", headers=auth) as r:
        assert (await r.json())["deleted"] is True
    async with http.post(f"{stripe_base_url}/_testmode/faults", data={"kind": "gremlins"},
                         headers=auth) as r:
        assert r.status == 400


async def test_api_error_is_a_stored_500_before_any_change(
    http: aiohttp.ClientSession, stripe_base_url: str, key: str,
) -> None:
    await fault(http, stripe_base_url, key, kind="api_error", path="/v1/customers")
    c = sdk(http, stripe_base_url, key)
    with pytest.raises(stripe.APIError) as exc:
        await c.v1.customers.create_async({"email": "a@example.com"}, {"idempotency_key": "k1"})
    assert exc.value.http_status == 500
    assert (await c.v1.customers.list_async()).data == []
    # The fault is used up; the same key replays the stored 500 (Stripe caches 500s).
    with pytest.raises(stripe.APIError) as again:
        await c.v1.customers.create_async({"email": "a@example.com"}, {"idempotency_key": "k1"})
    assert again.value.headers is not None
    assert again.value.headers.get("Idempotent-Replayed") == "true"
    assert (await c.v1.customers.list_async()).data == []
    assert (await c.v1.customers.create_async({"email": "a@example.com"})).id


async def test_api_error_after_commit_the_object_exists_once_and_is_found(
    http: aiohttp.ClientSession, stripe_base_url: str, key: str, receiver: Receiver,
) -> None:
    c = sdk(http, stripe_base_url, key, retries=2)
    we = await c.v1.webhook_endpoints.create_async(
        {"url": receiver.url,
         "enabled_events": ["payment_intent.succeeded"]})
    await fault(http, stripe_base_url, key, kind="api_error_after_commit",
                path="/v1/payment_intents", method="POST")
    t0 = time.monotonic()
    with pytest.raises(stripe.APIError):  # the SDK retried with the same key: replayed 500s
        await c.v1.payment_intents.create_async(
            {"amount": 700, "currency": "usd", "payment_method": "pm_card_visa",
             "confirm": True, "metadata": {"order": "o-1"}}, {"idempotency_key": "order-o-1"})
    assert time.monotonic() - t0 >= 0.5  # it did back off and retry
    pis = (await c.v1.payment_intents.list_async()).data
    assert len(pis) == 1 and pis[0].status == "succeeded"  # exists once
    got = await receiver.wait_for(1)
    assert we.secret is not None
    ev = stripe.Webhook.construct_event(got[0].body, got[0].headers["Stripe-Signature"],
                                        we.secret)
    assert ev.data.object["id"] == pis[0].id and ev.request is not None
    assert ev.request.idempotency_key == "order-o-1"


async def test_rate_limit_and_lock_timeout(http: aiohttp.ClientSession, stripe_base_url: str,
                                           key: str) -> None:
    c = sdk(http, stripe_base_url, key, retries=2)
    await fault(http, stripe_base_url, key, kind="rate_limit", path="/v1/customers")
    with pytest.raises(stripe.RateLimitError) as exc:
        await c.v1.customers.create_async()
    # stripe-python builds RateLimitError without ``code``: it is in the error object.
    assert exc.value.error is not None and exc.value.error.code == "rate_limit"
    assert exc.value.http_status == 429
    assert exc.value.headers is not None and "Stripe-Should-Retry" not in exc.value.headers
    await fault(http, stripe_base_url, key, kind="lock_timeout", path="/v1/customers")
    cus = await c.v1.customers.create_async()  # retried by the SDK (Stripe-Should-Retry: true)
    assert len((await c.v1.customers.list_async()).data) == 1 and cus.id
    await fault(http, stripe_base_url, key, kind="lock_timeout", path="/v1/customers")
    with pytest.raises(stripe.RateLimitError) as lock:
        await sdk(http, stripe_base_url, key).v1.customers.create_async()
    assert lock.value.error is not None and lock.value.error.code == "lock_timeout"
    assert lock.value.headers is not None
    assert lock.value.headers.get("Stripe-Should-Retry") == "true"


async def test_latency_disconnect_and_timeout(http: aiohttp.ClientSession,
                                              stripe_base_url: str, key: str) -> None:
    await fault(http, stripe_base_url, key, kind="latency", path="/v1/customers",
                latency_ms=300)
    t0 = time.monotonic()
    await sdk(http, stripe_base_url, key).v1.customers.list_async()
    assert time.monotonic() - t0 >= 0.3
    await fault(http, stripe_base_url, key, kind="disconnect", path="/v1/customers")
    with pytest.raises(stripe.APIConnectionError):
        await sdk(http, stripe_base_url, key).v1.customers.create_async()
    # With retries the SDK reconnects and retries with the same key: one customer.
    await fault(http, stripe_base_url, key, kind="disconnect", path="/v1/customers")
    await sdk(http, stripe_base_url, key, retries=1).v1.customers.create_async()
    await fault(http, stripe_base_url, key, kind="timeout", path="/v1/customers",
                latency_ms=5000)
    with pytest.raises(stripe.APIConnectionError):
        await sdk(http, stripe_base_url, key, timeout=0.3).v1.customers.create_async()
    assert len((await sdk(http, stripe_base_url, key).v1.customers.list_async()).data) == 1


async def test_delivery_faults(http: aiohttp.ClientSession, stripe_base_url: str, key: str,
                               receiver: Receiver) -> None:
    c = sdk(http, stripe_base_url, key)
    await c.v1.webhook_endpoints.create_async(
        {"url": receiver.url,
         "enabled_events": ["customer.created", "customer.updated"]})
    await fault(http, stripe_base_url, key, kind="duplicate_delivery", path="customer.created")
    cus = await c.v1.customers.create_async()
    got = await receiver.wait_for(2)
    assert json.loads(got[0].body)["id"] == json.loads(got[1].body)["id"]
    await fault(http, stripe_base_url, key, kind="delayed_delivery", path="customer.*",
                latency_ms=60_000)
    await c.v1.customers.update_async(cus.id, {"name": "Ada"})
    await advance_clock(http, stripe_base_url, 0)
    assert len(receiver.received) == 2
    await advance_clock(http, stripe_base_url, 60)
    assert json.loads(receiver.received[2].body)["type"] == "customer.updated"
    await fault(http, stripe_base_url, key, kind="out_of_order_delivery", path="customer.created")
    await c.v1.customers.create_async({"name": "first"})
    await c.v1.customers.update_async(cus.id, {"name": "second"})
    got = await receiver.wait_for(5)
    assert [json.loads(r.body)["data"]["object"]["name"] for r in got[3:]] == [
        "second", "first"]


async def test_background_error_rate_is_seeded(
    aiohttp_server: Callable[..., TestServer], http: aiohttp.ClientSession,
    shapes: ShapeRecorder,
) -> None:
    async def pattern() -> list[int]:
        server = await aiohttp_server(shapes.attach(create_app(TestmodeSettings(
            rate_limit_per_second=None, fault_error_rate=0.5, fault_seed=7))))
        base = str(server.make_url("")).rstrip("/")
        out = []
        for _ in range(20):
            async with http.get(f"{base}/v1/customers",
                                headers={"Authorization": f"Bearer {new_key()}"}) as r:
                out.append(r.status)
        return out

    first = await pattern()
    assert set(first) == {200, 500}
    assert await pattern() == first
