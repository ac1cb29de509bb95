"""Stripe's limits, applied before any network call. Pure: no I/O, no aiohttp, no stripe.

Every refusal is a ``PolicyRefusal`` (400) or ``CardInvalid`` (402 card_error) naming the field.

- Currencies and amounts (docs.stripe.com/currencies): supported presentment currency; no more
  decimals than the currency's exponent; three-decimal amounts end in 0; ISK/UGX whole units;
  at most eight digits in minor units (API reference, ``amount``).
- Minimum charge (docs.stripe.com/currencies, "Minimum charge amount by currency"): the settlement
  currency's minimum, other currencies converted with the FX table, overridable per subscription
  and currency. The refusal carries the end-user message the spec quotes:
  "Your payment must be no less than 0.5 USD".
- Card brands (the spec: the payment system enables VISA, MasterCard, American Express, Discover).
- Card data (docs.stripe.com/testing "invalid data"; Luhn; expiry; CVC 4 digits for Amex, 3 else).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from amci import cards, money
from amci.errors import CardInvalid, PolicyRefusal, parameter_invalid

# --- amounts -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Amount:
    minor: int
    currency: money.Currency

    @property
    def decimal(self) -> str:
        return money.from_minor(self.minor, self.currency)


def currency_of(code: Any, *, param: str = "currency") -> money.Currency:
    if not isinstance(code, str) or not code.strip():
        raise parameter_invalid(param, "currency must be an ISO 4217 code such as \"USD\".")
    try:
        return money.currency(code)
    except money.MoneyError as exc:
        raise PolicyRefusal(exc.code, exc.message, param=param) from None


def amount_of(value: Any, cur: money.Currency, *, param: str = "amount") -> Amount:
    """A decimal string in major units → minor units, with Stripe's precision and size rules.
    Zero is allowed here only for the minimum check to word it; ``positive`` refuses it."""
    try:
        minor = money.to_minor(value, cur)
    except money.MoneyError as exc:
        code = "parameter_invalid" if exc.code == "amount_invalid" else exc.code
        raise PolicyRefusal(code, exc.message, param=param) from None
    if minor > money.MAX_AMOUNT_MINOR:
        limit = money.from_minor(money.MAX_AMOUNT_MINOR, cur)
        raise PolicyRefusal(
            "amount_too_large",
            f"Amount must be no more than {limit} {cur.code} (Stripe takes at most eight digits).",
            param=param,
        )
    return Amount(minor, cur)


def positive(amount: Amount, *, param: str = "amount") -> Amount:
    if amount.minor < 1:
        raise PolicyRefusal(
            "amount_too_small", "Amount must be greater than zero.", param=param
        )
    return amount


def minimum_minor(
    cur: money.Currency,
    *,
    settlement: money.Currency,
    fx: money.FxTable,
    overrides: Mapping[str, str],
) -> int | None:
    """The smallest chargeable amount of ``cur`` in minor units, or None when unknown (then
    Stripe decides)."""
    override = overrides.get(cur.code)
    if override is not None:
        return money.to_minor(override, cur)
    return money.minimum_in(cur, settlement, fx)


def check_minimum(amount: Amount, minimum: int | None, *, param: str = "amount") -> None:
    if minimum is not None and amount.minor < minimum:
        raise PolicyRefusal(
            "amount_too_small",
            f"Your payment must be no less than {money.human(minimum, amount.currency)}",
            param=param,
        )
    positive(amount, param=param)


# --- brands ------------------------------------------------------------------------------------

# The spec's four brands, by the names a billing system may use → Stripe's ``card.brand`` value.
_BRAND_ALIASES: Mapping[str, str] = {
    "visa": "visa",
    "mastercard": "mastercard",
    "master card": "mastercard",
    "amex": "amex",
    "american express": "amex",
    "americanexpress": "amex",
    "discover": "discover",
}

BRAND_NAMES: Mapping[str, str] = {
    "visa": "Visa",
    "mastercard": "MasterCard",
    "amex": "American Express",
    "discover": "Discover",
    "jcb": "JCB",
    "unionpay": "UnionPay",
    "diners": "Diners Club",
    "unknown": "unknown",
}


def enabled_brands(value: Any, *, param: str = "enabled_brands") -> frozenset[str] | None:
    """The brands the payment system enables, or None when the request doesn't say."""
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise parameter_invalid(
            param, "enabled_brands must be a non-empty list such as [\"visa\", \"mastercard\"]."
        )
    brands = set()
    for i, name in enumerate(value):
        brand = _BRAND_ALIASES.get(name.strip().lower()) if isinstance(name, str) else None
        if brand is None:
            raise parameter_invalid(
                f"{param}[{i}]",
                "Unknown card brand; use visa, mastercard, amex or discover.",
            )
        brands.add(brand)
    return frozenset(brands)


