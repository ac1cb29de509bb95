"""The administrator's API over real HTTP: payment systems, currencies, customers, errors,
service routes. Uses the real AMCI for the bits that reach it."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from billing_client.handlers import ROUTES

from .conftest import LOGIN, STRIPE_KEY, VISA, setup_stripe

Client = TestClient[Any, Any]
PS = {
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


async def test_currencies_and_customers(bc: Client) -> None:
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

    r = await bc.post("/api/customers", json={"name": "Jane", "currency": "EUR"})
    jane = await r.json()
    assert r.status == 201 and jane["email"] is None
    # EUR has no payment system: a clear refusal naming the currency.
    r = await bc.post(
        f"/api/customers/{jane['id']}/payments", json={"amount": "5.00", "card": VISA}
    )
    assert r.status == 400 and (await r.json())["error"]["code"] == "currency_not_configured"
    r = await bc.patch(f"/api/customers/{jane['id']}", json={"email": "nope"})
    assert r.status == 400 and (await r.json())["error"]["param"] == "email"
    assert (await bc.get("/api/customers/cust_missing")).status == 404


async def test_bad_requests_get_envelopes_not_500s(bc: Client) -> None:
    cases = [
        await bc.post(
            "/api/customers", data=b"{not json", headers={"Content-Type": "application/json"}
        ),
        await bc.post("/api/customers", json=[1, 2]),
        await bc.get("/api/nothing-here"),
        await bc.put("/api/customers"),
        await bc.post("/api/transactions/txn_missing/capture"),
        await bc.post(
            "/api/customers/x/payments",
            json={"amount": "1"},
            headers={"Idempotency-Key": "k" * 256},
        ),
    ]
    statuses = [r.status for r in cases]
    assert statuses == [400, 400, 404, 405, 404, 400]
    for r in cases:
        err = (await r.json())["error"]
        assert err["type"] and err["message"] and None not in err.values()
        assert r.headers["X-Request-Id"]


async def test_service_routes(bc: Client) -> None:
    r = await bc.get("/healthz")
    assert r.status == 200 and (await r.json())["status"] == "ok"
    ids = await setup_stripe(bc)
    await bc.post(
        f"/api/customers/{ids['customer']}/payments", json={"amount": "10.00", "card": VISA}
    )
    await bc.post(
        f"/api/customers/{ids['customer']}/payments", json={"amount": "0.10", "card": VISA}
    )
    text = await (await bc.get("/metrics")).text()
    assert 'billing_client_transactions_total{operation="sale",outcome="succeeded"} 1.0' in text
    assert 'billing_client_transactions_total{operation="sale",outcome="failed"} 1.0' in text
    assert (
        'billing_client_amci_request_duration_seconds_count{outcome="ok",'
        'route="/v1/stripe/payments"} 1.0'
    ) in text
    assert 'route="/api/customers/{id}/payments"' in text
    assert ids["customer"] not in text and STRIPE_KEY not in text


async def test_openapi_documents_every_route(bc: Client) -> None:
    r = await bc.get("/openapi.json")
    doc = await r.json()
    assert doc["openapi"].startswith("3.1")
    for method, path, _ in ROUTES:
        assert method.lower() in doc["paths"][path], f"{method} {path} missing from openapi.json"
    packaged = json.loads(resources.files("billing_client").joinpath("openapi.json").read_text())
    assert packaged == doc
