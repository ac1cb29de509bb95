"""What a Stripe PaymentIntent or SetupIntent means for a billing system: the redirect to send the
customer to, the authorization's deadline, why the last attempt failed, whether to retry, the
end-user message, and the metric outcome. Pure: data in, data out (no aiohttp, no stripe, no I/O).

Statuses: docs.stripe.com/payments/paymentintents/lifecycle and
docs.stripe.com/api/setup_intents/object. 3D Secure: docs.stripe.com/payments/3d-secure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from amci import declines
from amci.errors import AUTHENTICATION_MESSAGE

# The message Stripe.js shows a customer whose authentication failed
# (code payment_intent_authentication_failure / setup_intent_authentication_failure).
AUTHENTICATION_FAILED = (
    "We are unable to authenticate your payment method. Please choose a different payment "
    "method and try again."
)
_AUTH_FAILURES = ("payment_intent_authentication_failure", "setup_intent_authentication_failure")

PAYMENT_MESSAGES: Mapping[str, str] = {
    "succeeded": "The payment was successful.",
    "requires_capture": "The payment was authorized.",
    "requires_action": AUTHENTICATION_MESSAGE,
    "processing": "The payment is being processed.",
    "requires_confirmation": "The payment has not been completed.",
    "requires_payment_method": "The payment was not completed. Please try again or use another "
    "card.",
    "canceled": "The payment was canceled.",
}
EXPIRED_MESSAGE = "The authorization expired and the funds were released."
CARD_MESSAGES: Mapping[str, str] = {
    "succeeded": "The card was saved.",
    "requires_action": "Additional authentication is required to save this card.",
    "processing": "The card is being verified.",
    "requires_confirmation": "The card has not been saved yet.",
    "requires_payment_method": "The card could not be saved. Please try again or use another "
    "card.",
    "canceled": "The card was not saved.",
}


def next_action(intent: Mapping[str, Any]) -> dict[str, str] | None:
    """``{"type": "redirect", "url": …}`` for an intent waiting on the customer with a redirect
    (Stripe's ``next_action.type = redirect_to_url``, given when it was confirmed with a
    ``return_url``); None otherwise (``use_stripe_sdk`` is only for Stripe.js)."""
    if intent.get("status") != "requires_action":
        return None
    action = intent.get("next_action")
    if not isinstance(action, Mapping) or action.get("type") != "redirect_to_url":
        return None
    redirect = action.get("redirect_to_url")
    url = redirect.get("url") if isinstance(redirect, Mapping) else None
    return {"type": "redirect", "url": url} if isinstance(url, str) and url else None


def capture_before(pi: Mapping[str, Any]) -> int | None:
    """An authorization's deadline: ``latest_charge.payment_method_details.card.capture_before``
    ("a future timestamp at which the charge will be automatically refunded if uncaptured";
    docs.stripe.com/payments/place-a-hold-on-a-payment-method: usually 7 days)."""
    charge = pi.get("latest_charge")
    if not isinstance(charge, Mapping):
        return None
    details = charge.get("payment_method_details")
    card = details.get("card") if isinstance(details, Mapping) else None
    value = card.get("capture_before") if isinstance(card, Mapping) else None
    return value if isinstance(value, int) else None


def last_error(intent: Mapping[str, Any]) -> dict[str, Any] | None:
    """Stripe's ``last_payment_error`` (or ``last_setup_error``), classified."""
    err = intent.get("last_payment_error") or intent.get("last_setup_error")
    if not isinstance(err, Mapping):
        return None
    code = err.get("code") if isinstance(err.get("code"), str) else None
    decline = err.get("decline_code") if isinstance(err.get("decline_code"), str) else None
    advice = err.get("advice_code") if isinstance(err.get("advice_code"), str) else None
    if code in _AUTH_FAILURES:
        # Stripe's own text for these addresses the developer ("provide payment_method_data").
        message = AUTHENTICATION_FAILED
    else:
        message = str(err.get("message") or "Your card was declined.")
    return {"code": code, "decline_code": decline, "advice_code": advice,
            "retryable": declines.retryable(code, decline, advice), "message": message}


def payment_message(pi: Mapping[str, Any], error: Mapping[str, Any] | None) -> str:
    status = str(pi.get("status"))
    if status == "canceled" and pi.get("cancellation_reason") == "automatic":
        return EXPIRED_MESSAGE
    if status == "requires_payment_method" and error is not None:
        return str(error["message"])
    return PAYMENT_MESSAGES.get(status, PAYMENT_MESSAGES["requires_confirmation"])


def card_message(status: str, error: Mapping[str, Any] | None) -> str:
    if status == "requires_payment_method" and error is not None:
        return str(error["message"])
    return CARD_MESSAGES.get(status, CARD_MESSAGES["requires_confirmation"])


def metric_outcome(status: str) -> str:
    """The ``outcome`` label of a payment Stripe accepted: requires_action is its own outcome,
    not a success."""
    return {
        "succeeded": "succeeded",
        "requires_capture": "succeeded",
        "requires_action": "requires_action",
        "processing": "processing",
        "requires_payment_method": "declined",
    }.get(status, "failed")


def set_up_by_payment(pi: Mapping[str, Any], token: str) -> bool:
    """A payment with ``setup_future_usage=off_session`` that went through saves its card for
    off-session use (docs.stripe.com/payments/save-during-payment)."""
    return (pi.get("payment_method") == token
            and pi.get("setup_future_usage") == "off_session"
            and pi.get("status") in ("succeeded", "requires_capture"))


def set_up_by_setup(si: Mapping[str, Any]) -> bool:
    """A SetupIntent with ``usage=off_session`` that succeeded (docs.stripe.com/payments/
    setup-intents: the card is then set up for off-session payments)."""
    return si.get("status") == "succeeded" and si.get("usage") == "off_session"


def card_status_of_payment(status: str) -> str:
    """A card saved during a payment: the card's status follows the payment's."""
    if status in ("succeeded", "requires_capture"):
        return "succeeded"
    if status in ("requires_action", "processing", "canceled"):
        return status
    return "requires_payment_method"
