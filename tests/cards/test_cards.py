"""amci.cards: the one brand table (Stripe's static ranges), lengths and Luhn, shared by the
proxy's policy and the test-mode server."""

from __future__ import annotations

import pytest

from amci import cards


@pytest.mark.parametrize(
    ("number", "brand"),
    [
        ("4242424242424242", "visa"),
        ("5555555555554444", "mastercard"),
        ("5105105105105100", "mastercard"),
        ("2221000000000009", "mastercard"),
        ("2223003122003222", "mastercard"),
        ("2720990000000007", "mastercard"),
        ("340000000000009", "amex"),
        ("378282246310005", "amex"),
        ("371449635398431", "amex"),
        ("6011111111111117", "discover"),
        ("6011000990139424", "discover"),
        ("6445644564456445", "discover"),
        ("6555900000604105", "discover"),
        ("3566002020360505", "jcb"),
        ("3530111333300000", "jcb"),
        ("3056930009020004", "diners"),
        ("30569309025904", "diners"),
        ("36227206271667", "diners"),
        ("6200000000000005", "unionpay"),  # Stripe's table: 62 is UnionPay
        ("8100000000000000", "unionpay"),
        ("9999999999999995", "unknown"),
        ("2220990000000000", "unknown"),  # just below the Mastercard 2-series
    ],
)
def test_brand_table(number: str, brand: str) -> None:
    assert cards.brand_of(number)[0] == brand


@pytest.mark.parametrize(
    ("number", "length_ok"),
    [("4242424242424242", True), ("378282246310005", True), ("3782822463100050", False),
     ("36227206271667", True), ("555555555555444", False)],
)
def test_lengths_follow_the_brand(number: str, length_ok: bool) -> None:
    assert (len(number) in cards.brand_of(number)[1]) is length_ok


@pytest.mark.parametrize(
    ("number", "ok"),
    [("4242424242424242", True), ("4242424242424241", False),
     ("79927398713", True), ("79927398710", False)],
)
def test_luhn(number: str, ok: bool) -> None:
    assert cards.luhn_ok(number) is ok
