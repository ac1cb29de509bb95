"""Response bodies, as the views of ``usecases`` build them (documentation, checked by the tests
against real answers: tests/billing_client/api/test_routes.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


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
    status: Literal["active", "requires_action", "failed", "removed"] = Field(
        description="requires_action: the customer must authenticate the card at action_url "
        "(3D Secure); failed: it was not saved; removed: detached at Stripe (AMCI notified it)"
    )
    action_url: str | None = Field(description="requires_action only: send the customer here")
    off_session_ready: bool = Field(
        description="token cards: set up for merchant-initiated (off_session) charges"
    )
    message: str | None = Field(description="end-user message while not active")


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
    retryable: bool | None = Field(
        None,
        description="AMCI's classification: true, a soft decline the billing system may retry "
        "on its own; false, stop auto-payments until the customer acts",
    )


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
    "expired",
    "requires_action",
    "processing",
    "unknown",
]


class Dispute(Response):
    id: str
    status: str = Field(description="Stripe's dispute status: warning_needs_response, "
                        "warning_under_review, warning_closed, needs_response, under_review, "
                        "won, lost")
    reason: str | None
    amount: str | None


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
    next_attempt_at: int | None = Field(
        None, description="pending only: when the reconciler sends it next (epoch seconds)"
    )
    message: str | None = Field(
        description="end-user message on failure or pending, as AMCI worded it"
    )
    error: TransactionError | None
    action_url: str | None = Field(
        None,
        description="requires_action only: the link where the customer authenticates (3D "
        "Secure); they come back to the billing client's return page",
    )
    off_session: bool = Field(False, description="sent as a merchant-initiated charge")
    capture_before: int | None = Field(
        None, description="authorizations: capture before this time (epoch seconds) or it expires"
    )
    created: int
    updated: int
    amount_captured: str | None = Field(None, description="sales and authorizations only")
    amount_refunded: str | None = Field(None, description="sales and authorizations only")
    related: list[Related] | None = Field(None, description="GET /api/transactions/{id} only")
    dispute: Dispute | None = Field(
        None, description="sales and authorizations: the customer's dispute, as AMCI notified "
        "it (opened, then closed: won, lost or warning_closed)")


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
    type: str = Field(
        description="invalid_request_error, card_error, idempotency_error or api_error; "
        "a refusal relayed from AMCI keeps the type AMCI (and Stripe) gave it",
        examples=["invalid_request_error"],
    )
    code: str | None = None
    param: str | None = None
    message: str = Field(description="safe to show to the end user")
    decline_code: str | None = None
    retryable: bool | None = None
    transaction: Transaction | None = Field(None, description="the recorded transaction, if any")


class ErrorEnvelope(Response):
    """Stripe's error envelope (docs.stripe.com/api/errors)."""

    error: ErrorDetail


class Health(Response):
    status: Literal["ok", "degraded"]
    service: Literal["billing-client"]


class NotificationReceived(Response):
    received: Literal[True]
