"""Transactions: a pending payment (AMCI down) is recorded, and
``POST /api/transactions/{id}/retry`` completes it once, under the same AMCI key; a one-off card
must be sent again, the same card."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from ..conftest import VISA, amci_app, setup_stripe, stripe_payment_intents, url

Client = TestClient[Any, Any]
ServerFactory = Callable[..., Awaitable[TestServer]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_amci_outage_then_retry_completes_once(
    aiohttp_server: ServerFactory,
    testmode: TestServer,
    make_billing: Callable[..., Awaitable[Client]],
    tmp_path: Any,
) -> None:
    # AMCI up for the set-up (card saved), then down for the payment, then back on the same port.
    port = free_port()
    amci_db = str(tmp_path / "amci-outage.sqlite3")
    amci = await aiohttp_server(amci_app(url(testmode), amci_db), port=port)
    bc = await make_billing(f"http://127.0.0.1:{port}")
    ids = await setup_stripe(bc)
    cust = ids["customer"]
    card = await (await bc.post(f"/api/customers/{cust}/cards", json={"card": VISA})).json()
    await amci.close()

    r = await bc.post(
        f"/api/customers/{cust}/payments", json={"amount": "10.00", "card_id": card["id"]}
    )
    assert r.status == 502
    err = (await r.json())["error"]
    assert err["type"] == "api_error" and err["code"] == "transaction_pending"
    txn = err["transaction"]
    assert txn["status"] == "pending" and "pending" in txn["message"]
    assert "will not be charged twice" in txn["message"]
    key = txn["idempotency_key"]
    # Recorded, not lost; a retry while AMCI is still down stays pending with the same key.
    r = await bc.post(f"/api/transactions/{txn['id']}/retry")
    assert r.status == 502
    got = await (await bc.get(f"/api/transactions/{txn['id']}")).json()
    assert (got["status"], got["idempotency_key"], got["attempts"]) == ("pending", key, 2)
    assert await stripe_payment_intents(url(testmode)) == []

    await aiohttp_server(amci_app(url(testmode), amci_db), port=port)
    r = await bc.post(f"/api/transactions/{txn['id']}/retry")
    assert r.status == 201, await r.text()
    done = await r.json()
    assert (done["status"], done["idempotency_key"], done["message"]) == ("succeeded", key, None)
    # Retrying a finished transaction returns it, without another call.
    r = await bc.post(f"/api/transactions/{txn['id']}/retry")
    assert r.status == 201 and r.headers["Idempotent-Replayed"] == "true"
    assert (await r.json())["attempts"] == 3
    intents = await stripe_payment_intents(url(testmode))
    assert [(pi["id"], pi["amount"], pi["status"]) for pi in intents] == [
        (done["amci"]["payment"], 1000, "succeeded")
    ]


async def test_one_off_card_retry_needs_the_same_card(
    testmode: TestServer,
    make_billing: Callable[..., Awaitable[Client]],
    aiohttp_server: ServerFactory,
    tmp_path: Any,
) -> None:
    port = free_port()
    bc = await make_billing(f"http://127.0.0.1:{port}")
    ids = await setup_stripe(bc)
    r = await bc.post(
        f"/api/customers/{ids['customer']}/payments", json={"amount": "3.00", "card": VISA}
    )
    assert r.status == 502
    txn = (await r.json())["error"]["transaction"]
    await aiohttp_server(amci_app(url(testmode), str(tmp_path / "a.sqlite3")), port=port)
    r = await bc.post(f"/api/transactions/{txn['id']}/retry")
    assert r.status == 400 and (await r.json())["error"]["param"] == "card"
    other = {**VISA, "number": "5555555555554444"}
    r = await bc.post(f"/api/transactions/{txn['id']}/retry", json={"card": other})
    assert r.status == 400 and (await r.json())["error"]["param"] == "card"
    r = await bc.post(f"/api/transactions/{txn['id']}/retry", json={"card": VISA})
    assert r.status == 201, await r.text()
    assert len(await stripe_payment_intents(url(testmode))) == 1
