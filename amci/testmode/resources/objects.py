"""Constructors of the Stripe objects more than one resource creates (charges, refunds): their
shape in one place. Pure functions."""

from __future__ import annotations

from amci.testmode.resources.context import Json
from amci.testmode.wire import new_id


def charge(pi: Json, pm: Json, now: int) -> Json:
    """The Charge object of one payment attempt of ``pi`` with card PaymentMethod ``pm``."""
    card = pm["card"]
    return {
        "id": new_id("ch"), "object": "charge", "amount": pi["amount"],
        "amount_captured": 0, "amount_refunded": 0, "application": None,
        "application_fee": None, "application_fee_amount": None,
        "balance_transaction": None, "billing_details": pm["billing_details"],
        "calculated_statement_descriptor": "AMCI TESTMODE", "captured": False,
        "created": now, "currency": pi["currency"], "customer": pi["customer"],
        "description": pi["description"], "disputed": False,
        "failure_balance_transaction": None, "failure_code": None, "failure_message": None,
        "fraud_details": {}, "livemode": False, "metadata": {}, "on_behalf_of": None,
        "outcome": None, "paid": True, "payment_intent": pi["id"], "payment_method": pm["id"],
        "payment_method_details": {"card": {
            "amount_authorized": pi["amount"], "brand": card["brand"], "capture_before": None,
            "checks": card["checks"], "country": card["country"],
            "exp_month": card["exp_month"], "exp_year": card["exp_year"],
            "fingerprint": card["fingerprint"], "funding": card["funding"],
            "last4": card["last4"], "network": card["brand"], "three_d_secure": None,
            "wallet": None, "authorization_code": None, "installments": None,
            "mandate": None, "network_token": {"used": False},
            "network_transaction_id": None, "regulated_status": card.get("regulated_status"),
            "transaction_link_id": None,
            # Card features not simulated here, in the state Stripe reports for a card that
            # does not offer them (docs.stripe.com/payments/extended-authorization,
            # /incremental-authorization, /multicapture, /overcapture).
            "extended_authorization": {"status": "disabled"},
            "incremental_authorization": {"status": "unavailable"},
            "multicapture": {"status": "unavailable"},
            "overcapture": {"maximum_amount_capturable": pi["amount"],
                            "status": "unavailable"}}, "type": "card"},
        "receipt_email": pi["receipt_email"], "receipt_number": None, "receipt_url": None,
        "refunded": False, "review": None, "shipping": pi.get("shipping"), "source": None,
        "source_transfer": None, "statement_descriptor": pi["statement_descriptor"],
        "statement_descriptor_suffix": pi["statement_descriptor_suffix"],
        "status": "succeeded", "transfer_data": None,
        "transfer_group": pi.get("transfer_group"),
    }


def refund(charge: Json, amount: int, *, created: int, reason: str | None, metadata: Json,
           destination_type: str = "refund") -> Json:
    """A succeeded Refund of ``amount`` on ``charge`` (``destination_type`` "reversal" when an
    uncaptured authorization is released)."""
    return {
        "id": new_id("re"), "object": "refund", "amount": amount,
        "balance_transaction": None, "charge": charge["id"], "created": created,
        "currency": charge["currency"], "customer": charge["customer"],
        "customer_account": None, "payment_method": charge["payment_method"],
        "destination_details": {"card": {"reference_status": "pending",
                                         "reference_type": "acquirer_reference_number",
                                         "type": destination_type}, "type": "card"},
        "metadata": metadata, "payment_intent": charge["payment_intent"], "reason": reason,
        "receipt_number": None, "source_transfer_reversal": None, "status": "succeeded",
        "transfer_reversal": None,
    }
