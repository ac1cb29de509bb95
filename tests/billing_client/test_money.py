"""billing_client.money: exact decimal strings ⇄ minor units, and the end-user minimum message."""

import pytest

from billing_client import money


@pytest.mark.parametrize(
    ("text", "code", "minor"),
    [
        ("10.00", "USD", 1000),
        ("10", "usd", 1000),
        ("0.5", "USD", 50),
        ("0.46", "CHF", 46),
        ("500", "JPY", 500),
        ("500.0", "JPY", 500),
        ("1.230", "KWD", 1230),
        ("1.23", "KWD", 1230),
        ("999999.99", "USD", 99999999),
        ("0.1", "USD", 10),
        ("  7.25 ", "EUR", 725),
    ],
)
def test_parse_amount(text: str, code: str, minor: int) -> None:
    assert money.parse_amount(text, code) == minor


@pytest.mark.parametrize(
    ("value", "code", "error"),
    [
        ("10.001", "USD", "amount_precision"),
        ("5.5", "JPY", "amount_precision"),
        ("1.2345", "KWD", "amount_precision"),
        ("-1.00", "USD", "amount_invalid"),
        ("1e3", "USD", "amount_invalid"),
        ("ten", "USD", "amount_invalid"),
        ("", "USD", "amount_invalid"),
        (10.5, "USD", "amount_invalid"),  # floats are refused, not rounded
        (10, "USD", "amount_invalid"),
        ("1.00", "XYZ", "invalid_currency"),
        ("1.00", "US", "invalid_currency"),
    ],
)
def test_parse_amount_refusals(value: object, code: str, error: str) -> None:
    with pytest.raises(money.MoneyError) as info:
        money.parse_amount(value, code)
    assert info.value.code == error


@pytest.mark.parametrize(
    ("minor", "code", "text", "human"),
    [
        (1000, "USD", "10.00", "10 USD"),
        (50, "USD", "0.50", "0.5 USD"),
        (46, "CHF", "0.46", "0.46 CHF"),
        (50, "JPY", "50", "50 JPY"),
        (1230, "KWD", "1.230", "1.23 KWD"),
        (0, "USD", "0.00", "0 USD"),
        (5, "ISK", "5", "5 ISK"),
    ],
)
def test_format_and_human(minor: int, code: str, text: str, human: str) -> None:
    assert money.format_amount(minor, code) == text
    assert money.human(minor, code) == human
    assert money.parse_amount(text, code) == minor


def test_minimum_message_is_amcis_wording() -> None:
    # The spec's example, word for word (docs/amci-api.md, amount_too_small).
    assert money.minimum_message(50, "USD") == "Your payment must be no less than 0.5 USD"
    assert money.minimum_message(46, "chf") == "Your payment must be no less than 0.46 CHF"


def test_table_is_the_billing_clients_own() -> None:
    table = money.decimals_table()
    assert len(table) == 139
    assert table["USD"] == 2 and table["JPY"] == 0 and table["KWD"] == 3 and table["ISK"] == 0
