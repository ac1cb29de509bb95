"""billing_client.validation: every invalid field is a 4xx naming the field (``param``)."""

from typing import Any

import pytest

from billing_client.errors import InvalidRequest
from billing_client.validation import (
    parse_amount_body,
    parse_currency,
    parse_customer,
    parse_customer_patch,
    parse_payment,
    parse_payment_system,
)

KEY = "sk_test_51HxAbCdEfGhIjKlMnOpwxyz"
GOOD: dict[str, Any] = {
    "name": "Stripe",
    "processor": "Stripe",
    "login": "admin-login",
    "password": KEY,
    "test_mode": True,
    "enabled_methods": ["VISA", "MasterCard"],
    "data_protection": "token_only",
}


def test_payment_system_good() -> None:
    ps = parse_payment_system(GOOD)
    assert ps.processor == "stripe" and ps.test_mode is True
    assert ps.api_key.reveal() == KEY and ps.login.reveal() == "admin-login"
    assert ps.enabled_methods == ("VISA", "MasterCard")


def test_payment_system_defaults_and_aliases() -> None:
    body = {k: v for k, v in GOOD.items() if k not in ("test_mode", "data_protection")}
    body["enabled_methods"] = ["amex", "visa", "DISCOVER", "Visa"]
    ps = parse_payment_system(body)
    assert ps.test_mode is True  # derived from the sk_test_ key
    assert ps.data_protection == "token_only"
    assert ps.enabled_methods == ("VISA", "American Express", "Discover")  # canonical order


@pytest.mark.parametrize(
    ("change", "param", "code"),
    [
        ({"name": None}, "name", "parameter_missing"),
        ({"name": "  "}, "name", "parameter_missing"),
        ({"name": 5}, "name", "parameter_invalid"),
        ({"processor": "PayPal"}, "processor", "parameter_invalid"),
        ({"login": None}, "login", "parameter_missing"),
        ({"login": "abcd"}, "login", "parameter_invalid"),  # must be longer than 4 characters
        ({"login": 12345}, "login", "parameter_invalid"),
        ({"password": None}, "password", "parameter_missing"),
        ({"password": "pk_test_0123456789abcdef"}, "password", "parameter_invalid"),
        ({"password": "hunter2hunter2hunter2"}, "password", "parameter_invalid"),
        ({"test_mode": False}, "test_mode", "parameter_invalid"),  # contradicts sk_test_
        ({"test_mode": "yes"}, "test_mode", "parameter_invalid"),
        (
            {"password": "sk_live_0123456789abcdef", "test_mode": True},
            "test_mode",
            "parameter_invalid",
        ),
        ({"enabled_methods": "VISA"}, "enabled_methods", "parameter_invalid"),
        ({"enabled_methods": ["VISA", "JCB"]}, "enabled_methods.1", "parameter_invalid"),
        ({"data_protection": "everything"}, "data_protection", "parameter_invalid"),
        ({"colour": "red"}, "colour", "parameter_invalid"),
    ],
)
def test_payment_system_refusals(change: dict[str, Any], param: str, code: str) -> None:
    body = {**GOOD, **change}
    with pytest.raises(InvalidRequest) as info:
        parse_payment_system(body)
    assert (info.value.param, info.value.code, info.value.status) == (param, code, 400)


def test_test_mode_refusal_never_shows_the_key() -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_payment_system({**GOOD, "test_mode": False})
    assert KEY not in info.value.message and "sk_test_…wxyz" in info.value.message


def test_payment_system_patch_merges_and_rechecks_mode() -> None:
    current = parse_payment_system(GOOD)
    patched = parse_payment_system({"enabled_methods": ["Discover"]}, current)
    assert patched.enabled_methods == ("Discover",) and patched.api_key == current.api_key
    live = parse_payment_system({"password": "sk_live_0123456789abcdef"}, current)
    assert live.test_mode is False  # re-derived from the new key
    with pytest.raises(InvalidRequest) as info:
        parse_payment_system({"test_mode": False}, current)
    assert info.value.param == "test_mode"


