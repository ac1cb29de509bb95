"""Table-driven tests for amci.money: Stripe's currency rules, exact conversions."""

from fractions import Fraction

import pytest

from amci.money import (
    MoneyError,
    currencies,
    currency,
    from_minor,
    human,
    load_fx,
    minimum_in,
    to_minor,
    validate_minor,
)


def test_table_has_stripes_139_presentment_currencies() -> None:
    table = currencies()
    assert len(table) == 139
    # docs.stripe.com/currencies#zero-decimal (UGX is the ISK-like special case, exponent 2).
    zero = {c for c, cur in table.items() if cur.exponent == 0}
    assert zero == {
        "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "VND", "VUV", "XAF",
        "XOF", "XPF",
    }
    three = {c for c, cur in table.items() if cur.exponent == 3}
    assert three == {"BHD", "JOD", "KWD", "OMR", "TND"}


@pytest.mark.parametrize(
    ("amount", "code", "minor"),
    [
        ("10.00", "USD", 1000),
        ("10", "usd", 1000),
        ("0.5", "USD", 50),
        ("999999.99", "USD", 99999999),
        ("500", "JPY", 500),
        ("500.0", "JPY", 500),
        ("1.230", "KWD", 1230),
        ("5", "ISK", 500),
        ("3800", "UGX", 380000),
    ],
)
def test_to_minor_exact(amount: str, code: str, minor: int) -> None:
    assert to_minor(amount, currency(code)) == minor


@pytest.mark.parametrize(
    ("amount", "code", "error"),
    [
        ("10.5", "JPY", "amount_precision"),
        ("1.235", "KWD", "amount_precision"),
        ("5.50", "ISK", "amount_precision"),
        ("10.001", "USD", "amount_precision"),
        ("-1", "USD", "amount_invalid"),
        ("1e3", "USD", "amount_invalid"),
        ("", "USD", "amount_invalid"),
        ("NaN", "USD", "amount_invalid"),
    ],
)
def test_to_minor_refuses(amount: str, code: str, error: str) -> None:
    with pytest.raises(MoneyError) as info:
        to_minor(amount, currency(code))
    assert info.value.code == error


def test_floats_are_refused() -> None:
    with pytest.raises(MoneyError):
        to_minor(10.5, currency("USD"))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("minor", "code", "text", "spoken"),
    [
        (1000, "USD", "10.00", "10 USD"),
        (50, "USD", "0.50", "0.5 USD"),
        (46, "CHF", "0.46", "0.46 CHF"),
        (50, "JPY", "50", "50 JPY"),
        (5120, "KWD", "5.120", "5.12 KWD"),
    ],
)
def test_formatting(minor: int, code: str, text: str, spoken: str) -> None:
    assert from_minor(minor, currency(code)) == text
    assert human(minor, currency(code)) == spoken


def test_unknown_currency() -> None:
    with pytest.raises(MoneyError) as info:
        currency("XYZ")
    assert info.value.code == "invalid_currency"


@pytest.mark.parametrize(
    ("minor", "code"), [(0, "amount_too_small"), (100_000_000, "amount_too_large")]
)
def test_validate_minor_bounds(minor: int, code: str) -> None:
    with pytest.raises(MoneyError) as info:
        validate_minor(minor)
    assert info.value.code == code
    assert validate_minor(99_999_999) == 99_999_999


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("USD", 50),
        ("CHF", 46),  # the spec's "0.46 CHF" equivalent of 0.5 USD
        ("EUR", 44),  # 0.50 USD = 0.4325 EUR, rounded up
        ("JPY", 76),
        ("KWD", 160),  # rounded up to a multiple of 10
        ("ISK", 6300),  # rounded up to a multiple of 100
        ("XCD", None),  # no FX rate: unknown
    ],
)
def test_minimum_in_settlement_currency(code: str, expected: int | None) -> None:
    assert minimum_in(currency(code), currency("USD"), load_fx()) == expected


def test_fx_is_exact() -> None:
    fx = load_fx()
    assert fx.convert(46, currency("CHF"), currency("USD")) == Fraction(50)


@pytest.mark.parametrize(
    ("amount", "code", "error"),
    [
        ("9" * 5000, "USD", "amount_too_large"),  # past Python's int-conversion limit
        ("1000000", "USD", "amount_too_large"),  # 7 whole digits + 2 decimals: 9 digits
        ("100000000", "JPY", "amount_too_large"),
        ("100000", "KWD", "amount_too_large"),
        ("١٠.٠٠", "USD", "amount_invalid"),  # Arabic-Indic digits are not money
        ("１０", "USD", "amount_invalid"),  # nor fullwidth ones
    ],
)
def test_to_minor_refuses_before_converting(amount: str, code: str, error: str) -> None:
    with pytest.raises(MoneyError) as err:
        to_minor(amount, currency(code))
    assert err.value.code == error


def test_to_minor_keeps_leading_zeros_harmless() -> None:
    assert to_minor("0" * 40 + "999999.99", currency("USD")) == 99_999_999
