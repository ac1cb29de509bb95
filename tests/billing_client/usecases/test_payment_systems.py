"""Payment systems over real HTTP: create, list, update, delete; the key and login never shown;
every refusal names the field."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from ..conftest import LOGIN, STRIPE_KEY

Client = TestClient[Any, Any]
PS = {  # the spec's Stripe payment system, as the administrator enters it
    "name": "Stripe",
    "processor": "Stripe",
    "login": LOGIN,
    "password": STRIPE_KEY,
    "test_mode": True,
    "enabled_methods": ["VISA"],
    "data_protection": "token_only",
}


async def test_payment_system_crud_never_returns_the_key(bc: Client) -> None:
    r = await bc.post("/api/payment-systems", json=PS)
    assert r.status == 201
    text = await r.text()
    ps = json.loads(text)
    assert STRIPE_KEY not in text and LOGIN not in text
    assert ps["password"] == "sk_test_…wxyz" and ps["login"] == "•••••"
    assert (ps["processor"], ps["test_mode"], ps["enabled_methods"], ps["data_protection"]) == (
        "Stripe",
        True,
        ["VISA"],
        "token_only",
    )

    r = await bc.patch(
        f"/api/payment-systems/{ps['id']}",
        json={
            "enabled_methods": ["VISA", "Discover", "amex"],
            "data_protection": "full_card_except_cvv",
        },
    )
    assert r.status == 200
    got = await (await bc.get(f"/api/payment-systems/{ps['id']}")).json()
    assert got["enabled_methods"] == ["VISA", "American Express", "Discover"]
    assert got["data_protection"] == "full_card_except_cvv"
    listed = await (await bc.get("/api/payment-systems")).json()
    assert [p["id"] for p in listed["data"]] == [ps["id"]]

    r = await bc.post("/api/payment-systems", json=PS)
    assert r.status == 409 and (await r.json())["error"]["param"] == "name"

    # In use by a currency: refused; once unassigned... (no unassign route) — delete another one.
    await bc.put("/api/currencies/USD", json={"payment_system": ps["id"]})
    r = await bc.delete(f"/api/payment-systems/{ps['id']}")
    assert r.status == 409 and (await r.json())["error"]["code"] == "payment_system_in_use"
    other = await (await bc.post("/api/payment-systems", json={**PS, "name": "Spare"})).json()
    r = await bc.delete(f"/api/payment-systems/{other['id']}")
    assert r.status == 200 and (await r.json())["deleted"] is True
    r = await bc.get(f"/api/payment-systems/{other['id']}")
    assert r.status == 404 and (await r.json())["error"]["code"] == "resource_missing"


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"login": "abcd"}, "login"),
        ({"login": ""}, "login"),
        ({"password": "pk_test_0123456789abcdef"}, "password"),
        ({"test_mode": False}, "test_mode"),
        ({"processor": "Braintree"}, "processor"),
        ({"enabled_methods": ["VISA", "Maestro"]}, "enabled_methods.1"),
        ({"data_protection": "cvv_too"}, "data_protection"),
    ],
)
async def test_payment_system_errors_name_the_field(
    bc: Client, change: dict[str, Any], param: str
) -> None:
    r = await bc.post("/api/payment-systems", json={**PS, **change})
    assert r.status == 400
    body = await r.json()
    assert body["error"]["param"] == param and body["error"]["type"] == "invalid_request_error"
    assert STRIPE_KEY not in json.dumps(body)
