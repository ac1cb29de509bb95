"""The spec's walkthrough through the billing client's API, against the real AMCI proxy and the
real Stripe test-mode server (all over loopback HTTP)."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from .conftest import (
    VISA,
    setup_stripe,
    stripe_payment_intents,
    url,
)

Client = TestClient[Any, Any]


async def test_token_only_walkthrough(bc_each_store: Client, testmode: TestServer) -> None:
    bc = bc_each_store
    ids = await setup_stripe(bc, email=None)
    cust = ids["customer"]

    # No email: AMCI refuses to make a token, and its error is what the user sees.
    r = await bc.post(f"/api/customers/{cust}/cards", json={"card": VISA})
    assert r.status == 400
    err = (await r.json())["error"]
    assert (err["code"], err["param"]) == ("email_required", "customer.email")
    assert (await (await bc.get(f"/api/customers/{cust}/cards")).json())["data"] == []

    # Personal → General info: set the email, then save the card (token only).
    r = await bc.patch(f"/api/customers/{cust}", json={"email": "john@example.com"})
    assert r.status == 200 and (await r.json())["email"] == "john@example.com"
    r = await bc.post(f"/api/customers/{cust}/cards", json={"card": VISA})
    assert r.status == 201, await r.text()
    card = await r.json()
    assert (card["brand"], card["last4"], card["exp_month"], card["exp_year"], card["storage"]) == (
        "visa",
        "4242",
        12,
        2034,
        "token",
    )

    # Pay 10.00 with the saved card.
    r = await bc.post(
        f"/api/customers/{cust}/payments", json={"amount": "10.00", "card_id": card["id"]}
    )
    assert r.status == 201, await r.text()
    sale = await r.json()
    assert (sale["status"], sale["amount"], sale["amount_minor"], sale["amount_captured"]) == (
        "succeeded",
        "10.00",
        1000,
        "10.00",
    )
    assert sale["amci"]["payment"].startswith("pi_") and sale["amci"]["status"] == "succeeded"

    # Pay 0.30: refused by the billing client itself, worded as AMCI words it; recorded.
    r = await bc.post(
        f"/api/customers/{cust}/payments", json={"amount": "0.30", "card_id": card["id"]}
    )
    assert r.status == 400
    err = (await r.json())["error"]
    assert err["message"] == "Your payment must be no less than 0.5 USD"
    assert (err["code"], err["param"]) == ("amount_too_small", "amount")
    small = err["transaction"]
    assert (small["status"], small["amount"], small["message"], small["amci"]["payment"]) == (
        "failed",
        "0.30",
        "Your payment must be no less than 0.5 USD",
        None,
    )
    assert small["attempts"] == 0  # AMCI was never asked
    assert len(await stripe_payment_intents(url(testmode))) == 1

    # Authorize 5.00, then capture it.
    r = await bc.post(
        f"/api/customers/{cust}/payments",
        json={"amount": "5.00", "type": "authorization", "card_id": card["id"]},
    )
    assert r.status == 201, await r.text()
    auth = await r.json()
    assert (auth["status"], auth["amount_captured"]) == ("authorized", "0.00")
    r = await bc.post(f"/api/transactions/{auth['id']}/capture")
    assert r.status == 200, await r.text()
    cap = await r.json()
    assert (cap["operation"], cap["status"], cap["parent"], cap["amount"]) == (
        "capture",
        "succeeded",
        auth["id"],
        "5.00",
    )
    auth = await (await bc.get(f"/api/transactions/{auth['id']}")).json()
    assert (auth["status"], auth["amount_captured"]) == ("captured", "5.00")
    r = await bc.post(f"/api/transactions/{auth['id']}/capture")
    assert r.status == 400 and (await r.json())["error"]["code"] == "transaction_not_capturable"

    # Refund the sale: partially, too much, then the rest.
    r = await bc.post(f"/api/transactions/{sale['id']}/refunds", json={"amount": "2.00"})
    assert r.status == 201, await r.text()
    ref = await r.json()
    assert (ref["operation"], ref["status"], ref["amount"]) == ("refund", "succeeded", "2.00")
    assert ref["amci"]["refund"].startswith("re_")
    r = await bc.post(f"/api/transactions/{sale['id']}/refunds", json={"amount": "9.00"})
    assert r.status == 400 and (await r.json())["error"]["param"] == "amount"
    r = await bc.post(f"/api/transactions/{sale['id']}/refunds")
    assert r.status == 201 and (await r.json())["amount"] == "8.00"
    sale = await (await bc.get(f"/api/transactions/{sale['id']}")).json()
    assert (sale["status"], sale["amount_refunded"]) == ("refunded", "10.00")
    assert [(x["operation"], x["amount"]) for x in sale["related"]] == [
        ("refund", "2.00"),
        ("refund", "8.00"),
    ]
    r = await bc.post(f"/api/transactions/{sale['id']}/refunds")
    assert r.status == 400 and (await r.json())["error"]["code"] == "charge_already_refunded"

    # Void: sent to AMCI, which refuses; the refusal is recorded and shown with its reason.
    r = await bc.post(f"/api/transactions/{auth['id']}/void")
    assert r.status == 400
    err = (await r.json())["error"]
    assert err["code"] == "void_not_supported" and "7 days" in err["message"]
    void = err["transaction"]
    assert (void["operation"], void["status"], void["message"]) == (
        "void",
        "refused",
        err["message"],
    )
    again = await (await bc.get(f"/api/transactions/{void['id']}")).json()
    assert again["status"] == "refused" and again["message"] == err["message"]

    # Delete the card: AMCI detaches the token; the card is gone and can't pay any more.
    r = await bc.delete(f"/api/customers/{cust}/cards/{card['id']}")
    assert r.status == 200 and (await r.json())["deleted"] is True
    assert (await (await bc.get(f"/api/customers/{cust}/cards")).json())["data"] == []
    r = await bc.post(
        f"/api/customers/{cust}/payments", json={"amount": "10.00", "card_id": card["id"]}
    )
    assert r.status == 400 and (await r.json())["error"]["param"] == "card_id"

    history = (await (await bc.get(f"/api/customers/{cust}/transactions")).json())["data"]
    assert [(t["operation"], t["status"]) for t in history] == [
        ("sale", "refunded"),
        ("sale", "failed"),
        ("authorization", "captured"),
        ("capture", "succeeded"),
        ("refund", "succeeded"),
        ("refund", "succeeded"),
        ("void", "refused"),
    ]
