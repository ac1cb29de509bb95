"""Card policy, pure: brand from the number, Luhn, expiry, CVC — as the billing system checks them
before anything is stored (under ``full_card_except_cvv`` nothing reaches AMCI until a payment).

Messages and codes are Stripe's card errors (docs.stripe.com/error-codes: ``incorrect_number``,
``invalid_expiry_month``, ``invalid_expiry_year``, ``expired_card``, ``invalid_cvc``), so the user
sees the same text whichever side caught the problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from importlib import resources
from typing import Any

import yaml

from billing_client.crypto import CardNumber, Cvc
from billing_client.errors import CardError


def _load() -> dict[str, Any]:
    text = resources.files("billing_client").joinpath("data/card-brands.yaml").read_text()
    data: dict[str, Any] = yaml.safe_load(text)
    return data


# The brand table (billing_client/data/card-brands.yaml, its sources cited there): the same file
# AMCI ships, so both services classify a number alike (tests/cards/test_brand_contract.py).
_DATA = _load()
_RANGES: tuple[tuple[str, str, str, frozenset[int]], ...] = tuple(
    (row["low"], row["high"], row["brand"], frozenset(row["lengths"])) for row in _DATA["ranges"]
)
_CVC_LENGTHS: dict[str, frozenset[int]] = {
    brand: frozenset(info["cvc_lengths"]) for brand, info in _DATA["brands"].items()
}
MIN_PAN, MAX_PAN = int(_DATA["unknown_lengths"]["min"]), int(_DATA["unknown_lengths"]["max"])

# The payment methods the spec lets an administrator enable, as shown in PortaBilling, and the
# brand ids AMCI speaks (docs/amci-api.md, `enabled_brands`).
METHODS: dict[str, str] = {
    "VISA": "visa",
    "MasterCard": "mastercard",
    "American Express": "amex",
    "Discover": "discover",
}
# Display names: PortaBilling's for the brands it offers, the table's for the others (whose cards
# are then refused as "<name> cards are not enabled").
BRAND_NAMES: dict[str, str] = {
    **{brand: str(info["name"]) for brand, info in _DATA["brands"].items()},
    **{brand: name for name, brand in METHODS.items()},
}


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


def _row(number: str) -> tuple[str, frozenset[int]] | None:
    for low, high, brand, lengths in _RANGES:
        head = number[: len(low)]
        if len(head) == len(low) and low <= head <= high:
            return brand, lengths
    return None


def brand_of(number: str) -> str | None:
    """Stripe's brand id ("visa", "mastercard", …) by IIN range, or None."""
    if not (number.isascii() and number.isdigit()):
        return None
    row = _row(number)
    return row[0] if row else None


def pan_lengths(number: str) -> frozenset[int]:
    """The lengths a card number of this brand may have."""
    row = _row(number)
    return row[1] if row else frozenset(range(MIN_PAN, MAX_PAN + 1))


def cvc_lengths(brand: str | None) -> frozenset[int]:
    """Valid CVC lengths for a brand: 4 on American Express cards, 3 on the others."""
    return _CVC_LENGTHS.get(brand or "", frozenset({3}))


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
    # As Stripe reads a number: its length must fit the brand, and Luhn must pass.
    if len(number) not in pan_lengths(number) or not luhn_ok(number):
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
        if len(cvc) not in cvc_lengths(brand_of(number)) or not cvc.isdigit():
            raise CardError(
                "Your card's security code is invalid.", code="invalid_cvc", param="card.cvc"
            )
