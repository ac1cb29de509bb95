"""Table-driven tests for amci.policy: Stripe's limits applied before any network call."""

from __future__ import annotations

from datetime import date
from types import MappingProxyType
from typing import Any

import pytest

from amci import contract, money, policy
from amci.errors import AmciError, CardInvalid, PolicyRefusal

FX = money.load_fx()
USD = money.currency("USD")
TODAY = date(2026, 11, 26)


@pytest.mark.parametrize(
    ("amount", "code", "minor"),
    [
        ("10.00", "USD", 1000),
        ("10", "usd", 1000),
        ("500", "JPY", 500),
        ("1.230", "KWD", 1230),
        ("5", "ISK", 500),
        ("5.00", "UGX", 500),
        ("999999.99", "USD", 99_999_999),
        ("0.00", "USD", 0),
    ],
)
def test_amount_accepted(amount: str, code: str, minor: int) -> None:
    cur = policy.currency_of(code)
    assert policy.amount_of(amount, cur).minor == minor


@pytest.mark.parametrize(
    ("amount", "code", "error_code", "param"),
    [
        ("10.5", "JPY", "amount_precision", "amount"),
        ("1.234", "KWD", "amount_precision", "amount"),
        ("5.50", "ISK", "amount_precision", "amount"),
        ("5.01", "UGX", "amount_precision", "amount"),
        ("1.001", "USD", "amount_precision", "amount"),
        ("1000000.00", "USD", "amount_too_large", "amount"),
        ("100000000", "JPY", "amount_too_large", "amount"),
        ("-1.00", "USD", "parameter_invalid", "amount"),
        ("1e3", "USD", "parameter_invalid", "amount"),
        (10.5, "USD", "parameter_invalid", "amount"),
        ("abc", "USD", "parameter_invalid", "amount"),
    ],
)
def test_amount_refused(amount: Any, code: str, error_code: str, param: str) -> None:
    cur = policy.currency_of(code)
    with pytest.raises(PolicyRefusal) as err:
        policy.amount_of(amount, cur)
    assert (err.value.code, err.value.param, err.value.status) == (error_code, param, 400)


@pytest.mark.parametrize("code", ["XYZ", "usdd", "", None, 12])
def test_currency_refused(code: Any) -> None:
    with pytest.raises(AmciError) as err:
        policy.currency_of(code)
    assert err.value.param == "currency"
    assert err.value.code in {"invalid_currency", "parameter_invalid"}


@pytest.mark.parametrize(
    ("code", "overrides", "expected_minimum", "message"),
    [
        ("USD", {}, 50, "Your payment must be no less than 0.5 USD"),
        ("CHF", {}, 46, "Your payment must be no less than 0.46 CHF"),
        ("EUR", {}, 44, "Your payment must be no less than 0.44 EUR"),
        ("JPY", {}, None, None),  # computed below from the FX table
        ("USD", {"USD": "1.00"}, 100, "Your payment must be no less than 1 USD"),
        ("CHF", {"CHF": "0.46"}, 46, "Your payment must be no less than 0.46 CHF"),
    ],
)
def test_minimum(code: str, overrides: dict[str, str], expected_minimum: int | None,
                 message: str | None) -> None:
    cur = money.currency(code)
    minimum = policy.minimum_minor(cur, settlement=USD, fx=FX,
                                   overrides=MappingProxyType(overrides))
    if expected_minimum is None:
        expected_minimum = money.minimum_in(cur, USD, FX)
        message = f"Your payment must be no less than {money.human(expected_minimum or 0, cur)}"
    assert minimum == expected_minimum
    assert minimum is not None
    policy.check_minimum(policy.Amount(minimum, cur), minimum)  # the minimum itself passes
    with pytest.raises(PolicyRefusal) as err:
        policy.check_minimum(policy.Amount(minimum - 1, cur), minimum)
    assert (err.value.code, err.value.param, err.value.message) == (
        "amount_too_small", "amount", message)


def test_minimum_unknown_lets_stripe_decide_but_zero_is_refused() -> None:
    cur = money.currency("USD")
    policy.check_minimum(policy.Amount(1, cur), None)
    with pytest.raises(PolicyRefusal) as err:
        policy.check_minimum(policy.Amount(0, cur), None)
    assert err.value.code == "amount_too_small"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (["visa"], {"visa"}),
        (["VISA", "MasterCard", "American Express", "Discover"],
         {"visa", "mastercard", "amex", "discover"}),
        (["amex", "mastercard"], {"amex", "mastercard"}),
    ],
)
def test_enabled_brands(value: Any, expected: set[str] | None) -> None:
    body = {"amount": "1.00", "currency": "USD", "enabled_brands": value}
    req = contract.validate(contract.PaymentRequest, body)
    got = policy.enabled_brands(req.enabled_brands)
    assert (None if got is None else set(got)) == expected


@pytest.mark.parametrize(("value", "param"), [([], "enabled_brands"), ("visa", "enabled_brands"),
                                              (["visa", "jcb"], "enabled_brands[1]"),
                                              ([3], "enabled_brands[0]")])
