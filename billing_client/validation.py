"""Request bodies → typed inputs, pure. Every refusal is a 4xx naming the field (``param``).

Rules from the spec (Configuring Stripe payment processor):
- payment system: name; processor Stripe; login mandatory and longer than 4 characters; password
  is the Stripe API key (secret keys only — a publishable key cannot make payments); the test mode
  flag must agree with the key (``sk_test_`` ⇔ test mode on); payment methods are any of VISA,
  MasterCard, American Express, Discover; data protection is token only or full card except CVV.
- currency: a payment system and a minimum payment ("0.5 USD", "0.46 CHF").
- customer: name, currency, and an email that can be set later (needed before a card token).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from billing_client import money
from billing_client.cards import METHODS, Card
from billing_client.crypto import ApiKey, CardNumber, Cvc, Login
from billing_client.errors import InvalidRequest, invalid, missing

DataProtection = Literal["token_only", "full_card_except_cvv"]
DATA_PROTECTION: tuple[DataProtection, ...] = ("token_only", "full_card_except_cvv")
PaymentKind = Literal["sale", "authorization"]
REFUND_REASONS = ("requested_by_customer", "duplicate", "fraudulent")

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_METHOD_ALIASES: dict[str, str] = {
    **{name.lower(): name for name in METHODS},
    **{brand: name for name, brand in METHODS.items()},
    "master card": "MasterCard",
    "amex": "American Express",
}


@dataclass(frozen=True, slots=True)
class PaymentSystemInput:
    name: str
    processor: str
    login: Login
    api_key: ApiKey
    test_mode: bool
    enabled_methods: tuple[str, ...]
    data_protection: DataProtection


@dataclass(frozen=True, slots=True)
class CurrencyInput:
    payment_system_id: str
    minimum_minor: int


@dataclass(frozen=True, slots=True)
class CustomerInput:
    name: str
    email: str | None
    currency: str


@dataclass(frozen=True, slots=True)
class PaymentInput:
    kind: PaymentKind
    amount_minor: int
    card_id: str | None
    card: Card | None
    description: str | None


@dataclass(frozen=True, slots=True)
class AmountInput:
    """Capture or refund: ``None`` means everything (still capturable / refundable)."""

    amount_minor: int | None
    reason: str | None = None


def require_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="parameter_invalid")
    return body


def _string(body: dict[str, Any], key: str, *, param: str | None = None, max_len: int = 200) -> str:
    param = param or key
    value = body.get(key)
    if value is None:
        raise missing(param)
    if not isinstance(value, str):
        raise invalid(param, f"{param} must be a string.")
    value = value.strip()
    if not value:
        raise missing(param)
    if len(value) > max_len:
        raise invalid(param, f"{param} must be at most {max_len} characters.")
    return value


def _optional_string(body: dict[str, Any], key: str, *, max_len: int = 500) -> str | None:
    if body.get(key) is None:
        return None
    return _string(body, key, max_len=max_len)


def _bool(value: Any, param: str) -> bool:
    if not isinstance(value, bool):
        raise invalid(param, f"{param} must be true or false.")
    return value


def _int(value: Any, param: str) -> int:
    if isinstance(value, bool):
        raise invalid(param, f"{param} must be an integer.")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise invalid(param, f"{param} must be an integer.")


def _unknown(body: dict[str, Any], allowed: set[str]) -> None:
    extra = sorted(set(body) - allowed)
    if extra:
        raise invalid(extra[0], f"Received unknown parameter: {extra[0]}.")


# --- payment systems -------------------------------------------------------------------------

_PS_FIELDS = {
    "name",
    "processor",
    "login",
    "password",
    "test_mode",
    "enabled_methods",
    "data_protection",
}


def parse_payment_system(
    body: Any, current: PaymentSystemInput | None = None
) -> PaymentSystemInput:
    """A create (``current`` None) or a partial update merged over ``current``."""
    body = require_object(body)
    _unknown(body, _PS_FIELDS)

    def given(key: str) -> bool:
        return current is None or key in body

    name = _string(body, "name", max_len=100) if given("name") else current.name  # type: ignore[union-attr]

    if given("processor"):
        processor = _string(body, "processor", max_len=50)
        if processor.lower() != "stripe":
            raise invalid("processor", "processor must be Stripe (the only processor AMCI offers).")
        processor = "stripe"
    else:
        processor = current.processor  # type: ignore[union-attr]

    if given("login"):
        raw_login = body.get("login")
        if raw_login is None or (isinstance(raw_login, str) and not raw_login.strip()):
            raise missing("login")
        if not isinstance(raw_login, str):
            raise invalid("login", "login must be a string.")
        if len(raw_login.strip()) <= 4:
            raise invalid("login", "login must be longer than 4 characters.")
        login = Login(raw_login.strip())
    else:
        login = current.login  # type: ignore[union-attr]

    if given("password"):
        raw_key = body.get("password")
        if raw_key is None or raw_key == "":
            raise missing("password")
        if not isinstance(raw_key, str):
            raise invalid("password", "password must be a string (the Stripe API key).")
        api_key = ApiKey(raw_key.strip())
        if api_key.publishable:
            raise invalid(
                "password",
                "password must be a Stripe secret key (sk_…); a publishable key (pk_…) cannot "
                "make payments.",
            )
        if api_key.mode is None or len(raw_key.strip()) < 16:
            raise invalid(
                "password", "password must be a Stripe secret key (sk_test_… or sk_live_…)."
            )
    else:
        api_key = current.api_key  # type: ignore[union-attr]

    key_test = api_key.mode == "test"
    if "test_mode" in body:
        test_mode = _bool(body["test_mode"], "test_mode")
        if test_mode != key_test:
            raise invalid(
                "test_mode",
                f"test_mode is {'on' if test_mode else 'off'} but the API key "
                f"{api_key.masked()} is a {'test' if key_test else 'live'}-mode key.",
            )
    else:
        test_mode = key_test

    if given("enabled_methods"):
        methods = body.get("enabled_methods", [])
        if methods is None:
            methods = []
        if not isinstance(methods, list):
            raise invalid("enabled_methods", "enabled_methods must be a list.")
        picked: list[str] = []
        for i, item in enumerate(methods):
            canonical = _METHOD_ALIASES.get(item.strip().lower()) if isinstance(item, str) else None
            if canonical is None:
                raise invalid(
                    f"enabled_methods.{i}",
                    f"Unknown payment method {item!r}: choose from {', '.join(METHODS)}.",
                )
            if canonical not in picked:
                picked.append(canonical)
        enabled = tuple(name for name in METHODS if name in picked)
    else:
        enabled = current.enabled_methods if current is not None else ()

    if given("data_protection"):
        protection = body.get("data_protection", "token_only")
        if protection is None:
            protection = "token_only"
        if protection not in DATA_PROTECTION:
            raise invalid(
                "data_protection", "data_protection must be token_only or full_card_except_cvv."
            )
    else:
        protection = current.data_protection  # type: ignore[union-attr]

    return PaymentSystemInput(
        name=name,
        processor=processor,
        login=login,
        api_key=api_key,
        test_mode=test_mode,
        enabled_methods=enabled,
        data_protection=protection,
    )


# --- currencies and customers ------------------------------------------------------------------


def parse_currency(code: str, body: Any) -> tuple[str, CurrencyInput]:
    body = require_object(body)
    _unknown(body, {"payment_system", "minimum_payment"})
    try:
        upper = money.currency_code(code)
    except money.MoneyError as exc:
        raise InvalidRequest(exc.message, code=exc.code, param="currency") from exc
    ps_id = _string(body, "payment_system", max_len=64)
    raw_min = body.get("minimum_payment", "0")
    try:
        minimum = money.parse_amount(raw_min, upper)
    except money.MoneyError as exc:
        raise InvalidRequest(exc.message, code=exc.code, param="minimum_payment") from exc
    return upper, CurrencyInput(payment_system_id=ps_id, minimum_minor=minimum)


def parse_email(value: Any, param: str = "email") -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(param, f"{param} must be a string.")
    email: str = value.strip()
    if email == "":
        return None
    if len(email) > 254 or not _EMAIL_RE.match(email):
        raise invalid(param, "email must be a valid email address such as john@example.com.")
    return email


def parse_customer(body: Any) -> CustomerInput:
    body = require_object(body)
    _unknown(body, {"name", "email", "currency"})
    name = _string(body, "name", max_len=200)
    email = parse_email(body.get("email"))
    raw_currency = body.get("currency")
    if raw_currency is None:
        raise missing("currency")
    try:
        currency = money.currency_code(raw_currency)
    except money.MoneyError as exc:
        raise InvalidRequest(exc.message, code=exc.code, param="currency") from exc
    return CustomerInput(name=name, email=email, currency=currency)


def parse_customer_patch(body: Any) -> dict[str, str | None]:
    """Name and email (the spec's Personal → General info); ``None`` email clears it."""
    body = require_object(body)
    _unknown(body, {"name", "email"})
    changes: dict[str, str | None] = {}
    if "name" in body:
        changes["name"] = _string(body, "name", max_len=200)
    if "email" in body:
        changes["email"] = parse_email(body["email"])
    if not changes:
        raise invalid("email", "Nothing to update: give name and/or email.")
    return changes


# --- cards and payments ------------------------------------------------------------------------


def parse_card(value: Any, param: str = "card") -> Card:
    if not isinstance(value, dict):
        raise invalid(param, f"{param} must be an object with number, exp_month and exp_year.")
    _unknown_card = sorted(set(value) - {"number", "exp_month", "exp_year", "cvc", "holder"})
    if _unknown_card:
        raise invalid(
            f"{param}.{_unknown_card[0]}",
            f"Received unknown parameter: {param}.{_unknown_card[0]}.",
        )
    number = value.get("number")
    if number is None:
        raise missing(f"{param}.number")
    if not isinstance(number, str):
        raise invalid(f"{param}.number", "The card number must be a string of digits.")
    digits = number.replace(" ", "").replace("-", "")
    if not digits.isdigit():
        raise invalid(f"{param}.number", "The card number must be a string of digits.")
    for key in ("exp_month", "exp_year"):
        if value.get(key) is None:
            raise missing(f"{param}.{key}")
    exp_month = _int(value["exp_month"], f"{param}.exp_month")
    exp_year = _int(value["exp_year"], f"{param}.exp_year")
    if 0 <= exp_year < 100:
        exp_year += 2000
    cvc_raw = value.get("cvc")
    if cvc_raw is not None and not isinstance(cvc_raw, str):
        raise invalid(f"{param}.cvc", "The CVC must be a string of digits.")
    holder = value.get("holder")
    if holder is not None and not isinstance(holder, str):
        raise invalid(f"{param}.holder", "The card holder must be a string.")
    return Card(
        number=CardNumber(digits),
        exp_month=exp_month,
        exp_year=exp_year,
        cvc=Cvc(cvc_raw.strip()) if cvc_raw else None,
        holder=holder.strip() if holder else None,
    )


def parse_payment(body: Any, currency: str) -> PaymentInput:
    body = require_object(body)
    _unknown(body, {"amount", "type", "card_id", "card", "description"})
    raw_amount = body.get("amount")
    if raw_amount is None:
        raise missing("amount")
    try:
        amount = money.parse_amount(raw_amount, currency)
    except money.MoneyError as exc:
        raise InvalidRequest(exc.message, code=exc.code, param="amount") from exc
    if amount <= 0:
        raise invalid("amount", "amount must be greater than zero.")
    kind = body.get("type", "sale")
    if kind not in ("sale", "authorization"):
        raise invalid("type", "type must be sale or authorization.")
    card_id = body.get("card_id")
    card_raw = body.get("card")
    if (card_id is None) == (card_raw is None):
        raise invalid(
            "card_id", "Give exactly one of card_id (a saved card) or card (a one-off card)."
        )
    if card_id is not None and not isinstance(card_id, str):
        raise invalid("card_id", "card_id must be a string.")
    return PaymentInput(
        kind=kind,
        amount_minor=amount,
        card_id=card_id,
        card=parse_card(card_raw) if card_raw is not None else None,
        description=_optional_string(body, "description"),
    )


def parse_amount_body(body: Any, currency: str, *, refund: bool) -> AmountInput:
    body = require_object(body) if body is not None else {}
    _unknown(body, {"amount", "reason"} if refund else {"amount"})
    amount: int | None = None
    if body.get("amount") is not None:
        try:
            amount = money.parse_amount(body["amount"], currency)
        except money.MoneyError as exc:
            raise InvalidRequest(exc.message, code=exc.code, param="amount") from exc
        if amount <= 0:
            raise invalid("amount", "amount must be greater than zero.")
    reason = body.get("reason")
    if reason is not None and reason not in REFUND_REASONS:
        raise invalid("reason", f"reason must be one of {', '.join(REFUND_REASONS)}.")
    return AmountInput(amount_minor=amount, reason=reason)
