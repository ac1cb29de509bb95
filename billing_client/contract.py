"""The billing client's contract, written once: typed request and response bodies (pydantic v2).

Validation comes from these models (``parse``), and so does the served ``/openapi.json``
(``openapi.py``). A refusal is a 400 in the billing client's envelope (``errors``) with ``param``
naming the field, dotted for nested fields (``card.number``, ``enabled_methods.1``):

- ``parameter_missing``: a required field is absent or null (or blank text);
- ``parameter_invalid``: a wrong type, length or value, or an unknown field (refused, never
  ignored — as Stripe refuses unknown parameters, docs.stripe.com/api/errors);
- ``amount_invalid``: an amount that is not a decimal string of ASCII digits (``"10.00"``);
- ``invalid_currency``: not a supported three-letter ISO code.

Rules that need stored state (the currency's decimals for an amount, a payment system's key
versus ``test_mode`` on an update, the minimum payment) are the use cases' (``usecases/``).

Input bodies are already plain JSON values here (``api/wire.py`` bounds size and depth, and
refuses lone surrogates, before anything is converted). Secrets (login, key, card number, CVC)
are kept out of every model's ``repr`` and of pydantic's error strings.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, ValidationError, WithJsonSchema
from pydantic import model_validator as _model_validator
from pydantic_core import PydanticCustomError

from billing_client import money
from billing_client.cards import METHODS, Card
from billing_client.crypto import ApiKey, CardNumber, Cvc
from billing_client.errors import InvalidRequest

M = TypeVar("M", bound=BaseModel)

# Codes a field validator may raise (the PydanticCustomError type is the error code we answer).
_OWN_CODES = frozenset(
    {"parameter_missing", "parameter_invalid", "amount_invalid", "invalid_currency"}
)
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# ASCII digits only: "١٠.٠٠" (Arabic-Indic digits) is not an amount. Fifteen digits either side
# is far beyond any currency's maximum (Stripe's is 8 digits of minor units) and far below
# Python's int-conversion limit.
AMOUNT_PATTERN = r"^[0-9]{1,15}(\.[0-9]{1,15})?$"
_AMOUNT_RE = re.compile(AMOUNT_PATTERN)
AMOUNT_MAX_LENGTH = 31
_METHOD_ALIASES: dict[str, str] = {
    **{name.lower(): name for name in METHODS},
    **{brand: name for name, brand in METHODS.items()},
    "master card": "MasterCard",
    "amex": "American Express",
}


def _refuse(code: str, message: str, param: str | None = None) -> PydanticCustomError:
    """A field refusal; ``{param}`` in the message becomes the field's dotted name."""
    return PydanticCustomError(code, message, {"param": param} if param else None)


def _missing() -> PydanticCustomError:
    return _refuse("parameter_missing", "Missing required param: {param}.")


# -- field types ----------------------------------------------------------------------------------


def _text(max_len: int, *, min_len: int = 1) -> PlainValidator:
    """Required text, stripped; null or blank is missing."""

    def check(value: object) -> str:
        if value is None:
            raise _missing()
        if not isinstance(value, str):
            raise _refuse("parameter_invalid", "{param} must be a string.")
        text = value.strip()
        if not text:
            raise _missing()
        if len(text) > max_len:
            raise _refuse("parameter_invalid", f"{{param}} must be at most {max_len} characters.")
        if len(text) < min_len:
            raise _refuse(
                "parameter_invalid", f"{{param}} must be longer than {min_len - 1} characters."
            )
        return text

    return PlainValidator(check, json_schema_input_type=str)


def _text_schema(max_len: int, *, min_len: int = 1) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "minLength": min_len, "maxLength": max_len})


Name = Annotated[str, _text(200), _text_schema(200)]
ShortName = Annotated[str, _text(100), _text_schema(100)]
Identifier = Annotated[str, _text(64), _text_schema(64)]
Description = Annotated[str, _text(500), _text_schema(500)]
# The spec: the login is "longer than 4 characters".
LoginText = Annotated[str, _text(200, min_len=5), _text_schema(200, min_len=5)]


def _processor(value: object) -> str:
    if value is None:
        raise _missing()
    if not isinstance(value, str):
        raise _refuse("parameter_invalid", "{param} must be a string.")
    if value.strip().lower() != "stripe":
        raise _refuse(
            "parameter_invalid", "processor must be Stripe (the only processor AMCI offers)."
        )
    return "stripe"


Processor = Annotated[
    str,
    PlainValidator(_processor, json_schema_input_type=str),
    WithJsonSchema({"type": "string", "enum": ["Stripe"], "description": "case-insensitive"}),
]


