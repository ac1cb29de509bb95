"""Currencies over real HTTP: assigning a payment system and a minimum payment to a currency; a
customer whose currency has no payment system cannot pay."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from ..conftest import VISA
from .test_payment_systems import PS

Client = TestClient[Any, Any]


async def test_assign_a_payment_system_and_a_minimum(bc: Client) -> None:
    r = await bc.put("/api/currencies/USD", json={"payment_system": "ps_missing"})
    assert r.status == 400 and (await r.json())["error"]["param"] == "payment_system"
    assert (await bc.get("/api/currencies/USD")).status == 404
    ps = await (await bc.post("/api/payment-systems", json=PS)).json()
    r = await bc.put(
        "/api/currencies/usd", json={"payment_system": ps["id"], "minimum_payment": "0.5"}
    )
    cur = await r.json()
    assert (cur["code"], cur["minimum_payment"], cur["minimum_payment_display"]) == (
        "USD",
        "0.50",
        "0.5 USD",
    )
    assert (await (await bc.get("/api/currencies/USD")).json()) == cur


async def test_a_currency_without_payment_system_cannot_pay(bc: Client) -> None:
    r = await bc.post("/api/customers", json={"name": "Jane", "currency": "EUR"})
    jane = await r.json()
    assert r.status == 201
    # EUR has no payment system: a clear refusal naming the currency.
    r = await bc.post(
        f"/api/customers/{jane['id']}/payments", json={"amount": "5.00", "card": VISA}
    )
    assert r.status == 400 and (await r.json())["error"]["code"] == "currency_not_configured"


async def test_the_code_and_the_minimum_are_checked_against_the_currency(bc: Client) -> None:
    r = await bc.put("/api/currencies/XYZ", json={"payment_system": "ps_1"})
    err = (await r.json())["error"]
    assert r.status == 400 and (err["param"], err["code"]) == ("currency", "invalid_currency")
    body = {"payment_system": "ps_1", "minimum_payment": "0.505"}  # USD takes 2 decimals
    r = await bc.put("/api/currencies/USD", json=body)
    err = (await r.json())["error"]
    assert r.status == 400 and (err["param"], err["code"]) == (
        "minimum_payment",
        "amount_precision",
    )
    assert (await bc.get("/api/currencies/usd1")).status == 400  # not a code: named, not a 404
