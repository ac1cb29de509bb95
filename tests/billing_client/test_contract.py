"""billing_client.contract: every invalid field is a 400 naming the field (``param``); unknown
fields are refused; amounts are ASCII decimal strings. Rules that need stored state are the use
cases' (``usecases.payment_systems.merged``: test_mode versus the key; ``payments.amount_minor``:
the currency's decimals), checked here with them as pure functions."""

from typing import Any

import pytest

from billing_client import money
from billing_client.contract import (
    Capture,
    CurrencyAssignment,
    CustomerCreate,
    CustomerUpdate,
    PaymentCreate,
    PaymentSystemCreate,
    PaymentSystemUpdate,
    RefundCreate,
    Retry,
    Void,
    parse,
)
from billing_client.errors import InvalidRequest
from billing_client.usecases.payment_systems import PaymentSystemInput, merged
from billing_client.usecases.payments import amount_minor

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


def payment_system(body: Any, current: PaymentSystemInput | None = None) -> PaymentSystemInput:
    model = PaymentSystemCreate if current is None else PaymentSystemUpdate
    return merged(parse(model, body), current)


def test_payment_system_good() -> None:
    ps = payment_system(GOOD)
    assert ps.processor == "stripe" and ps.test_mode is True
    assert ps.api_key.reveal() == KEY and ps.login.reveal() == "admin-login"
    assert ps.enabled_methods == ("VISA", "MasterCard")


def test_payment_system_defaults_and_aliases() -> None:
    body = {k: v for k, v in GOOD.items() if k not in ("test_mode", "data_protection")}
    body["enabled_methods"] = ["amex", "visa", "DISCOVER", "Visa"]
    ps = payment_system(body)
    assert ps.test_mode is True  # derived from the sk_test_ key
    assert ps.data_protection == "token_only"
    assert ps.enabled_methods == ("VISA", "American Express", "Discover")  # canonical order


