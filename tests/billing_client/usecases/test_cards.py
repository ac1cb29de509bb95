"""Cards: brands the payment system has not enabled are refused; ``full_card_except_cvv`` keeps the
card encrypted (never the CVC) and checks it locally with Stripe's wording; ``token_only`` is in
the walkthrough (test_walkthrough.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from ..conftest import AMEX, LOGIN, STRIPE_KEY, VISA, setup_stripe

Client = TestClient[Any, Any]


def database_bytes(folder: Path) -> bytes:
    """The SQLite file and its WAL, as raw bytes (what a stolen disk would show)."""
    return b"".join(p.read_bytes() for p in sorted(folder.glob("bc.sqlite3*")))


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


async def test_full_card_save_retried_with_its_key_replays_the_card(bc: Client) -> None:
    """A client retry of a full_card_except_cvv save (same Idempotency-Key) answers the card it
    saved — one card, not a 500 — and the key with another card is refused (found by the fuzzer:
    the retry used to hit the unique card id)."""
    ids = await setup_stripe(bc, protection="full_card_except_cvv", email=None)
    cust = ids["customer"]
    key = {"Idempotency-Key": "save-card-retry-1"}
    first = await bc.post(f"/api/customers/{cust}/cards", json={"card": VISA}, headers=key)
    assert first.status == 201, await first.text()
    again = await bc.post(f"/api/customers/{cust}/cards", json={"card": VISA}, headers=key)
    assert again.status == 200, await again.text()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert (await again.json())["id"] == (await first.json())["id"]
    other = {**VISA, "number": "5555555555554444"}
    r = await bc.post(f"/api/customers/{cust}/cards", json={"card": other}, headers=key)
    assert r.status == 400, await r.text()
    assert (await r.json())["error"]["code"] == "idempotency_key_reused"
    cards = (await (await bc.get(f"/api/customers/{cust}/cards")).json())["data"]
    assert [c["id"] for c in cards] == [(await first.json())["id"]]
