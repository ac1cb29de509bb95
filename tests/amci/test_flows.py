"""Happy paths over real loopback HTTP: AMCI → stripe SDK → the test-mode server."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

Stack = Any


async def test_save_card_then_pay_by_token_then_refund(stack: Stack) -> None:
    saved = await stack.save_card()
    assert saved["object"] == "card_token" and saved["token"].startswith("pm_")
    assert saved["customer"].startswith("cus_")
    assert (saved["brand"], saved["last4"], saved["exp_month"], saved["exp_year"]) == (
        "visa", "4242", 12, 2034)
    assert saved["livemode"] is False

    status, pay, _ = await stack.post("/v1/stripe/payments", {
        "amount": "10.00", "currency": "usd", "token": saved["token"], "description": "Top-up",
        "reference": "inv-1001", "metadata": {"plan": "gold"}}, idem="pay-1")
    assert status == 201, pay
    assert pay["object"] == "payment" and pay["id"].startswith("pi_")
    assert (pay["status"], pay["amount"], pay["amount_minor"], pay["currency"]) == (
        "succeeded", "10.00", 1000, "USD")
    assert (pay["amount_received"], pay["amount_capturable"], pay["amount_refunded"]) == (
        "10.00", "0.00", "0.00")
    assert pay["capture"] is True and pay["charge"].startswith("ch_")
    assert pay["card"] == {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2034}
    assert pay["customer"] == saved["customer"]
    assert (pay["description"], pay["reference"], pay["metadata"]) == (
        "Top-up", "inv-1001", {"plan": "gold"})

    status, refund, _ = await stack.post(f"/v1/stripe/payments/{pay['id']}/refunds",
                                         {"amount": "2.00"}, idem="ref-1")
    assert status == 201, refund
    assert refund["object"] == "refund" and refund["payment"] == pay["id"]
    assert (refund["amount"], refund["amount_minor"], refund["currency"]) == ("2.00", 200, "USD")
    status, refund2, _ = await stack.post(f"/v1/stripe/payments/{pay['id']}/refunds", {},
                                          idem="ref-2")
    assert status == 201 and refund2["amount"] == "8.00"
    status, again, _ = await stack.post(f"/v1/stripe/payments/{pay['id']}/refunds",
                                        {"amount": "0.01"}, idem="ref-3")
    assert status == 400 and again["error"]["type"] == "invalid_request_error"

    status, fresh = await stack.get(f"/v1/stripe/payments/{pay['id']}")
    assert status == 200 and fresh["amount_refunded"] == "10.00" and fresh["status"] == "succeeded"
    assert fresh["card"]["last4"] == "4242"


async def test_authorize_then_partial_capture(stack: Stack) -> None:
    status, pay, _ = await stack.post("/v1/stripe/payments", {
        "amount": "25.00", "currency": "EUR", "capture": False, "card": stack.card()},
        idem="auth-1")
    assert status == 201, pay
    assert (pay["status"], pay["capture"], pay["amount_capturable"]) == (
        "requires_capture", False, "25.00")
    status, cap, _ = await stack.post(f"/v1/stripe/payments/{pay['id']}/capture",
                                      {"amount": "20.00"}, idem="cap-1")
    assert status == 200, cap
    assert (cap["status"], cap["amount_received"], cap["amount_capturable"]) == (
        "succeeded", "20.00", "0.00")
    # Refunds never above what was captured.
    status, err, _ = await stack.post(f"/v1/stripe/payments/{pay['id']}/refunds",
                                      {"amount": "21.00"}, idem="ref-too-much")
    assert status == 400, err
    status, ok, _ = await stack.post(f"/v1/stripe/payments/{pay['id']}/refunds", {},
                                     idem="ref-all")
    assert status == 201 and ok["amount"] == "20.00"


async def test_full_capture_and_card_without_cvc(stack: Stack) -> None:
    no_cvc = stack.card()
    del no_cvc["cvc"]
    status, pay, _ = await stack.post("/v1/stripe/payments", {
        "amount": "500", "currency": "JPY", "capture": False, "card": no_cvc})
    assert status == 201, pay
    assert (pay["amount"], pay["amount_minor"], pay["currency"]) == ("500", 500, "JPY")
    status, cap, _ = await stack.post(f"/v1/stripe/payments/{pay['id']}/capture", {})
    assert status == 200 and cap["amount_received"] == "500"


async def test_delete_card(stack: Stack) -> None:
    saved = await stack.save_card()
    resp = await stack.amci.delete(f"/v1/stripe/cards/{saved['token']}",
                                   headers=stack.basic())
    assert resp.status == 200
    assert await resp.json() == {"object": "card_token", "token": saved["token"], "deleted": True}
    # A detached card can't pay any more.
    status, err, _ = await stack.post("/v1/stripe/payments", {
        "amount": "10.00", "currency": "USD", "token": saved["token"]})
    assert status in (400, 404) and err["error"]["param"] == "token", err


async def test_embedded_testmode(aiohttp_client: Any, tmp_path: Any) -> None:
    """The default: no test_api_base → the test-mode server runs inside AMCI on loopback."""
    from pydantic import ValidationError

    from amci.app import create_app
    from amci.settings import (
        EmbeddedTestmodeSettings,
        RateLimitSettings,
        Settings,
        StoreSettings,
        SubscriptionSettings,
    )

    settings = Settings(
        store=StoreSettings(db_path=str(tmp_path / "amci.sqlite3")),
        rate_limit=RateLimitSettings(enabled=False),
        testmode=EmbeddedTestmodeSettings(db_path=str(tmp_path / "tm.sqlite3"),
                                          rate_limit_per_second=None),
        subscriptions=(SubscriptionSettings(id="demo", stripe_integration_activated=True,
                                            allow_any_test_key=True),),
    )
    assert settings.upstream.test_api_base is None
    client = await aiohttp_client(create_app(settings))
    assert (await client.get("/readyz")).status == 200
    import base64

    auth = {"Authorization": "Basic " + base64.b64encode(b"demo-login:sk_test_x1").decode()}
    resp = await client.post("/v1/stripe/payments", headers=auth, json={
        "amount": "10.00", "currency": "USD", "card": {"number": "4242424242424242",
                                                       "exp_month": 12, "exp_year": 2034}})
    body = await resp.json()
    assert resp.status == 201 and body["status"] == "succeeded", body
    resp = await client.get(f"/v1/stripe/payments/{body['id']}", headers=auth)
    assert resp.status == 200
    with pytest.raises(ValidationError):  # settings are frozen once built
        settings.log_level = "DEBUG"  # type: ignore[misc]


async def test_a_card_stripe_refuses_to_attach_leaves_no_customer_behind(stack: Stack) -> None:
    # docs.stripe.com/testing: "You can't attach cards that simulate issuer declines to a Customer".
    status, err, _ = await stack.post("/v1/stripe/cards", {
        "card": stack.card("4000000000000002"),
        "customer": {"email": "john@example.com", "name": "John Doe"}}, idem="save-declined")
    assert status == 402, err
    assert (err["error"]["code"], err["error"]["decline_code"]) == (
        "card_declined", "generic_decline")
    assert stack.upstream.count("POST", "/v1/customers") == 1
    assert stack.upstream.count("DELETE", "/v1/customers/") == 1

    async with aiohttp.ClientSession() as session, session.get(
        f"{stack.testmode_url}/v1/customers", headers={"Authorization": f"Bearer {stack.KEY}"}
    ) as resp:
        listed = await resp.json()
    assert resp.status == 200, listed
    assert listed["data"] == []



async def test_card_payment_carries_the_customer_to_stripe(stack: Stack) -> None:
    status, pay, _ = await stack.post("/v1/stripe/payments", {
        "amount": "10.00", "currency": "USD", "card": stack.card(),
        "customer": {"name": "John Doe", "email": "john@example.com", "reference": "cust-42"},
        "metadata": {"plan": "gold"}})
    assert status == 201, pay
    assert (pay["customer_reference"], pay["metadata"]) == ("cust-42", {"plan": "gold"})

    bearer = {"Authorization": f"Bearer {stack.KEY}"}
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{stack.testmode_url}/v1/payment_intents/{pay['id']}",
                               headers=bearer) as resp:
            pi = await resp.json()
        assert pi["metadata"] == {"plan": "gold", "customer_reference": "cust-42"}
        async with session.get(f"{stack.testmode_url}/v1/payment_methods/{pi['payment_method']}",
                               headers=bearer) as resp:
            pm = await resp.json()
    assert (pm["billing_details"]["name"], pm["billing_details"]["email"]) == (
        "John Doe", "john@example.com")


async def test_a_malformed_customer_email_on_a_payment_is_refused_before_stripe(
    stack: Stack,
) -> None:
    status, err, _ = await stack.post("/v1/stripe/payments", {
        "amount": "10.00", "currency": "USD", "card": stack.card(),
        "customer": {"email": "not-an-email"}})
    assert status == 400, err
    assert (err["error"]["code"], err["error"]["param"]) == ("email_invalid", "customer.email")
    assert stack.upstream.calls == []
