"""The contract's field types: each a type plus a validator raising our own error codes (the
``PydanticCustomError`` type is the code we answer) and the JSON schema the document shows."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from billing_client import money
from billing_client.cards import METHODS
from billing_client.crypto import ApiKey

# Codes a field validator may raise (the PydanticCustomError type is the error code we answer).
OWN_CODES = frozenset(
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


def refuse(code: str, message: str, param: str | None = None) -> PydanticCustomError:
    """A field refusal; ``{param}`` in the message becomes the field's dotted name."""
    return PydanticCustomError(code, message, {"param": param} if param else None)


def missing() -> PydanticCustomError:
    return refuse("parameter_missing", "Missing required param: {param}.")


# -- field types ----------------------------------------------------------------------------------


def _text(max_len: int, *, min_len: int = 1) -> PlainValidator:
    """Required text, stripped; null or blank is missing."""

    def check(value: object) -> str:
        if value is None:
            raise missing()
        if not isinstance(value, str):
            raise refuse("parameter_invalid", "{param} must be a string.")
        text = value.strip()
        if not text:
            raise missing()
        if len(text) > max_len:
            raise refuse("parameter_invalid", f"{{param}} must be at most {max_len} characters.")
        if len(text) < min_len:
            raise refuse(
                "parameter_invalid", f"{{param}} must be longer than {min_len - 1} characters."
            )
        return text

    return PlainValidator(check, json_schema_input_type=str)


def text_schema(max_len: int, *, min_len: int = 1) -> WithJsonSchema:
    """Text as the document shows it: not blank (leading/trailing spaces are trimmed)."""
    schema = {"type": "string", "minLength": min_len, "maxLength": max_len, "pattern": r"\S"}
    return WithJsonSchema(schema)


Name = Annotated[str, _text(200), text_schema(200)]
ShortName = Annotated[str, _text(100), text_schema(100)]
Identifier = Annotated[str, _text(64), text_schema(64)]
Description = Annotated[str, _text(500), text_schema(500)]
# The spec: the login is "longer than 4 characters".
LoginText = Annotated[str, _text(200, min_len=5), text_schema(200, min_len=5)]


def _processor(value: object) -> str:
    if value is None:
        raise missing()
    if not isinstance(value, str):
        raise refuse("parameter_invalid", "{param} must be a string.")
    if value.strip().lower() != "stripe":
        raise refuse(
            "parameter_invalid", "processor must be Stripe (the only processor AMCI offers)."
        )
    return "stripe"


PROCESSOR_SCHEMA = WithJsonSchema(
    {"type": "string", "enum": ["Stripe"], "description": "case-insensitive"}
)
Processor = Annotated[str, PlainValidator(_processor, json_schema_input_type=str), PROCESSOR_SCHEMA]


def _api_key(value: object) -> str:
    if value is None or value == "":
        raise missing()
    if not isinstance(value, str):
        raise refuse("parameter_invalid", "password must be a string (the Stripe API key).")
    key = ApiKey(value.strip())
    if key.publishable:
        raise refuse(
            "parameter_invalid",
            "password must be a Stripe secret key (sk_…); a publishable key (pk_…) cannot make "
            "payments.",
        )
    if key.mode is None or not 16 <= len(key.reveal()) <= 255:
        raise refuse(
            "parameter_invalid", "password must be a Stripe secret key (sk_test_… or sk_live_…)."
        )
    return key.reveal()


STRIPE_KEY_SCHEMA = WithJsonSchema(
    {
        "type": "string",
        "minLength": 16,
        "maxLength": 255,
        "pattern": "^(sk|rk)_(test|live)_",
        "description": "the Stripe secret key; encrypted at rest, never returned",
    }
)
StripeKey = Annotated[str, PlainValidator(_api_key, json_schema_input_type=str), STRIPE_KEY_SCHEMA]


def _method(value: object) -> str:
    canonical = _METHOD_ALIASES.get(value.strip().lower()) if isinstance(value, str) else None
    if canonical is None:
        raise refuse(
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
            raise missing()
        if not isinstance(value, str):
            raise refuse("amount_invalid", 'Amount must be a decimal string such as "10.00".')
        text = value.strip()
        # The length is checked first: nothing long is ever matched or converted.
        if len(text) > AMOUNT_MAX_LENGTH or not _AMOUNT_RE.match(text):
            raise refuse("amount_invalid", 'Amount must be a decimal string such as "10.00".')
        if positive and not any(ch in "123456789" for ch in text):
            raise refuse("parameter_invalid", "{param} must be greater than zero.")
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
        raise missing()
    try:
        return money.currency_code(value)
    except money.MoneyError as exc:
        raise refuse(exc.code, exc.message) from None


CurrencyCode = Annotated[
    str,
    PlainValidator(_currency, json_schema_input_type=str),
    WithJsonSchema({"type": "string", "pattern": "^[A-Za-z]{3}$", "description": "ISO 4217"}),
]


def _email(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise refuse("parameter_invalid", "{param} must be a string.")
    email = value.strip()
    if email == "":
        return None
    if len(email) > 254 or not _EMAIL_RE.match(email):
        raise refuse(
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
        raise missing()
    if not isinstance(value, str) or len(value) > 32:
        raise refuse("parameter_invalid", "The card number must be a string of digits.")
    digits = value.replace(" ", "").replace("-", "")
    if not digits or not digits.isascii() or not digits.isdigit():
        raise refuse("parameter_invalid", "The card number must be a string of digits.")
    return digits


CardNumberText = Annotated[
    str,
    PlainValidator(_card_number, json_schema_input_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "maxLength": 32,
            "pattern": "^[0-9 -]*[0-9][0-9 -]*$",
            "description": "digits; spaces and dashes allowed",
        }
    ),
]


def _expiry(value: object) -> int:
    if value is None:
        raise missing()
    if isinstance(value, bool):
        raise refuse("parameter_invalid", "{param} must be an integer.")
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip()) if len(value.strip()) <= 4 else -1
    if not isinstance(value, int) or not 0 <= value <= 9999:
        raise refuse("parameter_invalid", "{param} must be an integer.")
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
        raise refuse("parameter_invalid", "The CVC must be a string of digits.")
    return value.strip() or None


CvcText = Annotated[
    str | None,
    PlainValidator(_cvc, json_schema_input_type=str | None),
    WithJsonSchema({"type": ["string", "null"], "maxLength": 8, "description": "never stored"}),
]
