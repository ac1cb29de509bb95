"""Charges: made by confirming PaymentIntents (one per attempt); retrieve and list here."""

from __future__ import annotations

from amci.testmode.auth import Account
from amci.testmode.params import documented
from amci.testmode.resources.common import (
    RETRIEVE,
    expand,
    list_objects,
    load,
    search_objects,
)
from amci.testmode.resources.context import Context, Json, Params
from amci.testmode.wire import DATED_LIST_PARAMS, Str, check, new_id

LIST = documented("GET /v1/charges", {**DATED_LIST_PARAMS, "customer": Str(255),
                                      "payment_intent": Str(255), "transfer_group": Str(5000)})


def new(pi: Json, pm: Json, now: int) -> Json:
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


def retrieve(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    p = check(raw, RETRIEVE)
    return expand(ctx, acct, load(ctx, acct, ids["id"], "charge").data, p.get("expand"))


def list_(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    p = check(raw, LIST)
    equal = {"transfer_group": p["transfer_group"]} if p.get("transfer_group") else None
    return list_objects(ctx, acct, "charge", p, "/v1/charges", f1=p.get("customer"),
                        f2=p.get("payment_intent"), equal=equal)


def search(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    return search_objects(ctx, acct, "charge", "charges", raw)
