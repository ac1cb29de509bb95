"""Stripe's limits, applied before any network call. Pure: no I/O, no aiohttp, no stripe.

Every refusal is a ``PolicyRefusal`` (400) or ``CardInvalid`` (402 card_error) naming the field.
Inputs are already typed (``amci.contract`` parsed them); the rules here are about values.

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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from amci import cards, money
from amci.contract import CardIn, CustomerIn
from amci.errors import CardInvalid, InvalidRequest, PolicyRefusal, parameter_missing

# --- amounts -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Amount:
    minor: int
    currency: money.Currency


def currency_of(code: str, *, param: str = "currency") -> money.Currency:
    try:
        return money.currency(code)
    except money.MoneyError as exc:
        raise PolicyRefusal(exc.code, exc.message, param=param) from None


def amount_of(value: str, cur: money.Currency, *, param: str = "amount") -> Amount:
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


def enabled_brands(names: Sequence[str] | None) -> frozenset[str] | None:
    """The brands the payment system enables (already Stripe's names, see ``contract.Brand``),
    or None when the request doesn't say."""
    return None if names is None else frozenset(names)


def one_source(token: str | None, card: CardIn | None) -> None:
    """A payment is made with exactly one of a saved token or card data."""
    if (token is None) == (card is None):
        raise InvalidRequest(
            "parameter_invalid", "Pay with exactly one of token or card.", param="token"
        )


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
    raw: CardIn,
    *,
    today: date,
    enabled: frozenset[str] | None,
    prefix: str = "card",
) -> Card:
    """Validate card data as Stripe would before charging; errors name ``card.<field>``."""
    number_param = f"{prefix}.number"
    if not raw.number.strip():
        raise parameter_missing(number_param)
    digits = re.sub(r"[ -]", "", raw.number)
    if not digits.isascii() or not digits.isdigit() or not 12 <= len(digits) <= 19:
        raise CardInvalid("incorrect_number", _INCORRECT_NUMBER, param=number_param)
    brand, lengths = cards.brand_of(digits)
    # Stripe's CardNumber: valid only when the length fits the brand and Luhn passes.
    if len(digits) not in lengths or not cards.luhn_ok(digits):
        raise CardInvalid("incorrect_number", _INCORRECT_NUMBER, param=number_param)
    check_brand(brand, enabled, param=number_param)

    month = raw.exp_month
    if not 1 <= month <= 12:
        raise CardInvalid(
            "invalid_expiry_month",
            "Your card's expiration month is invalid.",
            param=f"{prefix}.exp_month",
        )
    year = raw.exp_year
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

    cvc = raw.cvc.strip() if raw.cvc is not None else None
    if cvc:  # "Full card info except the CVV": repeat payments send none (or "")
        want = 4 if brand == "amex" else 3
        if not (cvc.isascii() and cvc.isdigit() and len(cvc) == want):
            raise CardInvalid(
                "invalid_cvc", "Your card's security code is invalid.", param=f"{prefix}.cvc"
            )
    holder = raw.holder.strip() if raw.holder else None
    return Card(
        number=digits,
        exp_month=month,
        exp_year=year,
        cvc=cvc or None,
        holder=holder or None,
        brand=brand,
    )


# --- customers ---------------------------------------------------------------------------------

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def optional_email(customer: CustomerIn | None, *, param: str = "customer.email") -> str | None:
    """An email the billing system may send with a payment: absent is fine, malformed is not."""
    email = customer.email if customer is not None else None
    if email is None or not email.strip():
        return None
    return require_email(customer, param=param)


def require_email(customer: CustomerIn | None, *, param: str = "customer.email") -> str:
    """The spec: "An email is necessary for the first transaction – for the token to be
    generated." (AMCI's rule, not Stripe's: Stripe never requires an email.)"""
    email = customer.email if customer is not None else None
    if email is None or not email.strip():
        raise PolicyRefusal(
            "email_required",
            "The customer's email is required to save a card (a token can't be generated "
            "without it).",
            param=param,
        )
    if not _EMAIL_RE.match(email.strip()):
        # Stripe answers email_invalid for a malformed address (param email).
        raise PolicyRefusal("email_invalid", "Invalid email address.", param=param)
    return email.strip()


# --- who is paying -----------------------------------------------------------------------------


def check_off_session(off_session: bool, token: str | None, return_url: str | None) -> None:
    """``off_session`` marks a merchant-initiated charge of a saved card: the customer is not
    there to authenticate (docs.stripe.com/payments/save-and-reuse), so card data can't be
    sent with it and there is no browser to return to."""
    if not off_session:
        return
    if token is None:
        raise InvalidRequest(
            "parameter_invalid", "off_session is only for charges of a saved token.",
            param="off_session",
        )
    if return_url is not None:
        raise InvalidRequest(
            "parameter_invalid",
            "return_url is for a customer who is present; for an off_session charge that needs "
            "authentication, get a link from POST /v1/stripe/payments/{id}/authenticate.",
            param="return_url",
        )


def check_save_card(
    save_card: bool, card: CardIn | None, customer: CustomerIn | None
) -> str | None:
    """``save_card`` saves the card data of this payment (Stripe's ``setup_future_usage``, which
    needs a customer); as with ``POST /v1/stripe/cards`` the customer's email is required.
    Returns that email."""
    if not save_card:
        return None
    if card is None:
        raise InvalidRequest(
            "parameter_invalid", "save_card needs card data: a token is already saved.",
            param="save_card",
        )
    return require_email(customer)
