"""Card policy, pure: brand from the number, Luhn, expiry, CVC — as the billing system checks them
before anything is stored (under ``full_card_except_cvv`` nothing reaches AMCI until a payment).

Messages and codes are Stripe's card errors (docs.stripe.com/error-codes: ``incorrect_number``,
``invalid_expiry_month``, ``invalid_expiry_year``, ``expired_card``, ``invalid_cvc``), so the user
sees the same text whichever side caught the problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from billing_client.crypto import CardNumber, Cvc
from billing_client.errors import CardError

# The payment methods the spec lets an administrator enable, as shown in PortaBilling, and the
# brand ids AMCI speaks (docs/amci-api.md, `enabled_brands`).
METHODS: dict[str, str] = {
    "VISA": "visa",
    "MasterCard": "mastercard",
    "American Express": "amex",
    "Discover": "discover",
}
BRAND_NAMES: dict[str, str] = {brand: name for name, brand in METHODS.items()}


@dataclass(frozen=True, slots=True)
class Card:
    number: CardNumber
    exp_month: int
    exp_year: int
    cvc: Cvc | None = None
    holder: str | None = None

    @property
    def brand(self) -> str | None:
        return brand_of(self.number.reveal())

    @property
    def last4(self) -> str:
        return self.number.last4


def brand_of(number: str) -> str | None:
    """Brand by IIN range (the ranges Stripe's test cards and the networks publish), or None."""
    if not number.isdigit():
        return None
    if number.startswith("4"):
        return "visa"
    two, four, six = int(number[:2]), int(number[:4]), int(number[:6])
    if 51 <= two <= 55 or 2221 <= four <= 2720:
        return "mastercard"
    if two in (34, 37):
        return "amex"
    if (
        number.startswith(("6011", "65"))
        or 644 <= int(number[:3]) <= 649
        or 622126 <= six <= 622925
    ):
        return "discover"
    return None


def luhn_ok(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def check_card(card: Card, today: date) -> None:
    """Refuse card data a network would refuse; raises ``CardError`` naming the field."""
    number = card.number.reveal()
    if not (12 <= len(number) <= 19) or not luhn_ok(number):
        raise CardError(
            "Your card number is incorrect.", code="incorrect_number", param="card.number"
        )
    if not 1 <= card.exp_month <= 12:
        raise CardError(
            "Your card's expiration month is invalid.",
            code="invalid_expiry_month",
            param="card.exp_month",
        )
    if not today.year <= card.exp_year <= today.year + 50:
        if card.exp_year < today.year:
            raise CardError("Your card has expired.", code="expired_card", param="card.exp_year")
        raise CardError(
            "Your card's expiration year is invalid.",
            code="invalid_expiry_year",
            param="card.exp_year",
        )
    if (card.exp_year, card.exp_month) < (today.year, today.month):
        raise CardError("Your card has expired.", code="expired_card", param="card.exp_month")
    if card.cvc is not None:
        cvc = card.cvc.reveal()
        wanted = 4 if brand_of(number) == "amex" else 3
        if len(cvc) != wanted or not cvc.isdigit():
            raise CardError(
                "Your card's security code is invalid.", code="invalid_cvc", param="card.cvc"
            )
