"""Follow-ups of a payment (capture, refund, void): the rules on what can follow what, and amounts
bounded by what is left. The happy paths run in test_walkthrough.py."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from ..conftest import VISA, setup_stripe

Client = TestClient[Any, Any]


async def _pay(bc: Client, customer: str, amount: str, kind: str = "sale") -> dict[str, Any]:
    r = await bc.post(
        f"/api/customers/{customer}/payments",
        json={"amount": amount, "type": kind, "card": VISA},
    )
    return dict(await r.json())


async def test_capture_is_bounded_by_the_authorization(bc: Client) -> None:
    ids = await setup_stripe(bc)
    auth = await _pay(bc, ids["customer"], "5.00", "authorization")
    assert auth["status"] == "authorized"
    # Not captured yet: nothing to refund.
    r = await bc.post(f"/api/transactions/{auth['id']}/refunds")
    assert r.status == 400 and (await r.json())["error"]["code"] == "transaction_not_refundable"
    r = await bc.post(f"/api/transactions/{auth['id']}/capture", json={"amount": "5.01"})
    assert r.status == 400 and (await r.json())["error"]["param"] == "amount"
    r = await bc.post(f"/api/transactions/{auth['id']}/capture", json={"amount": "3.00"})
    assert r.status == 200, await r.text()
    assert (await r.json())["amount"] == "3.00"
    got = await (await bc.get(f"/api/transactions/{auth['id']}")).json()
    assert (got["status"], got["amount_captured"]) == ("captured", "3.00")
    # Only what was captured can be refunded, with a reason Stripe knows.
    r = await bc.post(f"/api/transactions/{auth['id']}/refunds", json={"amount": "3.01"})
    assert r.status == 400 and (await r.json())["error"]["param"] == "amount"
    r = await bc.post(
        f"/api/transactions/{auth['id']}/refunds", json={"reason": "requested_by_customer"}
    )
    assert r.status == 201 and (await r.json())["amount"] == "3.00"


async def test_a_sale_cannot_be_captured_and_a_refused_one_not_voided(bc: Client) -> None:
    ids = await setup_stripe(bc)
    sale = await _pay(bc, ids["customer"], "2.00")
    assert sale["status"] == "succeeded"
    r = await bc.post(f"/api/transactions/{sale['id']}/capture")
    assert r.status == 400 and (await r.json())["error"]["code"] == "transaction_not_capturable"
    refused = (await _pay(bc, ids["customer"], "0.10"))["error"]["transaction"]
    assert refused["amci"]["payment"] is None  # refused locally, never sent
    r = await bc.post(f"/api/transactions/{refused['id']}/void")
    assert r.status == 400 and (await r.json())["error"]["code"] == "transaction_not_voidable"
    r = await bc.post(f"/api/transactions/{refused['id']}/refunds")
    assert r.status == 400 and (await r.json())["error"]["code"] == "transaction_not_refundable"
