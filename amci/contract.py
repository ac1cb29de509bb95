"""AMCI's HTTP contract, written once: typed request and response models (pydantic v2) from which
both the request validation and the served OpenAPI 3.1 document (``amci.openapi``) come.

The human form is docs/amci-api.md. Pure: no aiohttp, no stripe, no I/O.

``parse(Model, raw)`` is the one way a handler reads a body. Before any JSON parsing it bounds the
body's size and nesting depth (Python's ``json`` recurses once per level: 60,000 ``[`` would
exhaust the stack) and refuses integers longer than any field takes; after parsing it refuses
strings that are not valid Unicode (lone surrogates from ``\\ud800`` escapes, which the Stripe SDK
cannot encode); then the model checks fields, types, lengths and enums, and refuses unknown
fields as Stripe does since 2011 ("raises exceptions on unrecognized parameters ... instead of
silently allowing and ignoring them", docs.stripe.com/changelog/2011-06-21/exceptions-unrecognized-
api-parameters; code ``parameter_unknown``, docs.stripe.com/error-codes).
Every refusal is an ``InvalidRequest`` (400) naming the field, dotted: ``card.number``,
``metadata.k``, ``enabled_brands[1]``. Stripe's own rules on the values (currencies, amounts,
card data, brands) are ``amci.policy``'s.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    ValidationError,
)
from pydantic_core import ErrorDetails

from amci.errors import InvalidRequest, parameter_missing
from amci.outcomes import (
    AUTHENTICATION_FAILED,
    CARD_MESSAGES,
    EXPIRED_MESSAGE,
    PAYMENT_MESSAGES,
)

MAX_BODY = 64 * 1024
MAX_DEPTH = 32  # AMCI's bodies nest three levels deep; anything past 32 is not a request
MAX_INT_DIGITS = 12  # the longest integer field is a 4-digit year
ID_PATTERN = r"^[A-Za-z0-9_]{1,255}$"

# Stripe's metadata limits (docs.stripe.com/metadata): 50 keys, keys up to 40 characters, values
# up to 500. AMCI sets ``reference`` and ``customer_reference`` itself, which leaves 48.
RESERVED_METADATA = ("reference", "customer_reference")
MAX_METADATA_KEYS = 48

# The spec's four brands, by the names a billing system may use → Stripe's ``card.brand`` value.
BRAND_ALIASES: Mapping[str, str] = {
    "visa": "visa",
    "mastercard": "mastercard",
    "master card": "mastercard",
    "amex": "amex",
    "american express": "amex",
    "americanexpress": "amex",
    "discover": "discover",
}
_DOCUMENTED_BRAND_NAMES = [
    "visa", "mastercard", "amex", "discover", "VISA", "MasterCard", "American Express", "Discover",
]


class Strict(BaseModel):
    """Every model: unknown fields refused, no coercion between JSON types."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# --- field types ---------------------------------------------------------------------------------


def _brand(name: str) -> str:
    brand = BRAND_ALIASES.get(name.strip().lower())
    if brand is None:
        raise ValueError("Unknown card brand; use visa, mastercard, amex or discover.")
    return brand


def _metadata_key(key: str) -> str:
    if key in RESERVED_METADATA:
        raise ValueError(
            "'reference' and 'customer_reference' are set from the request's reference fields."
        )
    return key


