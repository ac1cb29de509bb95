"""Payments (sale, authorization): no double charge across client retries (``Idempotency-Key``),
timeouts and concurrent duplicates, each checked on the Stripe side; declines and minimums."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from ..conftest import DECLINED, VISA, setup_stripe, stripe_payment_intents, url

Client = TestClient[Any, Any]
ServerFactory = Callable[..., Awaitable[TestServer]]


async def test_same_idempotency_key_pays_once(bc: Client, testmode: TestServer) -> None:
    ids = await setup_stripe(bc)
    path = f"/api/customers/{ids['customer']}/payments"
    body = {"amount": "10.00", "card": VISA}
    first = await bc.post(path, json=body, headers={"Idempotency-Key": "order-1001"})
    assert first.status == 201, await first.text()
    second = await bc.post(path, json=body, headers={"Idempotency-Key": "order-1001"})
    assert second.status == 201 and second.headers["Idempotent-Replayed"] == "true"
    a, b = await first.json(), await second.json()
    assert a["id"] == b["id"] and a["amci"]["payment"] == b["amci"]["payment"]
    assert len(await stripe_payment_intents(url(testmode))) == 1
    # Same key, other parameters: refused, nothing charged.
    r = await bc.post(
        path, json={**body, "amount": "11.00"}, headers={"Idempotency-Key": "order-1001"}
    )
    assert r.status == 400 and (await r.json())["error"]["type"] == "idempotency_error"
    # A refusal replays too (same status, same recorded transaction).
    small = {"amount": "0.10", "card": VISA}
    r1 = await bc.post(path, json=small, headers={"Idempotency-Key": "order-1002"})
    r2 = await bc.post(path, json=small, headers={"Idempotency-Key": "order-1002"})
    assert r1.status == r2.status == 400
    assert (await r1.json())["error"]["transaction"]["id"] == (await r2.json())["error"][
        "transaction"
    ]["id"]
    assert len(await stripe_payment_intents(url(testmode))) == 1


class HoldFirstPayment:
    """A real HTTP hop in front of AMCI that forwards the first payment but holds its answer
    until released: the billing client times out although AMCI did charge."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.forwarded = asyncio.Event()
        self.release = asyncio.Event()
        self.held = False

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() in ("authorization", "content-type", "idempotency-key")
        }
        async with (
            aiohttp.ClientSession() as s,
            s.request(
                request.method, self.upstream + request.path_qs, data=body, headers=headers
            ) as up,
        ):
            status, payload = up.status, await up.read()
        if request.path == "/v1/stripe/payments" and not self.held:
            self.held = True
            self.forwarded.set()
            await self.release.wait()
        return web.Response(status=status, body=payload, content_type="application/json")


async def test_timeout_then_retry_never_charges_twice(
    aiohttp_server: ServerFactory,
    amci: TestServer,
    testmode: TestServer,
    make_billing: Callable[..., Awaitable[Client]],
) -> None:
    hop = HoldFirstPayment(url(amci))
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", hop.handle)
    proxy = await aiohttp_server(app)
    bc = await make_billing(url(proxy), timeout=0.5)
    ids = await setup_stripe(bc)
    cust = ids["customer"]
    body = {"amount": "10.00", "card": VISA}
    try:
        r = await bc.post(
            f"/api/customers/{cust}/payments", json=body, headers={"Idempotency-Key": "checkout-7"}
        )
        assert hop.forwarded.is_set()  # AMCI did take the payment...
        assert r.status == 502  # ...but the billing client could not know: pending
        pending = (await r.json())["error"]["transaction"]
        assert pending["status"] == "pending"
        assert len(await stripe_payment_intents(url(testmode))) == 1
    finally:
        hop.release.set()
    # The customer's browser retries the same request: completed under the same AMCI key.
    r = await bc.post(
        f"/api/customers/{cust}/payments", json=body, headers={"Idempotency-Key": "checkout-7"}
    )
    assert r.status == 201, await r.text()
    done = await r.json()
    assert done["id"] == pending["id"] and done["status"] == "succeeded"
    intents = await stripe_payment_intents(url(testmode))
    assert [pi["id"] for pi in intents] == [done["amci"]["payment"]]


async def test_concurrent_duplicates_charge_once(bc: Client, testmode: TestServer) -> None:
    ids = await setup_stripe(bc)
    path = f"/api/customers/{ids['customer']}/payments"
    body = {"amount": "10.00", "card": VISA}
    replies = await asyncio.gather(
        *(bc.post(path, json=body, headers={"Idempotency-Key": "double-click"}) for _ in range(4))
    )
    statuses = sorted(r.status for r in replies)
    assert statuses[0] == 201 and set(statuses) <= {201, 409}, statuses
    ok = {(await r.json())["id"] for r in replies if r.status == 201}
    assert len(ok) == 1  # every success is the same transaction
    for r in replies:
        if r.status == 409:
            assert (await r.json())["error"]["code"] == "idempotency_key_in_use"
    assert len(await stripe_payment_intents(url(testmode))) == 1


async def test_decline_records_amcis_message(bc: Client) -> None:
    ids = await setup_stripe(bc)
    r = await bc.post(
        f"/api/customers/{ids['customer']}/payments", json={"amount": "10.00", "card": DECLINED}
    )
    assert r.status == 402, await r.text()
    err = (await r.json())["error"]
    assert err["type"] == "card_error" and err["message"] == "Your card was declined."
    assert err["decline_code"] == "generic_decline"
    txn = err["transaction"]
    assert (txn["status"], txn["message"], txn["card"]["last4"]) == (
        "failed",
        "Your card was declined.",
        "0002",
    )
    assert txn["error"]["code"] == "card_declined"


async def test_chf_minimum(bc: Client) -> None:
    ids = await setup_stripe(bc, currency="CHF", minimum="0.46")
    r = await bc.post(
        f"/api/customers/{ids['customer']}/payments", json={"amount": "0.45", "card": VISA}
    )
    assert r.status == 400
    assert (await r.json())["error"]["message"] == "Your payment must be no less than 0.46 CHF"
    r = await bc.post(
        f"/api/customers/{ids['customer']}/payments", json={"amount": "0.46", "card": VISA}
    )
    assert r.status == 201, await r.text()


async def test_restart_loses_nothing(
    amci: TestServer, make_billing: Callable[..., Awaitable[Client]]
) -> None:
    first = await make_billing(url(amci), "restart.sqlite3")
    ids = await setup_stripe(first)
    cust = ids["customer"]
    card = await (await first.post(f"/api/customers/{cust}/cards", json={"card": VISA})).json()
    sale = await (
        await first.post(
            f"/api/customers/{cust}/payments", json={"amount": "10.00", "card_id": card["id"]}
        )
    ).json()
    await first.close()

    second = await make_billing(url(amci), "restart.sqlite3")
    cards = (await (await second.get(f"/api/customers/{cust}/cards")).json())["data"]
    assert [c["id"] for c in cards] == [card["id"]]
    got = await (await second.get(f"/api/transactions/{sale['id']}")).json()
    assert got["status"] == "succeeded" and got["amci"]["payment"] == sale["amci"]["payment"]
    # The key decrypts after the restart: the saved card still pays.
    r = await second.post(
        f"/api/customers/{cust}/payments", json={"amount": "1.00", "card_id": card["id"]}
    )
    assert r.status == 201, await r.text()