def check_brand(brand: str, enabled: frozenset[str] | None, *, param: str = "card.number") -> None:
    if enabled is not None and brand not in enabled:
        raise PolicyRefusal(
            "card_brand_not_enabled",
            f"{BRAND_NAMES.get(brand, brand)} cards are not enabled for this payment system.",
            param=param,
        )


# --- card data ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Card:
    """Card data that passed the checks. ``number`` and ``cvc`` never leave AMCI except to
    Stripe; its repr is masked."""

    number: str
    exp_month: int
    exp_year: int
    cvc: str | None
    holder: str | None
    brand: str

    @property
    def last4(self) -> str:
        return self.number[-4:]

    def __repr__(self) -> str:
        return (
            f"Card(brand={self.brand!r}, last4={self.last4!r}, exp={self.exp_month:02d}/"
            f"{self.exp_year})"
        )


_INCORRECT_NUMBER = "Your card number is incorrect."


def check_card(
    raw: Mapping[str, Any],
    *,
    today: date,
    enabled: frozenset[str] | None,
    prefix: str = "card",
) -> Card:
    """Validate card data as Stripe would before charging; errors name ``card.<field>``."""
    number_param = f"{prefix}.number"
    number = raw.get("number")
    if not isinstance(number, str) or not number.strip():
        raise PolicyRefusal("parameter_missing", f"Missing required param: {number_param}.",
                            param=number_param)
    digits = re.sub(r"[ -]", "", number)
    if not digits.isascii() or not digits.isdigit() or not 12 <= len(digits) <= 19:
        raise CardInvalid("incorrect_number", _INCORRECT_NUMBER, param=number_param)
    brand, lengths = cards.brand_of(digits)
    # Stripe's CardNumber: valid only when the length fits the brand and Luhn passes.
    if len(digits) not in lengths or not cards.luhn_ok(digits):
        raise CardInvalid("incorrect_number", _INCORRECT_NUMBER, param=number_param)
    check_brand(brand, enabled, param=number_param)

    month = _int_field(raw.get("exp_month"), f"{prefix}.exp_month")
    if not 1 <= month <= 12:
        raise CardInvalid(
            "invalid_expiry_month",
            "Your card's expiration month is invalid.",
            param=f"{prefix}.exp_month",
        )
    year = _int_field(raw.get("exp_year"), f"{prefix}.exp_year")
    if 0 <= year < 100:
        year += 2000
    if year < today.year or year > today.year + 50:
        raise CardInvalid(
            "invalid_expiry_year",
            "Your card's expiration year is invalid.",
            param=f"{prefix}.exp_year",
        )
    if (year, month) < (today.year, today.month):
        raise CardInvalid("expired_card", "Your card has expired.", param=f"{prefix}.exp_month")

    cvc_param = f"{prefix}.cvc"
    cvc = raw.get("cvc")
    if cvc is not None and not isinstance(cvc, str):
        raise parameter_invalid(cvc_param, "cvc must be a string of digits.")
    if cvc is not None and cvc.strip() == "":
        cvc = None  # "Full card info except the CVV": repeat payments send none
    if cvc is not None:
        cvc = cvc.strip()
        want = 4 if brand == "amex" else 3
        if not (cvc.isascii() and cvc.isdigit() and len(cvc) == want):
            raise CardInvalid(
                "invalid_cvc", "Your card's security code is invalid.", param=cvc_param
            )

    holder = raw.get("holder")
    if holder is not None and not isinstance(holder, str):
        raise parameter_invalid(f"{prefix}.holder", "holder must be a string.")
    return Card(
        number=digits,
        exp_month=month,
        exp_year=year,
        cvc=cvc,
        holder=holder.strip() or None if holder else None,
        brand=brand,
    )


def _int_field(value: Any, param: str) -> int:
    if value is None:
        raise PolicyRefusal("parameter_missing", f"Missing required param: {param}.", param=param)
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise parameter_invalid(param, f"{param} must be an integer.")
    return value


# --- customers ---------------------------------------------------------------------------------

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def optional_email(
    customer: Mapping[str, Any] | None, *, param: str = "customer.email"
) -> str | None:
    """An email the billing system may send with a payment: absent is fine, malformed is not."""
    email = (customer or {}).get("email")
    if email is None or (isinstance(email, str) and not email.strip()):
        return None
    return require_email(customer, param=param)


def require_email(customer: Mapping[str, Any] | None, *, param: str = "customer.email") -> str:
    """The spec: "An email is necessary for the first transaction – for the token to be
    generated." (AMCI's rule, not Stripe's: Stripe never requires an email.)"""
    email = (customer or {}).get("email")
    if email is None or (isinstance(email, str) and not email.strip()):
        raise PolicyRefusal(
            "email_required",
            "The customer's email is required to save a card (a token can't be generated "
            "without it).",
            param=param,
        )
    if not isinstance(email, str) or not _EMAIL_RE.match(email.strip()) or len(email) > 512:
        # Stripe answers email_invalid for a malformed address (param email).
        raise PolicyRefusal("email_invalid", "Invalid email address.", param=param)
    return email.strip()