Money = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]+(\.[0-9]+)?$", max_length=32),
    Field(
        description="Decimal string in major units of the currency (\"10.00\", \"500\" for JPY, "
        "\"1.230\" for KWD); ASCII digits only. Never a float.",
        examples=["10.00"],
    ),
]
Brand = Annotated[
    str,
    StringConstraints(max_length=32),
    AfterValidator(_brand),
    Field(json_schema_extra={"enum": _DOCUMENTED_BRAND_NAMES}),
]
EnabledBrands = Annotated[
    list[Brand],
    Field(
        min_length=1,
        max_length=16,
        description="Brands the payment system enables: visa, mastercard, amex, discover (any "
        "case; \"American Express\", \"MasterCard\" accepted). A card of another brand is "
        "refused with card_brand_not_enabled before any Stripe call.",
    ),
]
MetadataKey = Annotated[
    str, StringConstraints(min_length=1, max_length=40), AfterValidator(_metadata_key)
]
Metadata = Annotated[
    dict[MetadataKey, Annotated[str, StringConstraints(max_length=500)]],
    Field(
        max_length=MAX_METADATA_KEYS,
        description="Up to 48 string keys (≤ 40 characters) with string values (≤ 500 "
        "characters); 'reference' and 'customer_reference' are reserved.",
    ),
]
ObjectId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
# Where Stripe sends the customer back after authentication: an absolute URL (Stripe also takes
# app schemes such as myapp://, docs.stripe.com/api/payment_intents/confirm, return_url).
ReturnUrl = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9+.-]*://[!-~]+$", max_length=2048),
    Field(
        description="Absolute URL (printable ASCII, ≤ 2048 characters) the customer's browser "
        "returns to after 3D Secure; Stripe appends payment_intent (or setup_intent) and "
        "redirect_status to its query.",
        examples=["https://billing.example/return/payments/42"],
    ),
]


Text8 = Annotated[str, StringConstraints(max_length=8)]
Text16 = Annotated[str, StringConstraints(max_length=16)]
Text64 = Annotated[str, StringConstraints(max_length=64)]
Text256 = Annotated[str, StringConstraints(max_length=256)]
Text500 = Annotated[str, StringConstraints(max_length=500)]
Text512 = Annotated[str, StringConstraints(max_length=512)]
Text1000 = Annotated[str, StringConstraints(max_length=1000)]


# --- requests ------------------------------------------------------------------------------------


class CardIn(Strict):
    number: Annotated[Text64, Field(description="Card number: digits; spaces and dashes allowed.")]
    exp_month: Annotated[StrictInt, Field(description="1–12 (invalid_expiry_month otherwise).")]
    exp_year: Annotated[StrictInt, Field(description="4 digits, or 2.")]
    cvc: Annotated[Text8 | None, Field(
        description="Optional (\"full card info except CVV\"): 4 digits for Amex, 3 otherwise."
    )] = None
    holder: Annotated[Text256 | None, Field(description="The cardholder's name.")] = None


class CustomerIn(Strict):
    email: Annotated[Text512 | None, Field(
        description="Required when saving a card (email_required)."
    )] = None
    name: Text256 | None = None
    reference: Annotated[Text500 | None, Field(
        description="The billing system's customer id."
    )] = None


class SaveCardRequest(Strict):
    card: CardIn
    customer: Annotated[CustomerIn | None, Field(
        description="customer.email is required (email_required otherwise)."
    )] = None
    enabled_brands: EnabledBrands | None = None
    return_url: Annotated[ReturnUrl | None, Field(
        description="Where the customer returns after authenticating the card. Without it a "
        "card that needs authentication is refused (authentication_required) and not saved."
    )] = None


class PaymentRequest(Strict):
    """Pay with exactly one of token (a saved card) or card (full card data)."""

    amount: Money
    currency: Annotated[Text16, Field(description="ISO 4217 code, any case (\"USD\").")]
    capture: Annotated[StrictBool, Field(
        description="true: sale; false: authorization (capture within 7 days)."
    )] = True
    token: Annotated[ObjectId | None, Field(description="A saved card token (pm_…).")] = None
    card: CardIn | None = None
    customer: CustomerIn | None = None
    enabled_brands: EnabledBrands | None = None
    description: Text1000 | None = None
    reference: Annotated[Text500 | None, Field(
        description="The billing system's payment id."
    )] = None
    metadata: Metadata | None = None
    return_url: Annotated[ReturnUrl | None, Field(
        description="Where the customer returns after 3D Secure. With it, a payment that needs "
        "authentication answers status requires_action and next_action; without it, the "
        "refusal authentication_required with the payment id."
    )] = None
    off_session: Annotated[StrictBool, Field(
        description="true only for a merchant-initiated charge of a saved token (the customer "
        "is not present); false (the default): the customer is paying now."
    )] = False
    save_card: Annotated[StrictBool, Field(
        description="With card data and customer.email: save the card during this payment for "
        "later off-session charges (Stripe's setup_future_usage=off_session); the answer's "
        "token is the saved card."
    )] = False


