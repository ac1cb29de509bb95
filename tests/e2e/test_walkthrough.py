"""The spec's walkthrough with both services running as processes, including a restart of each
service in the middle and an AMCI outage during a payment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import (
    LOGIN,
    ROOT,
    STRIPE_KEY,
    Stack,
    amci_service,
    billing_client_service,
    call,
    create_token,
    free_port,
)

pytestmark = pytest.mark.e2e

VISA = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}
AMEX = {"number": "378282246310005", "exp_month": 12, "exp_year": 2034, "cvc": "1234"}


def test_spec_walkthrough_with_restarts(stack: Stack) -> None:
    api = stack.api
    # Financial → E-payments → Payment systems: create Stripe, then payment methods and
    # data protection.
    r = api(
        "POST",
        "/api/payment-systems",
        {
            "name": "Stripe",
            "processor": "Stripe",
            "login": LOGIN,
            "password": STRIPE_KEY,
            "test_mode": True,
        },
    )
    assert r.status == 201, r.body
    ps = r.body
    assert ps["password"] == "sk_test_…wxyz"
    r = api(
        "PATCH",
        f"/api/payment-systems/{ps['id']}",
        {"enabled_methods": ["VISA", "MasterCard"], "data_protection": "token_only"},
    )
    assert r.status == 200 and r.body["enabled_methods"] == ["VISA", "MasterCard"]
    # Currency management: USD → Stripe, minimum 0.5.
    r = api("PUT", "/api/currencies/USD", {"payment_system": ps["id"], "minimum_payment": "0.5"})
    assert r.status == 200 and r.body["minimum_payment_display"] == "0.5 USD"
    # John Doe, first without an email: no token.
    r = api("POST", "/api/customers", {"name": "John Doe", "currency": "USD"})
    cust = r.body["id"]
    r = api("POST", f"/api/customers/{cust}/cards", {"card": VISA})
    assert r.status == 400 and r.body["error"]["code"] == "email_required"
    r = api("PATCH", f"/api/customers/{cust}", {"email": "john@example.com"})
    assert r.status == 200
    r = api("POST", f"/api/customers/{cust}/cards", {"card": AMEX})
    assert r.status == 400 and r.body["error"]["code"] == "card_brand_not_enabled"
    r = api("POST", f"/api/customers/{cust}/cards", {"card": VISA})
    assert r.status == 201, r.body
    card = r.body

    # Restart AMCI: the saved card (token) still pays.
    stack.amci.restart()
    r = api("POST", f"/api/customers/{cust}/payments", {"amount": "10.00", "card_id": card["id"]})
    assert r.status == 201, r.body
    sale = r.body
    assert sale["status"] == "succeeded" and sale["amount"] == "10.00"
    r = api("POST", f"/api/customers/{cust}/payments", {"amount": "0.30", "card_id": card["id"]})
    assert r.status == 400
    assert r.body["error"]["message"] == "Your payment must be no less than 0.5 USD"
    small = r.body["error"]["transaction"]
    r = api(
        "POST",
        f"/api/customers/{cust}/payments",
        {"amount": "25.00", "type": "authorization", "card_id": card["id"]},
    )
    assert r.status == 201 and r.body["status"] == "authorized"
    auth = r.body

    # Restart the billing client: cards and transactions are all still there.
    stack.bc.restart()
    r = api("GET", f"/api/customers/{cust}/cards")
    assert [c["id"] for c in r.body["data"]] == [card["id"]]
    r = api("GET", f"/api/customers/{cust}/transactions")
    assert [(t["id"], t["status"]) for t in r.body["data"]] == [
        (sale["id"], "succeeded"),
        (small["id"], "failed"),
        (auth["id"], "authorized"),
    ]
    assert r.body["data"][1]["message"] == "Your payment must be no less than 0.5 USD"

    r = api("POST", f"/api/transactions/{auth['id']}/capture", {"amount": "20.00"})
    assert r.status == 200, r.body
    assert api("GET", f"/api/transactions/{auth['id']}").body["amount_captured"] == "20.00"
    # Refund: partial, then full.
    r = api("POST", f"/api/transactions/{sale['id']}/refunds", {"amount": "4.00"})
    assert r.status == 201 and r.body["status"] == "succeeded"
    r = api("POST", f"/api/transactions/{sale['id']}/refunds")
    assert r.status == 201 and r.body["amount"] == "6.00"
    got = api("GET", f"/api/transactions/{sale['id']}").body
    assert (got["status"], got["amount_refunded"]) == ("refunded", "10.00")
    # Void: refused, and the reason is recorded.
    r = api("POST", f"/api/transactions/{auth['id']}/void")
    assert r.status == 400 and r.body["error"]["code"] == "void_not_supported"
    assert "7 days" in r.body["error"]["message"]
    void = api("GET", f"/api/transactions/{r.body['error']['transaction']['id']}").body
    assert void["status"] == "refused" and "7 days" in void["message"]
    # Delete the card.
    r = api("DELETE", f"/api/customers/{cust}/cards/{card['id']}")
    assert r.status == 200 and api("GET", f"/api/customers/{cust}/cards").body["data"] == []

    # Stripe's side agrees: exactly the two payments, with the amounts the billing client shows.
    intents = {pi["id"]: pi for pi in stack.stripe_payment_intents()}
    assert set(intents) == {sale["amci"]["payment"], auth["amci"]["payment"]}
    assert intents[auth["amci"]["payment"]]["amount_received"] == 2000
    assert stack.amci_payment(sale["amci"]["payment"]).body["amount_refunded"] == "10.00"

    # No secret reached the billing client's log.
    log = stack.bc.log_path.read_text()
    assert '"event":"request"' in log
    for secret in (STRIPE_KEY, LOGIN, VISA["number"], AMEX["number"], stack.token):
        assert secret not in log


def test_amci_outage_during_a_payment(stack: Stack) -> None:
    api = stack.api
    ps = api(
        "POST",
        "/api/payment-systems",
        {
            "name": "Stripe",
            "processor": "Stripe",
            "login": LOGIN,
            "password": STRIPE_KEY,
            "enabled_methods": ["VISA"],
        },
    ).body
    api("PUT", "/api/currencies/USD", {"payment_system": ps["id"], "minimum_payment": "0.5"})
    cust = api(
        "POST",
        "/api/customers",
        {"name": "John Doe", "currency": "USD", "email": "john@example.com"},
    ).body["id"]
    card = api("POST", f"/api/customers/{cust}/cards", {"card": VISA}).body

    stack.amci.stop()
    r = api(
        "POST",
        f"/api/customers/{cust}/payments",
        {"amount": "10.00", "card_id": card["id"]},
        Idempotency_Key="invoice-42",
    )
    assert r.status == 502
    pending = r.body["error"]["transaction"]
    assert pending["status"] == "pending" and "pending" in r.body["error"]["message"]
    assert api("GET", f"/api/transactions/{pending['id']}").body["status"] == "pending"

    stack.amci.start()
    # The client retries its request with the same Idempotency-Key: completed, once.
    r = api(
        "POST",
        f"/api/customers/{cust}/payments",
        {"amount": "10.00", "card_id": card["id"]},
        Idempotency_Key="invoice-42",
    )
    assert r.status == 201, r.body
    done = r.body
    assert done["id"] == pending["id"] and done["status"] == "succeeded"
    assert done["idempotency_key"] == pending["idempotency_key"]
    # And again through the retry route: the same finished transaction, nothing new.
    r = api("POST", f"/api/transactions/{pending['id']}/retry")
    assert r.status == 201 and r.body["amci"]["payment"] == done["amci"]["payment"]
    intents = stack.stripe_payment_intents()
    assert [(pi["id"], pi["amount"], pi["status"]) for pi in intents] == [
        (done["amci"]["payment"], 1000, "succeeded")
    ]
    assert stack.amci_payment(done["amci"]["payment"]).body["status"] == "succeeded"


def test_shipped_configs_take_a_demo_payment(tmp_path: Path) -> None:
    """`make run`'s pairing: AMCI with its embedded test mode and the billing client with the
    shipped configs (only ports and files moved to temp), the demo payment system ready."""
    amci_port, bc_port = free_port(), free_port()
    amci = amci_service(
        amci_port,
        tmp_path / "amci.log",
        {
            "AMCI_STORE__DB_PATH": str(tmp_path / "amci.sqlite3"),
            "AMCI_TESTMODE__DB_PATH": str(tmp_path / "testmode.sqlite3"),
        },
    )
    bc_env = {"BILLING_CLIENT_STORAGE__DB_PATH": str(tmp_path / "bc.sqlite3")}
    bc = billing_client_service(
        bc_port, amci_port, "config/billing_client.yaml", tmp_path / "bc.log", bc_env
    )
    token = create_token("config/billing_client.yaml", "demo", bc_env)
    auth = {"Authorization": f"Bearer {token}"}
    try:
        amci.start()
        bc.start()
        systems = call("GET", bc.url + "/api/payment-systems", headers=auth).body["data"]
        assert [s["name"] for s in systems] == ["Stripe (DEMO, test mode)"]
        assert systems[0]["password"].startswith("sk_test_…")
        usd = call("GET", bc.url + "/api/currencies/USD", headers=auth)
        assert usd.body["payment_system"] == systems[0]["id"]
        cust = call(
            "POST",
            bc.url + "/api/customers",
            {"name": "Demo", "currency": "USD", "email": "demo@example.com"},
            auth,
        ).body["id"]
        card = call("POST", bc.url + f"/api/customers/{cust}/cards", {"card": VISA}, auth)
        assert card.status == 201, card.body
        r = call(
            "POST",
            bc.url + f"/api/customers/{cust}/payments",
            {"amount": "10.00", "card_id": card.body["id"]},
            auth,
        )
        assert r.status == 201 and r.body["status"] == "succeeded", r.body
    finally:
        bc.stop()
        amci.stop()


def test_bad_config_names_the_key(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("crypto: {encryption_key: too-short}\n")
    out = subprocess.run(
        [sys.executable, "-m", "billing_client", "serve", "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    assert out.returncode == 2
    assert "crypto.encryption_key" in out.stderr
    assert "too-short" not in out.stderr + out.stdout  # the bad secret is named, not echoed