def test_enabled_brands_refused(value: Any, param: str) -> None:
    with pytest.raises(AmciError) as err:
        contract.validate(contract.PaymentRequest,
                          {"amount": "1.00", "currency": "USD", "enabled_brands": value})
    assert (err.value.code, err.value.param) == ("parameter_invalid", param)


GOOD = {"number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}


def _card(raw: dict[str, Any]) -> contract.CardIn:
    return contract.validate(contract.CardIn, raw)


@pytest.mark.parametrize(
    ("change", "code", "param"),
    [
        ({"number": None}, "parameter_invalid", "number"),
        ({"number": 4242424242424242}, "parameter_invalid", "number"),
        ({"exp_month": "x"}, "parameter_invalid", "exp_month"),
        ({"exp_month": "12"}, "parameter_invalid", "exp_month"),  # strict: JSON integers only
        ({"exp_month": True}, "parameter_invalid", "exp_month"),
        ({"exp_year": None}, "parameter_invalid", "exp_year"),
        ({"cvc": 123}, "parameter_invalid", "cvc"),
        ({"cvv": "123"}, "parameter_unknown", "cvv"),
    ],
)
def test_card_types_are_the_contracts(change: dict[str, Any], code: str, param: str) -> None:
    with pytest.raises(AmciError) as err:
        _card({**GOOD, **change})
    assert (err.value.code, err.value.status, err.value.param) == (code, 400, param)


@pytest.mark.parametrize(
    ("change", "enabled", "error_code", "status", "param"),
    [
        ({"number": "4242424242424241"}, None, "incorrect_number", 402, "card.number"),
        ({"number": "4242"}, None, "incorrect_number", 402, "card.number"),
        ({"number": "4242x24242424242"}, None, "incorrect_number", 402, "card.number"),
        # Luhn-valid, but 16 digits where Amex has 15 (Stripe: length must fit the brand).
        ({"number": "3782822463100052"}, None, "incorrect_number", 402, "card.number"),
        ({"number": " "}, None, "parameter_missing", 400, "card.number"),
        ({"exp_month": 13}, None, "invalid_expiry_month", 402, "card.exp_month"),
        ({"exp_month": 0}, None, "invalid_expiry_month", 402, "card.exp_month"),
        ({"exp_year": 95}, None, "invalid_expiry_year", 402, "card.exp_year"),
        ({"exp_year": 2025}, None, "invalid_expiry_year", 402, "card.exp_year"),
        ({"exp_year": 2026, "exp_month": 10}, None, "expired_card", 402, "card.exp_month"),
        ({"cvc": "12"}, None, "invalid_cvc", 402, "card.cvc"),
        ({"cvc": "1234"}, None, "invalid_cvc", 402, "card.cvc"),
        ({"cvc": "12a"}, None, "invalid_cvc", 402, "card.cvc"),
        ({"number": "378282246310005", "cvc": "123"}, None, "invalid_cvc", 402, "card.cvc"),
        ({}, frozenset({"mastercard"}), "card_brand_not_enabled", 400, "card.number"),
        ({"number": "3566002020360505"}, frozenset({"visa", "mastercard", "amex", "discover"}),
         "card_brand_not_enabled", 400, "card.number"),
    ],
)
def test_card_refused(change: dict[str, Any], enabled: frozenset[str] | None, error_code: str,
                      status: int, param: str) -> None:
    with pytest.raises(AmciError) as err:
        policy.check_card(_card({**GOOD, **change}), today=TODAY, enabled=enabled)
    assert (err.value.code, err.value.status, err.value.param) == (error_code, status, param)
    if status == 402:
        assert isinstance(err.value, CardInvalid) and err.value.type == "card_error"


@pytest.mark.parametrize(
    ("change", "brand", "exp_year", "cvc"),
    [
        ({}, "visa", 2034, "123"),
        ({"exp_year": 34}, "visa", 2034, "123"),
        ({"cvc": None}, "visa", 2034, None),
        ({"cvc": ""}, "visa", 2034, None),
        ({"exp_year": 2026, "exp_month": 11}, "visa", 2026, "123"),  # valid through November
        ({"number": "378282246310005", "cvc": "1234"}, "amex", 2034, "1234"),
    ],
)
def test_card_accepted(change: dict[str, Any], brand: str, exp_year: int, cvc: str | None) -> None:
    card = policy.check_card(_card({**GOOD, **change}), today=TODAY, enabled=None)
    assert (card.brand, card.exp_year, card.cvc) == (brand, exp_year, cvc)
    assert card.number.isdigit()
    assert card.number not in repr(card) and "123" not in repr(card)


@pytest.mark.parametrize(
    ("customer", "code"),
    [(None, "email_required"), ({}, "email_required"), ({"email": "  "}, "email_required"),
     ({"email": "not-an-email"}, "email_invalid")],
)
def test_email_refused(customer: Any, code: str) -> None:
    given = None if customer is None else contract.validate(contract.CustomerIn, customer)
    with pytest.raises(PolicyRefusal) as err:
        policy.require_email(given)
    assert (err.value.code, err.value.param) == (code, "customer.email")


def test_email_accepted() -> None:
    customer = contract.validate(contract.CustomerIn, {"email": " john@example.com "})
    assert policy.require_email(customer) == "john@example.com"