class AuthenticateRequest(Strict):
    return_url: ReturnUrl


class CaptureRequest(Strict):
    amount: Annotated[Money | None, Field(description="Partial capture; omit for all.")] = None


RefundReason = Literal["duplicate", "fraudulent", "requested_by_customer"]


class RefundRequest(Strict):
    amount: Annotated[Money | None, Field(
        description="Omit to refund everything still refundable."
    )] = None
    reason: RefundReason | None = None


# --- responses -----------------------------------------------------------------------------------


def _messages(table: Mapping[str, str]) -> str:
    """A ``message`` field's description: the end-user message of each status."""
    return "The end-user message for this outcome, by status: " + "; ".join(
        f"{status}: \"{text}\"" for status, text in table.items()
    ) + "."


class NextAction(Strict):
    type: Literal["redirect"] = "redirect"
    url: Annotated[str, Field(description="Send the customer's browser here to authenticate.")]


class LastError(Strict):
    """Why the latest attempt failed (Stripe's last_payment_error / last_setup_error)."""

    code: str | None
    decline_code: str | None = None
    advice_code: str | None = None
    retryable: bool
    message: Annotated[str, Field(description="Safe to show to an end user as is.")]


CardStatus = Literal[
    # A SetupIntent's statuses (docs.stripe.com/api/setup_intents/object#setup_intent_object-status)
    "requires_payment_method", "requires_confirmation", "requires_action", "processing",
    "canceled", "succeeded",
]


class CardToken(Strict):
    object: Literal["card_token"] = "card_token"
    token: Annotated[str, Field(description="pm_…")]
    customer: Annotated[str | None, Field(description="cus_…")]
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    livemode: bool
    status: Annotated[CardStatus, Field(
        description="succeeded: saved. requires_action: send the customer to next_action.url, "
        "then GET the card. requires_payment_method: authentication failed; the card is not "
        "saved."
    )] = "succeeded"
    off_session_ready: Annotated[bool, Field(
        description="Set up for merchant-initiated (off_session) charges: a SetupIntent with "
        "usage off_session, or a save_card payment, succeeded with it."
    )] = False
    next_action: NextAction | None = None
    last_error: LastError | None = None
    message: Annotated[str, Field(description=_messages(CARD_MESSAGES))] = ""


class DeletedCardToken(Strict):
    object: Literal["card_token"] = "card_token"
    token: str
    deleted: Literal[True] = True


class PaymentCard(Strict):
    brand: str | None
    last4: str | None
    exp_month: int | None
    exp_year: int | None


PaymentStatus = Literal[
    # Every PaymentIntent status (docs.stripe.com/payments/paymentintents/lifecycle).
    "requires_payment_method", "requires_confirmation", "requires_action", "processing",
    "requires_capture", "canceled", "succeeded",
]


class Payment(Strict):
    object: Literal["payment"] = "payment"
    id: str
    status: PaymentStatus
    amount: Money
    amount_minor: int
    currency: str
    amount_capturable: Money
    amount_received: Money
    amount_refunded: Money
    capture: bool
    charge: str | None
    card: PaymentCard | None
    customer: str | None
    description: str | None
    reference: str | None
    customer_reference: Annotated[str | None, Field(
        description="customer.reference as sent with the payment."
    )]
    metadata: dict[str, str]
    livemode: bool
    created: int | None
    next_action: Annotated[NextAction | None, Field(
        description="With status requires_action and a return_url: where to send the customer."
    )] = None
    capture_before: Annotated[int | None, Field(
        description="An authorization (capture false): Unix time after which Stripe cancels it "
        "and releases the funds if it is not captured, usually 7 days after authorization."
    )] = None
    token: Annotated[str | None, Field(
        description="The saved card token: the request's token, or the card saved with "
        "save_card."
    )] = None
    last_error: LastError | None = None
    cancellation_reason: Annotated[str | None, Field(
        description="Stripe's reason for a canceled payment: automatic when an authorization "
        "expired at capture_before."
    )] = None
    message: Annotated[str, Field(description=_messages(PAYMENT_MESSAGES) + (
        f" Authentication failed: \"{AUTHENTICATION_FAILED}\" Declined: Stripe's decline "
        f"message. Expired authorization: \"{EXPIRED_MESSAGE}\""
    ))] = ""


