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

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from billing_client.contract.fields import AMOUNT_MAX_LENGTH, AMOUNT_PATTERN, OWN_CODES
from billing_client.contract.requests import (
    AmciNotification,
    Capture,
    CardInput,
    CardSave,
    CurrencyAssignment,
    CustomerCreate,
    CustomerUpdate,
    PaymentCreate,
    PaymentSystemCreate,
    PaymentSystemUpdate,
    RefundCreate,
    Request,
    Retry,
    Void,
)
from billing_client.contract.responses import (
    AmciReferences,
    CardList,
    Currency,
    CurrencyList,
    Customer,
    CustomerList,
    Deleted,
    Dispute,
    ErrorDetail,
    ErrorEnvelope,
    Health,
    NotificationReceived,
    Operation,
    PaymentSystem,
    PaymentSystemList,
    Related,
    Response,
    SavedCard,
    Transaction,
    TransactionCard,
    TransactionError,
    TransactionList,
    TransactionStatus,
)
from billing_client.errors import InvalidRequest

__all__ = [
    "AMOUNT_MAX_LENGTH",
    "AMOUNT_PATTERN",
    "AmciNotification",
    "AmciReferences",
    "Capture",
    "CardInput",
    "CardList",
    "CardSave",
    "Currency",
    "CurrencyAssignment",
    "CurrencyList",
    "Customer",
    "CustomerCreate",
    "CustomerList",
    "CustomerUpdate",
    "Deleted",
    "Dispute",
    "ErrorDetail",
    "ErrorEnvelope",
    "Health",
    "NotificationReceived",
    "Operation",
    "PaymentCreate",
    "PaymentSystem",
    "PaymentSystemCreate",
    "PaymentSystemList",
    "PaymentSystemUpdate",
    "RefundCreate",
    "Related",
    "Request",
    "Response",
    "Retry",
    "SavedCard",
    "Transaction",
    "TransactionCard",
    "TransactionError",
    "TransactionList",
    "TransactionStatus",
    "Void",
    "parse",
]

M = TypeVar("M", bound=BaseModel)


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
    if param is not None and len(param) > 100:  # an unknown field's name is the sender's text
        param = param[:100] + "…"
    kind = error["type"]
    if not loc and kind in ("model_type", "model_attributes_type", "dict_type"):
        return InvalidRequest("The request body must be a JSON object.", code="parameter_invalid")
    code = kind if kind in OWN_CODES else "parameter_missing" if kind == "missing" else None
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