@pytest.mark.parametrize(
    ("code", "body", "minimum"),
    [
        ("usd", {"payment_system": "ps_1", "minimum_payment": "0.5"}, 50),
        ("CHF", {"payment_system": "ps_1", "minimum_payment": "0.46"}, 46),
        ("JPY", {"payment_system": "ps_1", "minimum_payment": "50"}, 50),
        ("USD", {"payment_system": "ps_1"}, 0),
    ],
)
def test_currency(code: str, body: dict[str, Any], minimum: int) -> None:
    upper, data = parse_currency(code, body)
    assert upper == code.upper() and data.minimum_minor == minimum


@pytest.mark.parametrize(
    ("code", "body", "param"),
    [
        ("XYZ", {"payment_system": "ps_1"}, "currency"),
        ("USD", {}, "payment_system"),
        ("USD", {"payment_system": "ps_1", "minimum_payment": 0.5}, "minimum_payment"),
        ("USD", {"payment_system": "ps_1", "minimum_payment": "0.505"}, "minimum_payment"),
    ],
)
def test_currency_refusals(code: str, body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_currency(code, body)
    assert info.value.param == param


def test_customer() -> None:
    c = parse_customer({"name": "John Doe", "currency": "usd"})
    assert (c.name, c.email, c.currency) == ("John Doe", None, "USD")
    assert parse_customer_patch({"email": "john@example.com"}) == {"email": "john@example.com"}
    assert parse_customer_patch({"email": None}) == {"email": None}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"currency": "USD"}, "name"),
        ({"name": "J"}, "currency"),
        ({"name": "J", "currency": "USD", "email": "not-an-email"}, "email"),
        ({"name": "J", "currency": "ZZZ"}, "currency"),
    ],
)
def test_customer_refusals(body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_customer(body)
    assert info.value.param == param


CARD = {"number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 34, "cvc": "123"}


def test_payment_by_card_and_by_saved_card() -> None:
    p = parse_payment({"amount": "10.00", "card": CARD}, "USD")
    assert p.kind == "sale" and p.amount_minor == 1000 and p.card is not None
    assert p.card.number.reveal() == "4242424242424242" and p.card.exp_year == 2034
    q = parse_payment({"amount": "0.30", "type": "authorization", "card_id": "card_1"}, "USD")
    assert (q.kind, q.amount_minor, q.card_id, q.card) == ("authorization", 30, "card_1", None)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"card_id": "c"}, "amount"),
        ({"amount": 10, "card_id": "c"}, "amount"),
        ({"amount": "0", "card_id": "c"}, "amount"),
        ({"amount": "1.001", "card_id": "c"}, "amount"),
        ({"amount": "1.00"}, "card_id"),
        ({"amount": "1.00", "card_id": "c", "card": CARD}, "card_id"),
        ({"amount": "1.00", "card_id": "c", "type": "void"}, "type"),
        ({"amount": "1.00", "card": {**CARD, "number": 4242}}, "card.number"),
        (
            {"amount": "1.00", "card": {"number": "4242424242424242", "exp_year": 2030}},
            "card.exp_month",
        ),
        ({"amount": "1.00", "card": {**CARD, "exp_month": "twelve"}}, "card.exp_month"),
        ({"amount": "1.00", "card": {**CARD, "cvc": 123}}, "card.cvc"),
        ({"amount": "1.00", "card": {**CARD, "pin": "0000"}}, "card.pin"),
    ],
)
def test_payment_refusals(body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_payment(body, "USD")
    assert info.value.param == param


def test_amount_bodies() -> None:
    assert parse_amount_body({}, "USD", refund=True).amount_minor is None
    assert parse_amount_body(None, "USD", refund=False).amount_minor is None
    r = parse_amount_body({"amount": "2.00", "reason": "duplicate"}, "USD", refund=True)
    assert (r.amount_minor, r.reason) == (200, "duplicate")
    for body, param in (({"amount": "-1"}, "amount"), ({"reason": "x"}, "reason")):
        with pytest.raises(InvalidRequest) as info:
            parse_amount_body(body, "USD", refund=True)
        assert info.value.param == param
    with pytest.raises(InvalidRequest):
        parse_amount_body({"reason": "duplicate"}, "USD", refund=False)
