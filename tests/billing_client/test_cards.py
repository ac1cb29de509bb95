"""billing_client.cards: brand by number, Luhn, expiry and CVC as Stripe words the errors."""

from datetime import date

import pytest

from billing_client.cards import Card, brand_of, check_card, luhn_ok
from billing_client.crypto import CardNumber, Cvc
from billing_client.errors import CardError

TODAY = date(2026, 11, 26)


@pytest.mark.parametrize(
    ("number", "brand"),
    [
        # Stripe's documented test cards (docs.stripe.com/testing#cards).
        ("4242424242424242", "visa"),
        ("4000056655665556", "visa"),
        ("5555555555554444", "mastercard"),
        ("2223003122003222", "mastercard"),
        ("5200828282828210", "mastercard"),
        ("378282246310005", "amex"),
        ("371449635398431", "amex"),
        ("6011111111111117", "discover"),
        ("6011000990139424", "discover"),
        ("6555900000604105", "discover"),
        # Brands the spec offers no method for are still named as Stripe names them (and then
        # refused as "not enabled"): the same table as AMCI's.
        ("3056930009020004", "diners"),
        ("3566002020360505", "jcb"),
        ("6221260000000000", "unionpay"),
        ("", None),
        ("42x2", None),
    ],
)
def test_brand_of(number: str, brand: str | None) -> None:
    assert brand_of(number) == brand


@pytest.mark.parametrize(
    ("number", "ok"),
    [("4242424242424242", True), ("4242424242424241", False), ("378282246310005", True)],
)
def test_luhn(number: str, ok: bool) -> None:
    assert luhn_ok(number) is ok


def card(
    number: str = "4242424242424242", month: int = 12, year: int = 2034, cvc: str | None = "123"
) -> Card:
    return Card(CardNumber(number), month, year, Cvc(cvc) if cvc is not None else None)


@pytest.mark.parametrize(
    ("c", "code", "param"),
    [
        (card("4242424242424241"), "incorrect_number", "card.number"),
        (card("42424242"), "incorrect_number", "card.number"),
        (card(month=13), "invalid_expiry_month", "card.exp_month"),
        (card(month=0), "invalid_expiry_month", "card.exp_month"),
        (card(year=2025), "expired_card", "card.exp_year"),
        (card(year=2026, month=10), "expired_card", "card.exp_month"),
        (card(year=2099), "invalid_expiry_year", "card.exp_year"),
        (card(cvc="12"), "invalid_cvc", "card.cvc"),
        (card("378282246310005", cvc="123"), "invalid_cvc", "card.cvc"),
    ],
)
def test_check_card_refusals(c: Card, code: str, param: str) -> None:
    with pytest.raises(CardError) as info:
        check_card(c, TODAY)
    assert (info.value.code, info.value.param, info.value.status) == (code, param, 402)


@pytest.mark.parametrize(
    "c",
    [card(), card(year=2026, month=11), card(cvc=None), card("378282246310005", cvc="1234")],
)
def test_check_card_accepts(c: Card) -> None:
    check_card(c, TODAY)
