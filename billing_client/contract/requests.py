"""Request bodies: unknown fields refused, no silent coercion."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic import model_validator as _model_validator
from pydantic.config import JsonDict

from billing_client.cards import Card
from billing_client.contract.fields import (
    PROCESSOR_SCHEMA,
    STRIPE_KEY_SCHEMA,
    Amount,
    CardNumberText,
    CurrencyCode,
    CvcText,
    Description,
    Email,
    Expiry,
    Identifier,
    LoginText,
    Method,
    Minimum,
    Name,
    Processor,
    ShortName,
    StripeKey,
    refuse,
    text_schema,
)
from billing_client.crypto import CardNumber, Cvc


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
                    raise refuse("parameter_missing", "Missing required param: {param}.", name)
        return data

    return _model_validator(mode="before")(check)


def _absent(schema: JsonDict) -> None:
    """No ``default: null`` in the document for a field that may be absent but never null."""
    schema.pop("default", None)


class PaymentSystemUpdate(Request):
    """Any subset of the create fields (the spec's *Payment methods*, *Data protection* pages)."""

    refuse_nulls = _no_null("name", "processor", "login", "password")
    # Absent: kept as stored; null: refused (so the document shows them as non-null strings).
    name: Annotated[ShortName | None, text_schema(100)] = Field(None, json_schema_extra=_absent)
    processor: Annotated[Processor | None, PROCESSOR_SCHEMA] = Field(
        None, json_schema_extra=_absent
    )
    login: Annotated[LoginText | None, text_schema(200, min_len=5)] = Field(
        None, repr=False, json_schema_extra=_absent
    )
    password: Annotated[StripeKey | None, STRIPE_KEY_SCHEMA] = Field(
        None, repr=False, json_schema_extra=_absent
    )
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
    name: Annotated[Name | None, text_schema(200)] = Field(None, json_schema_extra=_absent)
    email: Email = None

    @_model_validator(mode="after")
    def _something_to_update(self) -> CustomerUpdate:
        if not self.model_fields_set:
            raise refuse("parameter_invalid", "Nothing to update: give name and/or email.", "email")
        return self


class CardInput(Request):
    number: CardNumberText = Field(repr=False)
    exp_month: Expiry
    exp_year: Expiry = Field(description="four digits, or two (20xx)")
    cvc: CvcText = Field(None, repr=False)
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
    off_session: bool = Field(
        False,
        description="true: a merchant-initiated charge of a saved (token) card, the customer "
        "not present (auto-payment); false: the customer pays now (self-care) and comes back "
        "through the return page after 3D Secure",
    )
    save_card: bool = Field(
        False,
        description="with a one-off card on a token_only payment system: save the card during "
        "this payment for later off-session charges (the customer authenticates once)",
    )

    @_model_validator(mode="after")
    def _one_card(self) -> PaymentCreate:
        if (self.card_id is None) == (self.card is None):
            raise refuse(
                "parameter_invalid",
                "Give exactly one of card_id (a saved card) or card (a one-off card).",
                "card_id",
            )
        if self.off_session and self.card_id is None:
            raise refuse(
                "parameter_invalid",
                "off_session is for charging a saved card (card_id) without the customer.",
                "off_session",
            )
        if self.save_card and self.card is None:
            raise refuse(
                "parameter_invalid", "save_card saves a one-off card (card).", "save_card"
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


class AmciNotification(BaseModel):
    """What AMCI POSTs to ``/notifications/amci`` (AMCI's docs/amci-api.md, "Notifications").
    Unlike the API's requests, fields this version does not know are ignored: AMCI may add some,
    as Stripe adds fields to events, and a receiver must not refuse (and so lose) a notification
    for it. What is read here is checked."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(pattern=r"^ntf_[A-Za-z0-9]{1,64}$")
    type: str = Field(max_length=64)
    sequence: int = Field(ge=1)
    payment: str | None = Field(None, max_length=255)
    card: str | None = Field(None, max_length=255)
    data: dict[str, Any]