class Refund(Strict):
    object: Literal["refund"] = "refund"
    id: str
    payment: str
    amount: Money
    amount_minor: int
    currency: str
    status: str | None
    reason: str | None = None
    created: int | None
    failure_reason: Annotated[str | None, Field(
        description="Why a refund failed (status failed): Stripe's failure_reason."
    )] = None


class Dispute(Strict):
    object: Literal["dispute"] = "dispute"
    id: str
    payment: str | None
    charge: str | None
    amount: Money
    amount_minor: int
    currency: str
    status: Annotated[str, Field(description="Stripe's dispute status: warning_needs_response, "
                                 "warning_under_review, warning_closed, needs_response, "
                                 "under_review, won, lost.")]
    reason: str | None
    created: int | None


class NotificationCard(Strict):
    token: str
    customer: str | None
    brand: str | None
    last4: str | None
    exp_month: int | None
    exp_year: int | None
    detached: bool


class NotificationData(Strict):
    fresh: Annotated[bool, Field(description="true: fetched from Stripe when the notification "
                                 "was built; false: the event's copy (AMCI held no key for it).")]
    payment: Payment | None = None
    refunds: list[Refund] = []
    disputes: list[Dispute] = []
    card: NotificationCard | None = None


NotificationType = Literal[
    "payment.succeeded", "payment.authorized", "payment.failed", "payment.canceled",
    "authorization.expired", "capture.succeeded", "refund.succeeded", "refund.pending",
    "refund.failed", "dispute.opened", "dispute.updated", "dispute.closed", "card.detached",
]


class Notification(Strict):
    """What AMCI POSTs to the billing system's callback URL, signed with AMCI-Signature."""

    object: Literal["notification"] = "notification"
    id: str
    type: NotificationType
    created: int
    livemode: bool
    subscription: str
    sequence: Annotated[int, Field(description="Per payment (or card): 1, 2, 3… in the order "
                                   "AMCI received the events. Apply a notification only if its "
                                   "sequence is above the last one applied.")]
    payment: str | None
    card: str | None
    event: Annotated[str, Field(description="The Stripe event (evt_…) behind it.")]
    data: NotificationData


class NotificationRecord(Strict):
    object: Literal["notification_record"] = "notification_record"
    id: str
    type: NotificationType
    payment: str | None
    card: str | None
    sequence: int
    state: Literal["pending", "delivered", "failed"]
    attempts: int
    created: int
    delivered_at: int | None
    last_error: str | None


class NotificationList(Strict):
    object: Literal["list"] = "list"
    data: list[NotificationRecord]


class WebhookReceived(Strict):
    received: bool


class ErrorBody(Strict):
    type: Literal["invalid_request_error", "card_error", "idempotency_error", "api_error"]
    code: str | None = None
    decline_code: str | None = None
    advice_code: Annotated[str | None, Field(
        description="Stripe's advice on retrying an issuer decline (try_again_later, "
        "do_not_try_again, confirm_card_data)."
    )] = None
    retryable: Annotated[bool | None, Field(
        description="Whether the billing system may retry the same card without the customer "
        "(a soft decline); false: stop auto-payments until the customer acts."
    )] = None
    param: Annotated[str | None, Field(description="The field, dotted: card.number.")] = None
    message: Annotated[str, Field(description="Safe to show to an end user as is.")]
    payment: Annotated[str | None, Field(description="The payment id, when one exists.")] = None


class Error(Strict):
    """Stripe's error envelope (docs.stripe.com/api/errors); null fields are omitted."""

    error: ErrorBody