@pytest.mark.parametrize(
    ("change", "param", "code"),
    [
        ({"name": None}, "name", "parameter_missing"),
        ({"name": "  "}, "name", "parameter_missing"),
        ({"name": 5}, "name", "parameter_invalid"),
        ({"name": "n" * 101}, "name", "parameter_invalid"),
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
        payment_system(body)
    assert (info.value.param, info.value.code, info.value.status) == (param, code, 400)


def test_test_mode_refusal_never_shows_the_key() -> None:
    with pytest.raises(InvalidRequest) as info:
        payment_system({**GOOD, "test_mode": False})
    assert KEY not in info.value.message and "sk_test_…wxyz" in info.value.message


def test_payment_system_patch_merges_and_rechecks_mode() -> None:
    current = payment_system(GOOD)
    patched = payment_system({"enabled_methods": ["Discover"]}, current)
    assert patched.enabled_methods == ("Discover",) and patched.api_key == current.api_key
    live = payment_system({"password": "sk_live_0123456789abcdef"}, current)
    assert live.test_mode is False  # re-derived from the new key
    with pytest.raises(InvalidRequest) as info:
        payment_system({"test_mode": False}, current)
    assert info.value.param == "test_mode"
    with pytest.raises(InvalidRequest) as info:
        payment_system({"login": None}, current)  # given as null: missing, not "keep"
    assert (info.value.param, info.value.code) == ("login", "parameter_missing")


def test_secrets_stay_out_of_reprs_and_refusals() -> None:
    request = parse(PaymentSystemCreate, GOOD)
    assert KEY not in repr(request) and "admin-login" not in repr(request)
    card = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "987"}
    pay = parse(PaymentCreate, {"amount": "1.00", "card": card})
    assert "4242424242424242" not in repr(pay) and "987" not in repr(pay)
    with pytest.raises(InvalidRequest) as info:
        parse(PaymentCreate, {"amount": "1.00", "card": {**card, "exp_month": "x"}})
    assert "4242424242424242" not in str(info.value.body())


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
    data = parse(CurrencyAssignment, body)
    assert data.payment_system == "ps_1"
    assert money.parse_amount(data.minimum_payment, code) == minimum


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({}, "payment_system", "parameter_missing"),
        ({"payment_system": "ps_1", "minimum_payment": 0.5}, "minimum_payment", "amount_invalid"),
        ({"payment_system": "ps_1", "minimum": "1"}, "minimum", "parameter_invalid"),
    ],
)
def test_currency_refusals(body: dict[str, Any], param: str, code: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse(CurrencyAssignment, body)
    assert (info.value.param, info.value.code) == (param, code)


def test_customer() -> None:
    c = parse(CustomerCreate, {"name": "John Doe", "currency": "usd"})
    assert (c.name, c.email, c.currency) == ("John Doe", None, "USD")
    patch = parse(CustomerUpdate, {"email": "john@example.com"})
    assert patch.model_dump(exclude_unset=True) == {"email": "john@example.com"}
    assert parse(CustomerUpdate, {"email": None}).model_dump(exclude_unset=True) == {"email": None}


@pytest.mark.parametrize(
    ("model", "body", "param"),
    [
        (CustomerCreate, {"currency": "USD"}, "name"),
        (CustomerCreate, {"name": "J"}, "currency"),
        (CustomerCreate, {"name": "J", "currency": "USD", "email": "not-an-email"}, "email"),
        (CustomerCreate, {"name": "J", "currency": "ZZZ"}, "currency"),
        (CustomerUpdate, {}, "email"),  # nothing to update
        (CustomerUpdate, {"name": None}, "name"),
        (CustomerUpdate, {"currency": "EUR"}, "currency"),  # not changeable: unknown here
    ],
)
def test_customer_refusals(model: Any, body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse(model, body)
    assert info.value.param == param


CARD = {"number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 34, "cvc": "123"}


def payment(body: dict[str, Any]) -> PaymentCreate:
    data = parse(PaymentCreate, body)
    amount_minor(data.amount, "USD")
    return data


def test_payment_by_card_and_by_saved_card() -> None:
    p = payment({"amount": "10.00", "card": CARD})
    assert p.type == "sale" and amount_minor(p.amount, "USD") == 1000 and p.card is not None
    card = p.card.to_card()
    assert card.number.reveal() == "4242424242424242" and card.exp_year == 2034
    q = payment({"amount": "0.30", "type": "authorization", "card_id": "card_1"})
    assert (q.type, amount_minor(q.amount, "USD"), q.card_id, q.card) == (
        "authorization",
        30,
        "card_1",
        None,
    )


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
        # issue 7: a misspelled field is refused, never ignored (it charged instead of authorizing)
        ({"amount": "1.00", "card_id": "c", "tpye": "authorization"}, "tpye"),
        # issue 7: Arabic-Indic digits are digits to Python, not to us
        ({"amount": "١٠.٠٠", "card_id": "c"}, "amount"),
        ({"amount": "1.00", "card": {**CARD, "number": "٤٢٤٢٤٢٤٢٤٢٤٢٤٢٤٢"}}, "card.number"),
        ({"amount": "1.00", "card": {**CARD, "exp_month": "١٢"}}, "card.exp_month"),
        # issue 7: far beyond Python's int-conversion limit, refused before any conversion
        ({"amount": "9" * 5000, "card_id": "c"}, "amount"),
        ({"amount": "1.00", "card": {**CARD, "exp_month": "1" * 5000}}, "card.exp_month"),
        ({"amount": "1.00", "card_id": "c" * 65}, "card_id"),
        ({"amount": "1.00", "card_id": "c", "description": "d" * 501}, "description"),
    ],
)
def test_payment_refusals(body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        payment(body)
    assert info.value.param == param and info.value.status == 400


def test_amount_codes_are_the_documented_ones() -> None:
    for amount, code in (("١٠.٠٠", "amount_invalid"), ("1.001", "amount_precision")):
        with pytest.raises(InvalidRequest) as info:
            payment({"amount": amount, "card_id": "c"})
        assert info.value.code == code


def test_amount_bodies() -> None:
    assert parse(RefundCreate, {}).amount is None
    assert parse(Capture, {}).amount is None
    r = parse(RefundCreate, {"amount": "2.00", "reason": "duplicate"})
    assert (amount_minor(r.amount or "", "USD"), r.reason) == (200, "duplicate")
    for body, param in (({"amount": "-1"}, "amount"), ({"reason": "x"}, "reason")):
        with pytest.raises(InvalidRequest) as info:
            parse(RefundCreate, body)
        assert info.value.param == param
    with pytest.raises(InvalidRequest) as info:
        parse(RefundCreate, {"reason": {"an": "object"}})  # issue 7: was unhashable at AMCI
    assert info.value.param == "reason"
    with pytest.raises(InvalidRequest):
        parse(Capture, {"reason": "duplicate"})
    with pytest.raises(InvalidRequest) as info:
        parse(Void, {"force": True})
    assert info.value.param == "force"
    with pytest.raises(InvalidRequest) as info:
        parse(Retry, {"card": {**CARD, "pin": "1"}})
    assert info.value.param == "card.pin"


def test_an_unknown_field_is_named_but_never_echoed_at_length() -> None:
    with pytest.raises(InvalidRequest) as info:
        parse(CustomerCreate, {"name": "J", "currency": "USD", "x" * 10_000: 1})
    assert info.value.param == "x" * 100 + "…" and len(info.value.message) < 200


@pytest.mark.parametrize("body", [[1, 2], "text", 7, None])
def test_a_body_must_be_an_object(body: Any) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse(CustomerCreate, body)
    assert info.value.message == "The request body must be a JSON object." and not info.value.param
