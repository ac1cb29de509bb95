"""What an AMCI payment answer means for a transaction row: the billing client's status (with
``requires_action`` and ``expired``), the 3D Secure link, the authorization's deadline, and after
a failed attempt the reason with AMCI's ``retryable``. Pure: no I/O."""

from __future__ import annotations

from typing import Any

from billing_client import money
from billing_client.storage import Row

AUTHENTICATION_MESSAGE = "Additional authentication is required to complete this payment."
EXPIRED_MESSAGE = "The authorization expired and the funds were released."

# AMCI payment status (Stripe's PaymentIntent status) → the billing client's transaction status.
PAYMENT_STATUS = {
    "succeeded": "succeeded",
    "requires_capture": "authorized",
    "canceled": "canceled",
    "requires_payment_method": "failed",
    "requires_action": "requires_action",
}


def fields(result: dict[str, Any], currency: str) -> Row:
    amci_status = str(result.get("status") or "")

    def minor(key: str) -> int:
        value = result.get(key)
        try:
            return money.parse_amount(value, currency) if value is not None else 0
        except money.MoneyError:
            return 0

    status = PAYMENT_STATUS.get(amci_status, "processing")
    if status == "canceled" and result.get("cancellation_reason") == "automatic":
        status = "expired"  # an authorization not captured by its capture_before
    action = result.get("next_action")
    fields: Row = {
        "status": status,
        "amci_payment": result.get("id"),
        "amci_charge": result.get("charge"),
        "amci_status": amci_status,
        "amount_captured_minor": minor("amount_received"),
        "amount_refunded_minor": minor("amount_refunded"),
        "action_url": action.get("url") if isinstance(action, dict) else None,
        "capture_before": result.get("capture_before"),
    }
    error = result.get("last_error")
    if status == "requires_action":
        fields["message"] = AUTHENTICATION_MESSAGE
    elif status == "expired":
        fields["message"] = EXPIRED_MESSAGE
    elif status == "failed" and isinstance(error, dict):
        # Declined or not authenticated after the customer's 3D Secure: AMCI's classification.
        fields |= {
            "error_type": "card_error",
            "error_code": error.get("code"),
            "decline_code": error.get("decline_code"),
            "retryable": error.get("retryable"),
            "message": result.get("message") or error.get("message"),
            "http_status": 402,
        }
    return fields
