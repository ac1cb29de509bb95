"""The spec's walkthrough through the billing client's API, against the real AMCI proxy and the
real Stripe test-mode server (all over loopback HTTP)."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from .conftest import (
    AMEX,
    DECLINED,
    LOGIN,
    STRIPE_KEY,
    VISA,
    setup_stripe,
    stripe_payment_intents,
    url,
)

Client = TestClient[Any, Any]


def database_bytes(folder: Path) -> bytes:
    """The SQLite file and its WAL, as raw bytes (what a stolen disk would show)."""
    return b"".join(p.read_bytes() for p in sorted(folder.glob("bc.sqlite3*")))


async def test_token_only_walkthrough(bc: Client, testmode: TestServer) -> None:
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


async def test_brand_not_enabled_is_refused(bc: Client) -> None:
    ids = await setup_stripe(bc, methods=("VISA", "MasterCard"))
    r = await bc.post(f"/api/customers/{ids['customer']}/cards", json={"card": AMEX})
    assert r.status == 400
    err = (await r.json())["error"]
    assert (err["code"], err["param"]) == ("card_brand_not_enabled", "card.number")
    assert "American Express" in err["message"] and AMEX["number"] not in err["message"]
    r = await bc.post(
        f"/api/customers/{ids['customer']}/payments", json={"amount": "10.00", "card": AMEX}
    )
    assert r.status == 400 and (await r.json())["error"]["code"] == "card_brand_not_enabled"


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


async def test_full_card_except_cvv(bc: Client, tmp_path: Path) -> None:
    ids = await setup_stripe(bc, protection="full_card_except_cvv", email=None)
    cust = ids["customer"]
    card_in = {**VISA, "cvc": "987"}
    r = await bc.post(f"/api/customers/{cust}/cards", json={"card": card_in})
    assert r.status == 201, await r.text()  # no AMCI call, so no email needed to store it
    card = await r.json()
    assert (card["storage"], card["last4"], card["exp_month"], card["exp_year"]) == (
        "encrypted",
        "4242",
        12,
        2034,
    )
    # Each payment sends the full card (no CVC) through AMCI.
    r = await bc.post(
        f"/api/customers/{cust}/payments", json={"amount": "12.34", "card_id": card["id"]}
    )
    assert r.status == 201, await r.text()
    assert (await r.json())["status"] == "succeeded"
    # Local card checks, Stripe's wording, the field named.
    for bad, code in (
        ({**VISA, "number": "4242424242424241"}, "incorrect_number"),
        ({**VISA, "exp_year": 2020}, "expired_card"),
        ({**VISA, "cvc": "12"}, "invalid_cvc"),
    ):
        r = await bc.post(f"/api/customers/{cust}/cards", json={"card": bad})
        assert r.status == 402 and (await r.json())["error"]["code"] == code
    # At rest: neither the PAN nor the CVC nor the Stripe key nor the login is readable.
    raw = database_bytes(tmp_path)
    assert raw, "the billing client's database should exist"
    for secret in (VISA["number"], STRIPE_KEY, LOGIN):
        assert secret.encode() not in raw
    with sqlite3.connect(tmp_path / "bc.sqlite3") as db:
        cols = [r[1] for r in db.execute("PRAGMA table_info(cards)")]
    assert not any("cvc" in c for c in cols)


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


@pytest.mark.parametrize(("number", "name"), [("3566002020360505", "JCB"),
                                              ("6221260000000000", "UnionPay"),
                                              ("3056930009020004", "Diners Club")])
async def test_brands_without_a_payment_method_are_refused_by_name(
    bc: Client, number: str, name: str
) -> None:
    """Stripe's brands the spec offers no method for: named as the shared table names them and
    refused, as AMCI would refuse them (never treated as brandless, never a 500)."""
    ids = await setup_stripe(bc)
    card = {**AMEX, "number": number, "cvc": "123"}
    r = await bc.post(f"/api/customers/{ids['customer']}/cards", json={"card": card})
    assert r.status == 400, await r.text()
    err = (await r.json())["error"]
    assert (err["code"], err["param"]) == ("card_brand_not_enabled", "card.number")
    assert err["message"].startswith(f"{name} cards are not accepted")
