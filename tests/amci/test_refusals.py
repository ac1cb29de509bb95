"""Every refusal over real HTTP: auth, Stripe limits before the network, relayed declines."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from amci.settings import SubscriptionSettings

Stack = Any
PAY = "/v1/stripe/payments"


def no_upstream(stack: Stack) -> None:
    assert stack.upstream.calls == [], stack.upstream.calls


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "credentials_missing"),
        ({"Authorization": "Bearer sk_test_x"}, 401, "credentials_missing"),
        ({"Authorization": "Basic %%%"}, 401, "credentials_missing"),
        ("short", 401, "login_invalid"),
        ("publishable", 401, "secret_key_required"),
        ("unknown", 401, "api_key_unknown"),
        ("live-unknown", 401, "api_key_unknown"),
        ("inactive", 403, "subscription_inactive"),
        ("noint", 403, "integration_not_activated"),
    ],
)
async def test_auth_refusals(stack: Stack, headers: Any, status: int, code: str) -> None:
    named = {
        "short": stack.basic(login="abcd"),
        "publishable": stack.basic("pk_test_51TYooMQauvdEDq54NiTphI7jx"),
        "unknown": stack.basic("sk_test_51NotConfiguredAnywhere000001234"),
        "live-unknown": stack.basic("sk_live_51NotConfiguredAnywhere000001234"),
        "inactive": stack.basic(stack.KEY_INACTIVE),
        "noint": stack.basic(stack.KEY_NOINT),
    }
    h = named[headers] if isinstance(headers, str) else headers
    for method, path in (("POST", PAY), ("GET", f"{PAY}/pi_123"), ("POST", "/v1/stripe/cards"),
                         ("DELETE", "/v1/stripe/cards/pm_1"), ("POST", f"{PAY}/pi_1/void")):
        resp = await stack.amci.request(method, path, json={}, headers=h)
        body = await resp.json()
        assert (resp.status, body["error"]["code"]) == (status, code), (method, path, body)
        assert body["error"]["type"] == "invalid_request_error"
        assert "Request-Id" in resp.headers
    if code == "login_invalid":
        assert body["error"]["param"] == "login"
    no_upstream(stack)


async def test_any_test_key_with_the_demo_subscription(make_stack: Any) -> None:
    demo = SubscriptionSettings(id="demo", stripe_integration_activated=True,
                                allow_any_test_key=True)
    stack = await make_stack(subscriptions=(demo,))
    status, body, _ = await stack.post(PAY, {"amount": "1.00", "currency": "USD",
                                             "card": stack.card()}, key="sk_test_anything_at_all")
    assert status == 201, body
    resp = await stack.amci.post(PAY, json={}, headers=stack.basic("sk_live_anything_at_all"))
    assert resp.status == 401


def payment(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"amount": "10.00", "currency": "USD",
                            "card": {"number": "4242424242424242", "exp_month": 12,
                                     "exp_year": 2034, "cvc": "123"}}
    body.update(over)
    return {k: v for k, v in body.items() if v is not None}


@pytest.mark.parametrize(
    ("body", "status", "code", "param", "message"),
    [
        (payment(currency="XYZ"), 400, "invalid_currency", "currency", None),
        (payment(currency=None), 400, "parameter_missing", "currency", None),
        (payment(amount=None), 400, "parameter_missing", "amount", None),
        (payment(amount=10), 400, "parameter_invalid", "amount", None),
        (payment(amount="10.5", currency="JPY"), 400, "amount_precision", "amount", None),
        (payment(amount="1.234", currency="KWD"), 400, "amount_precision", "amount", None),
        (payment(amount="99.50", currency="ISK"), 400, "amount_precision", "amount", None),
        (payment(amount="1000000.00"), 400, "amount_too_large", "amount", None),
        (payment(amount="0.49"), 400, "amount_too_small", "amount",
         "Your payment must be no less than 0.5 USD"),
        (payment(amount="0.45", currency="CHF"), 400, "amount_too_small", "amount",
         "Your payment must be no less than 0.46 CHF"),
        (payment(amount="0.00"), 400, "amount_too_small", "amount",
         "Your payment must be no less than 0.5 USD"),
        (payment(enabled_brands=["mastercard"]), 400, "card_brand_not_enabled", "card.number",
         None),
        (payment(enabled_brands=["VISA", "MasterCard", "American Express", "Discover"],
                 card={"number": "3566002020360505", "exp_month": 12, "exp_year": 2034}),
         400, "card_brand_not_enabled", "card.number", None),
        (payment(card={"number": "4242424242424241", "exp_month": 12, "exp_year": 2034}),
         402, "incorrect_number", "card.number", "Your card number is incorrect."),
        (payment(card={"number": "4242424242424242", "exp_month": 13, "exp_year": 2034}),
         402, "invalid_expiry_month", "card.exp_month", None),
        (payment(card={"number": "4242424242424242", "exp_month": 1, "exp_year": 2001}),
         402, "invalid_expiry_year", "card.exp_year", None),
        (payment(card={"number": "4242424242424242", "exp_month": 1, "exp_year": 2034,
                       "cvc": "99"}), 402, "invalid_cvc", "card.cvc", None),
        (payment(card={"number": "378282246310005", "exp_month": 1, "exp_year": 2034,
                       "cvc": "123"}), 402, "invalid_cvc", "card.cvc", None),
        (payment(card={"number": "4242424242424242", "exp_year": 2034}), 400,
         "parameter_missing", "card.exp_month", None),
        (payment(token="pm_123"), 400, "parameter_invalid", "token", None),
        (payment(card=None), 400, "parameter_invalid", "token", None),
        (payment(card="4242"), 400, "parameter_invalid", "card", None),
        (payment(capture="yes"), 400, "parameter_invalid", "capture", None),
        (payment(metadata={"n": 1}), 400, "parameter_invalid", "metadata.n", None),
        (payment(metadata={"reference": "x"}), 400, "parameter_invalid", "metadata.reference",
         None),
        (payment(enabled_brands=["visa", "jcb"]), 400, "parameter_invalid",
         "enabled_brands[1]", None),
    ],
)
async def test_payment_refused_before_the_network(
    make_stack: Any, body: dict[str, Any], status: int, code: str, param: str,
    message: str | None,
) -> None:
    acme = make_stack_subscriptions()[0].model_copy(
        update={"minimum_overrides": {"CHF": "0.46"}}
    )
    stack = await make_stack(subscriptions=(acme, *make_stack_subscriptions()[1:]))
    got_status, got, _ = await stack.post(PAY, body, idem="refused-1")
    assert got_status == status, got
    err = got["error"]
    assert (err["code"], err.get("param")) == (code, param)
    assert err["type"] == ("card_error" if status == 402 else "invalid_request_error")
    if message is not None:
        assert err["message"] == message
    no_upstream(stack)
    # A refusal is not stored against the Idempotency-Key: a corrected retry goes through.
    ok_status, ok, _ = await stack.post(PAY, payment(), idem="refused-1")
    assert ok_status == 201, ok


def make_stack_subscriptions() -> tuple[SubscriptionSettings, ...]:
    from amci.auth import fingerprint

    return (
        SubscriptionSettings(id="acme", stripe_integration_activated=True,
                             key_fingerprints=(fingerprint(
                                 "sk_test_51AcmeSecretKeyForTests000000000wxyz"),)),
    )


async def test_bad_json_and_non_object(stack: Stack) -> None:
    for raw in (b"{not json", b"[1, 2]", b'"x"'):
        resp = await stack.amci.post(PAY, data=raw, headers={**stack.basic(),
                                                             "Content-Type": "application/json"})
        body = await resp.json()
        assert resp.status == 400 and body["error"]["code"] == "parameter_invalid", body
    no_upstream(stack)


async def test_save_card_needs_an_email_and_makes_no_stripe_call(stack: Stack) -> None:
    for customer in (None, {}, {"name": "John", "email": ""}):
        body: dict[str, Any] = {"card": stack.card()}
        if customer is not None:
            body["customer"] = customer
        status, err, _ = await stack.post("/v1/stripe/cards", body)
        assert status == 400
        assert (err["error"]["code"], err["error"]["param"]) == ("email_required",
                                                                 "customer.email")
    status, err, _ = await stack.post("/v1/stripe/cards", {
        "card": stack.card(number="5555555555554444"), "customer": {"email": "a@b.co"},
        "enabled_brands": ["visa"]})
    assert status == 400 and err["error"]["code"] == "card_brand_not_enabled"
    no_upstream(stack)


async def test_void_is_always_refused_without_a_stripe_call(stack: Stack) -> None:
    status, auth_, _ = await stack.post(PAY, payment(capture=False))
    assert status == 201
    stack.upstream.calls.clear()
    status, err, _ = await stack.post(f"{PAY}/{auth_['id']}/void", {})
    assert status == 400
    assert err["error"]["code"] == "void_not_supported"
    assert "7 days" in err["error"]["message"]
    no_upstream(stack)


async def test_unknown_payment_and_token(stack: Stack) -> None:
    status, err = await stack.get(f"{PAY}/pi_doesnotexist000000")
    assert status == 404 and err["error"]["code"] == "resource_missing"
    status, err, _ = await stack.post(PAY, payment(card=None, token="pm_doesnotexist000"))
    assert status == 404 and err["error"]["code"] == "resource_missing", err
    assert err["error"]["param"] == "token"
    resp = await stack.amci.delete("/v1/stripe/cards/pm_doesnotexist000", headers=stack.basic())
    assert resp.status == 404
    resp = await stack.amci.get("/v1/nothing/here", headers=stack.basic())
    assert resp.status == 404 and (await resp.json())["error"]["code"] == "resource_missing"


async def test_other_account_cannot_see_a_payment(stack: Stack) -> None:
    status, pay, _ = await stack.post(PAY, payment())
    assert status == 201
    status, err = await stack.get(f"{PAY}/{pay['id']}", key=stack.KEY_OTHER)
    assert status == 404, err


@pytest.mark.parametrize(
    ("number", "code", "decline_code"),
    [
        ("4000000000000002", "card_declined", "generic_decline"),
        ("4000000000009995", "card_declined", "insufficient_funds"),
        ("4000000000009987", "card_declined", "lost_card"),
        ("4000000000000069", "expired_card", None),
        ("4000000000000127", "incorrect_cvc", None),
        ("4000000000000119", "processing_error", None),
    ],
)
async def test_declines_are_relayed(stack: Stack, number: str, code: str,
                                    decline_code: str | None) -> None:
    status, err, _ = await stack.post(PAY, payment(card={"number": number, "exp_month": 12,
                                                          "exp_year": 2034, "cvc": "123"}),
                                      idem=f"decline-{number}")
    assert status == 402, err
    e = err["error"]
    assert (e["type"], e["code"], e.get("decline_code")) == ("card_error", code, decline_code)
    assert e["message"]
    assert e["payment"].startswith("pi_")
    status, pi = await stack.get(f"{PAY}/{e['payment']}")
    assert status == 200 and pi["status"] == "requires_payment_method"


async def test_token_decline_after_attach(stack: Stack) -> None:
    saved = await stack.save_card("4000000000000341")  # attaches, then charges fail
    status, err, _ = await stack.post(PAY, payment(card=None, token=saved["token"]))
    assert status == 402 and err["error"]["code"] == "card_declined", err
    # A card that simulates an issuer decline can't be saved at all.
    status, err, _ = await stack.post("/v1/stripe/cards", {
        "card": stack.card("4000000000000002"), "customer": {"email": "a@b.co"}})
    assert status == 402 and err["error"]["type"] == "card_error", err


async def test_token_brand_checked_before_charging(stack: Stack) -> None:
    saved = await stack.save_card("5555555555554444")
    stack.upstream.calls.clear()
    status, err, _ = await stack.post(PAY, payment(card=None, token=saved["token"],
                                                   enabled_brands=["visa"]))
    assert status == 400 and err["error"]["code"] == "card_brand_not_enabled"
    assert err["error"]["param"] == "token"
    assert stack.upstream.count("POST", "/v1/payment_intents") == 0


async def test_authorization_expiry_is_relayed(stack: Stack) -> None:
    status, pay, _ = await stack.post(PAY, payment(capture=False))
    assert status == 201 and pay["status"] == "requires_capture"
    resp = await stack.amci._session.post(f"{stack.testmode_url}/_testmode/clock/advance",
                                          json={"seconds": 8 * 86400})
    assert resp.status == 200
    status, fresh = await stack.get(f"{PAY}/{pay['id']}")
    assert status == 200 and fresh["status"] == "canceled", fresh
    assert fresh["amount_capturable"] == "0.00"
    status, err, _ = await stack.post(f"{PAY}/{pay['id']}/capture", {})
    assert status == 400, err
    assert err["error"]["type"] == "invalid_request_error" and err["error"]["code"]


async def test_upstream_down(make_stack: Any, unused_tcp_port: int) -> None:
    from aiohttp.test_utils import TestServer  # noqa: F401 - type only

    stack = await make_stack()
    dead = f"http://127.0.0.1:{unused_tcp_port}"
    down = await make_stack(upstream=stack.settings.upstream.model_copy(
        update={"test_api_base": dead}))
    status, err, _ = await down.post(PAY, payment(), idem="down-1")
    assert status == 503, err
    assert (err["error"]["type"], err["error"]["code"]) == ("api_error", "upstream_unavailable")
    resp = await down.amci.get("/readyz")
    assert resp.status == 503
    resp = await stack.amci.get("/readyz")
    assert resp.status == 200
    resp = await down.amci.get("/healthz")
    assert resp.status == 200


async def test_long_login_is_never_checked_beyond_length(stack: Stack) -> None:
    header = "Basic " + base64.b64encode(f"whatever-login-at-all:{stack.KEY}".encode()).decode()
    resp = await stack.amci.get(f"{PAY}/pi_doesnotexist000000", headers={"Authorization": header})
    assert resp.status == 404