def _api_key(value: object) -> str:
    if value is None or value == "":
        raise _missing()
    if not isinstance(value, str):
        raise _refuse("parameter_invalid", "password must be a string (the Stripe API key).")
    key = ApiKey(value.strip())
    if key.publishable:
        raise _refuse(
            "parameter_invalid",
            "password must be a Stripe secret key (sk_…); a publishable key (pk_…) cannot make "
            "payments.",
        )
    if key.mode is None or not 16 <= len(key.reveal()) <= 255:
        raise _refuse(
            "parameter_invalid", "password must be a Stripe secret key (sk_test_… or sk_live_…)."
        )
    return key.reveal()


StripeKey = Annotated[
    str,
    PlainValidator(_api_key, json_schema_input_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 16,
            "maxLength": 255,
            "pattern": "^(sk|rk)_(test|live)_",
            "description": "the Stripe secret key; encrypted at rest, never returned",
        }
    ),
]


def _method(value: object) -> str:
    canonical = _METHOD_ALIASES.get(value.strip().lower()) if isinstance(value, str) else None
    if canonical is None:
        raise _refuse(
            "parameter_invalid", f"Unknown payment method: choose from {', '.join(METHODS)}."
        )
    return canonical


Method = Annotated[
    str,
    PlainValidator(_method, json_schema_input_type=str),
    WithJsonSchema(
        {"type": "string", "enum": list(METHODS), "description": "aliases such as amex accepted"}
    ),
]


def _amount(*, positive: bool) -> PlainValidator:
    def check(value: object) -> str:
        if value is None:
            raise _missing()
        if not isinstance(value, str):
            raise _refuse("amount_invalid", 'Amount must be a decimal string such as "10.00".')
        text = value.strip()
        # The length is checked first: nothing long is ever matched or converted.
        if len(text) > AMOUNT_MAX_LENGTH or not _AMOUNT_RE.match(text):
            raise _refuse("amount_invalid", 'Amount must be a decimal string such as "10.00".')
        if positive and not any(ch in "123456789" for ch in text):
            raise _refuse("parameter_invalid", "{param} must be greater than zero.")
        return text

    return PlainValidator(check, json_schema_input_type=str)


_AMOUNT_SCHEMA = WithJsonSchema(
    {
        "type": "string",
        "pattern": AMOUNT_PATTERN,
        "maxLength": AMOUNT_MAX_LENGTH,
        "description": 'a decimal string in major units ("10.00"); ASCII digits only',
    }
)
Amount = Annotated[str, _amount(positive=True), _AMOUNT_SCHEMA]
Minimum = Annotated[str, _amount(positive=False), _AMOUNT_SCHEMA]


def _currency(value: object) -> str:
    if value is None:
        raise _missing()
    try:
        return money.currency_code(value)
    except money.MoneyError as exc:
        raise _refuse(exc.code, exc.message) from None


CurrencyCode = Annotated[
    str,
    PlainValidator(_currency, json_schema_input_type=str),
    WithJsonSchema({"type": "string", "pattern": "^[A-Za-z]{3}$", "description": "ISO 4217"}),
]


def _email(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _refuse("parameter_invalid", "{param} must be a string.")
    email = value.strip()
    if email == "":
        return None
    if len(email) > 254 or not _EMAIL_RE.match(email):
        raise _refuse(
            "parameter_invalid", "email must be a valid email address such as john@example.com."
        )
    return email


Email = Annotated[
    str | None,
    PlainValidator(_email, json_schema_input_type=str | None),
    WithJsonSchema(
        {"type": ["string", "null"], "maxLength": 254, "description": "empty or null clears it"}
    ),
]


def _card_number(value: object) -> str:
    if value is None:
        raise _missing()
    if not isinstance(value, str) or len(value) > 32:
        raise _refuse("parameter_invalid", "The card number must be a string of digits.")
    digits = value.replace(" ", "").replace("-", "")
    if not digits or not digits.isascii() or not digits.isdigit():
        raise _refuse("parameter_invalid", "The card number must be a string of digits.")
    return digits


def _expiry(value: object) -> int:
    if value is None:
        raise _missing()
    if isinstance(value, bool):
        raise _refuse("parameter_invalid", "{param} must be an integer.")
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip()) if len(value.strip()) <= 4 else -1
    if not isinstance(value, int) or not 0 <= value <= 9999:
        raise _refuse("parameter_invalid", "{param} must be an integer.")
    return value


Expiry = Annotated[
    int,
    PlainValidator(_expiry, json_schema_input_type=int),
    WithJsonSchema({"type": "integer", "minimum": 0, "maximum": 9999}),
]