class Health(Strict):
    status: Literal["ok"]


class Ready(Strict):
    status: Literal["ok", "unavailable"]
    checks: dict[str, bool]


def dump(model: BaseModel) -> dict[str, Any]:
    """A response model as JSON-ready data (``Refund`` omits a null reason, as Stripe does)."""
    data = model.model_dump(mode="json")
    if isinstance(model, Refund) and data.get("reason") is None:
        data.pop("reason", None)
    return data


# --- parsing -------------------------------------------------------------------------------------

M = TypeVar("M", bound=BaseModel)

_STRING_RE = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET_RE = re.compile(rb"[\[\]{}]")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def parse(model: type[M], raw: bytes) -> M:
    """A request body → ``model``, or ``InvalidRequest`` naming the field. An empty body is
    ``{}``."""
    return validate(model, load_json(raw))


def load_json(raw: bytes) -> dict[str, Any]:
    if len(raw) > MAX_BODY:
        raise InvalidRequest("parameter_invalid", "Request body too large.")
    if not raw.strip():
        return {}
    if _depth(raw) > MAX_DEPTH:
        raise InvalidRequest(
            "parameter_invalid", f"The request body nests more than {MAX_DEPTH} levels deep."
        )
    try:
        body = json.loads(raw, parse_int=_bounded_int)
    except _IntegerTooLong:
        raise InvalidRequest(
            "parameter_invalid", f"Integers in the body take at most {MAX_INT_DIGITS} digits."
        ) from None
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest("parameter_invalid", "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise InvalidRequest("parameter_invalid", "The request body must be a JSON object.")
    where = _surrogate(body, "")
    if where is not None:
        raise InvalidRequest(
            "parameter_invalid",
            "Strings must be valid Unicode (a lone surrogate such as \\ud800 is not).",
            param=where or None,
        )
    return body


def validate(model: type[M], data: Mapping[str, Any]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        # A misspelled field also leaves the intended one missing: name the misspelling.
        first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        raise _refusal(first) from None


def _depth(raw: bytes) -> int:
    """The deepest bracket nesting outside strings (a cheap pre-scan: no recursion)."""
    depth = deepest = 0
    for match in _BRACKET_RE.finditer(_STRING_RE.sub(b'""', raw)):
        if match.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


class _IntegerTooLong(ValueError):
    pass


def _bounded_int(text: str) -> int:
    """Refused before ``int()``: Python's conversion of a 5,000-digit number raises anyway, and
    costs quadratic time on the way."""
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _IntegerTooLong
    return int(text)


def _surrogate(node: Any, where: str) -> str | None:
    """The dotted path of the first string (or key) holding a surrogate, else None."""
    if isinstance(node, str):
        return where if _SURROGATE_RE.search(node) else None
    if isinstance(node, dict):
        for key, value in node.items():
            if _SURROGATE_RE.search(key):
                return where
            found = _surrogate(value, f"{where}.{key}" if where else key)
            if found is not None:
                return found
    if isinstance(node, list):
        for i, value in enumerate(node):
            found = _surrogate(value, f"{where}[{i}]")
            if found is not None:
                return found
    return None


def _param(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if part == "[key]":
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out[:200]


def _refusal(err: ErrorDetails) -> InvalidRequest:
    param = _param(err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        # Stripe's wording: "Received unknown parameter: foo" (quoted in stripe-python's v4.0.1
        # release notes); AMCI names nested fields dotted (card.nubmer) where Stripe writes
        # card[nubmer].
        return InvalidRequest(
            "parameter_unknown", f"Received unknown parameter: {param}", param=param
        )
    if kind == "missing":
        return parameter_missing(param)
    message = err["msg"].removeprefix("Value error, ")
    if kind == "string_pattern_mismatch" and param.split(".")[-1] == "amount":
        message = "Amount must be a decimal string of ASCII digits such as \"10.00\"."
    elif kind == "string_pattern_mismatch":
        message = "The value has an invalid format."
    return InvalidRequest("parameter_invalid", f"Invalid {param}: {message}", param=param or None)