def _cvc(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 8:
        raise _refuse("parameter_invalid", "The CVC must be a string of digits.")
    return value.strip() or None


# -- requests -------------------------------------------------------------------------------------


class Request(BaseModel):
    """Unknown fields refused; no silent coercion (``"true"`` is not a boolean)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, hide_input_in_errors=True)


class PaymentSystemCreate(Request):
    """The spec's *Configuring Stripe payment processor*."""

    name: ShortName
    processor: Processor
    login: LoginText = Field(repr=False, description="mandatory; encrypted at rest, never shown")
    password: StripeKey = Field(repr=False)
    test_mode: bool | None = Field(None, description="derived from the key when absent")
    enabled_methods: list[Method] | None = Field(None, max_length=16)
    data_protection: Literal["token_only", "full_card_except_cvv"] | None = None


def _no_null(*names: str) -> Any:
    """A model check: these fields may be absent (kept as stored) but not given as null."""

    def check(data: Any) -> Any:
        if isinstance(data, dict):
            for name in names:
                if name in data and data[name] is None:
                    raise _refuse("parameter_missing", "Missing required param: {param}.", name)
        return data

    return _model_validator(mode="before")(check)


class PaymentSystemUpdate(Request):
    """Any subset of the create fields (the spec's *Payment methods*, *Data protection* pages)."""

    refuse_nulls = _no_null("name", "processor", "login", "password")
    name: ShortName | None = None
    processor: Processor | None = None
    login: LoginText | None = Field(None, repr=False)
    password: StripeKey | None = Field(None, repr=False)
    test_mode: bool | None = None
    enabled_methods: list[Method] | None = Field(None, max_length=16)
    data_protection: Literal["token_only", "full_card_except_cvv"] | None = None


class CurrencyAssignment(Request):
    payment_system: Identifier
    minimum_payment: Minimum = "0"


class CustomerCreate(Request):
    name: Name
    currency: CurrencyCode
    email: Email = None


class CustomerUpdate(Request):
    refuse_nulls = _no_null("name")
    name: Name | None = None
    email: Email = None

    @_model_validator(mode="after")
    def _something_to_update(self) -> CustomerUpdate:
        if not self.model_fields_set:
            raise _refuse(
                "parameter_invalid", "Nothing to update: give name and/or email.", "email"
            )
        return self


class CardInput(Request):
    number: Annotated[
        str,
        PlainValidator(_card_number, json_schema_input_type=str),
        WithJsonSchema(
            {"type": "string", "maxLength": 32, "description": "digits; spaces allowed"}
        ),
    ] = Field(repr=False)
    exp_month: Expiry
    exp_year: Expiry = Field(description="four digits, or two (20xx)")
    cvc: Annotated[
        str | None,
        PlainValidator(_cvc, json_schema_input_type=str | None),
        WithJsonSchema({"type": ["string", "null"], "maxLength": 8, "description": "never stored"}),
    ] = Field(None, repr=False)
    holder: Annotated[str | None, Field(max_length=200)] = None

    def to_card(self) -> Card:
        year = self.exp_year + 2000 if self.exp_year < 100 else self.exp_year
        return Card(
            number=CardNumber(self.number),
            exp_month=self.exp_month,
            exp_year=year,
            cvc=Cvc(self.cvc) if self.cvc else None,
            holder=self.holder.strip() if self.holder and self.holder.strip() else None,
        )


class CardSave(Request):
    card: CardInput


class PaymentCreate(Request):
    amount: Amount
    type: Literal["sale", "authorization"] = "sale"
    card_id: Annotated[str, Field(max_length=64)] | None = None
    card: CardInput | None = None
    description: Description | None = None

    @_model_validator(mode="after")
    def _one_card(self) -> PaymentCreate:
        if (self.card_id is None) == (self.card is None):
            raise _refuse(
                "parameter_invalid",
                "Give exactly one of card_id (a saved card) or card (a one-off card).",
                "card_id",
            )
        return self


class Capture(Request):
    amount: Amount | None = Field(None, description="default: the whole authorization")


class RefundCreate(Request):
    amount: Amount | None = Field(None, description="default: everything left to refund")
    reason: Literal["requested_by_customer", "duplicate", "fraudulent"] | None = None


class Void(Request):
    pass


class Retry(Request):
    card: CardInput | None = Field(None, description="only for a pending one-off-card payment")


# -- responses ------------------------------------------------------------------------------------


class Response(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PaymentSystem(Response):
    object: Literal["payment_system"]
    id: str
    name: str
    processor: Literal["Stripe"]
    login: str = Field(description="always masked")
    password: str = Field(description="the key, masked as Stripe's dashboard does: sk_test_…wxyz")
    test_mode: bool
    enabled_methods: list[str]
    data_protection: Literal["token_only", "full_card_except_cvv"]
    created: int
    updated: int


class Deleted(Response):
    object: Literal["payment_system", "card"]
    id: str
    deleted: Literal[True]


class Currency(Response):
    object: Literal["currency"]
    code: str
    payment_system: str
    minimum_payment: str
    minimum_payment_display: str = Field(description='as the spec quotes it: "0.5 USD"')
    updated: int


class Customer(Response):
    object: Literal["customer"]
    id: str
    name: str
    email: str | None
    currency: str
    created: int
    updated: int


class SavedCard(Response):
    object: Literal["card"]
    id: str
    customer: str
    payment_system: str
    brand: str
    brand_name: str
    last4: str
    exp_month: int | None
    exp_year: int | None
    storage: Literal["token", "encrypted"]
    created: int


class TransactionCard(Response):
    id: str | None
    source: Literal["saved", "one_off"]
    brand: str | None
    last4: str | None


class AmciReferences(Response):
    payment: str | None
    charge: str | None
    refund: str | None
    status: str | None


class TransactionError(Response):
    type: str | None = None
    code: str | None = None
    param: str | None = None
    decline_code: str | None = None


class Related(Response):
    id: str
    operation: Literal["capture", "refund", "void"]
    status: str
    amount: str | None


Operation = Literal["sale", "authorization", "capture", "refund", "void"]
TransactionStatus = Literal[
    "pending",
    "succeeded",
    "authorized",
    "captured",
    "partially_refunded",
    "refunded",
    "failed",
    "refused",
    "canceled",
    "processing",
]


class Transaction(Response):
    object: Literal["transaction"]
    id: str
    customer: str
    payment_system: str | None
    operation: Operation
    status: TransactionStatus
    parent: str | None
    amount: str | None
    amount_minor: int | None
    currency: str
    description: str | None
    card: TransactionCard | None
    amci: AmciReferences
    idempotency_key: str
    attempts: int
    message: str | None = Field(
        description="end-user message on failure or pending, as AMCI worded it"
    )
    error: TransactionError | None
    created: int
    updated: int
    amount_captured: str | None = Field(None, description="sales and authorizations only")
    amount_refunded: str | None = Field(None, description="sales and authorizations only")
    related: list[Related] | None = Field(None, description="GET /api/transactions/{id} only")


class PaymentSystemList(Response):
    object: Literal["list"]
    data: list[PaymentSystem]


class CurrencyList(Response):
    object: Literal["list"]
    data: list[Currency]


class CustomerList(Response):
    object: Literal["list"]
    data: list[Customer]


class CardList(Response):
    object: Literal["list"]
    data: list[SavedCard]


class TransactionList(Response):
    object: Literal["list"]
    data: list[Transaction]


class ErrorDetail(Response):
    type: Literal["invalid_request_error", "card_error", "idempotency_error", "api_error"]
    code: str | None = None
    param: str | None = None
    message: str = Field(description="safe to show to the end user")
    decline_code: str | None = None
    transaction: Transaction | None = Field(None, description="the recorded transaction, if any")


class ErrorEnvelope(Response):
    """Stripe's error envelope (docs.stripe.com/api/errors)."""

    error: ErrorDetail


class Health(Response):
    status: Literal["ok", "degraded"]
    service: Literal["billing-client"]


# -- parsing --------------------------------------------------------------------------------------


def parse(model: type[M], body: Any) -> M:
    """``body`` (a decoded JSON value) → ``model``, or ``InvalidRequest`` naming the field."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise _refusal(exc) from None


def _refusal(exc: ValidationError) -> InvalidRequest:
    errors = exc.errors(include_url=False, include_input=False)
    # Unknown fields first (as Stripe names them), then the others in field order.
    errors.sort(key=lambda e: e["type"] != "extra_forbidden")
    error = errors[0]
    loc = [str(part) for part in error["loc"]]
    ctx = error.get("ctx") or {}
    param = ctx.get("param") or ".".join(loc) or None
    kind = error["type"]
    if not loc and kind in ("model_type", "model_attributes_type", "dict_type"):
        return InvalidRequest("The request body must be a JSON object.", code="parameter_invalid")
    code = kind if kind in _OWN_CODES else "parameter_missing" if kind == "missing" else None
    message = _MESSAGES.get(kind, error["msg"] if code else "{param} is invalid.")
    if kind == "missing":
        message = "Missing required param: {param}."
    elif kind == "literal_error":
        message = f"{{param}} must be {ctx.get('expected', 'one of the documented values')}."
    elif kind == "too_long":
        message = f"{{param}} must have at most {ctx.get('max_length')} items."
    elif kind == "string_too_long":
        message = f"{{param}} must be at most {ctx.get('max_length')} characters."
    message = message.replace("{param}", param or "The request body")
    return InvalidRequest(message, code=code or "parameter_invalid", param=param)


_MESSAGES: dict[str, str] = {
    "extra_forbidden": "Received unknown parameter: {param}.",
    "string_type": "{param} must be a string.",
    "bool_type": "{param} must be true or false.",
    "int_type": "{param} must be an integer.",
    "list_type": "{param} must be a list.",
    "model_type": "{param} must be an object.",
    "model_attributes_type": "{param} must be an object.",
    "dict_type": "{param} must be an object.",
}
