"""PaymentIntents: create, confirm (a card attempt: success, decline or 3D Secure), capture,
cancel, retrieve, list (docs.stripe.com/payments/paymentintents/lifecycle)."""

from __future__ import annotations

from typing import Any

from amci import money
from amci.testmode import cards
from amci.testmode.amounts import fmt
from amci.testmode.auth import Account
from amci.testmode.errors import CardError, InvalidRequestError
from amci.testmode.params import MissingRef, documented
from amci.testmode.resources import charges, payment_methods
from amci.testmode.resources.authorizations import release_charge
from amci.testmode.resources.common import (
    RETRIEVE,
    expand,
    list_objects,
    load,
    search_objects,
    shipping,
)
from amci.testmode.resources.context import Context, Json, Params, merge_metadata
from amci.testmode.store import Row
from amci.testmode.wire import (
    DATED_LIST_PARAMS,
    EXPAND,
    Bool,
    Enum,
    Int,
    List,
    Metadata,
    Obj,
    Spec,
    Str,
    check,
    new_id,
    require,
)

CARD_OPTIONS = Obj(
    {"capture_method": Enum(("manual",)),
     "request_three_d_secure": Enum(("any", "automatic", "challenge")),
     "setup_future_usage": Enum(("none", "off_session", "on_session"))}
)


class OffSession(Spec):
    """``off_session`` is a boolean or ``one_off``/``recurring`` (PaymentIntent create)."""

    def coerce(self, value: Any, name: str) -> Any:
        if value in ("one_off", "recurring"):
            return True
        return Bool().coerce(value, name)


CONFIRM: dict[str, Spec] = {
    "payment_method": Str(255), "payment_method_data": payment_methods.PM_DATA,
    "off_session": OffSession(), "return_url": Str(2048), "error_on_requires_action": Bool(),
    "payment_method_options": Obj({"card": CARD_OPTIONS}),
    "setup_future_usage": Enum(("off_session", "on_session")), "receipt_email": Str(512),
    "use_stripe_sdk": Bool(), "mandate": Str(255), "capture_method": Enum(
        ("automatic", "automatic_async", "manual")), "payment_method_types": List(Str(50)),
    "expand": EXPAND,
}
CREATE: dict[str, Spec] = {
    **CONFIRM,
    "amount": Int(), "currency": Str(3), "customer": Str(255), "confirm": Bool(),
    "confirmation_method": Enum(("automatic", "manual")), "description": Str(1000),
    "metadata": Metadata(), "statement_descriptor": Str(22), "statement_descriptor_suffix": Str(22),
    "automatic_payment_methods": Obj(
        {"enabled": Bool(), "allow_redirects": Enum(("always", "never"))}
    ),
}
CAPTURE = {"amount_to_capture": Int(), "metadata": Metadata(), "expand": EXPAND,
           "final_capture": Bool(), "statement_descriptor": Str(22),
           "statement_descriptor_suffix": Str(22)}
CANCEL = {"cancellation_reason": Enum(("abandoned", "duplicate", "fraudulent",
                                       "requested_by_customer")), "expand": EXPAND}
# Every documented parameter is accepted and type-checked; the specs above add what is
# simulated. Connect destinations and mandates are objects the test mode has none of.
_NO_SUCH: dict[str, Spec] = {
    "on_behalf_of": MissingRef("account"), "mandate": MissingRef("mandate"),
    "transfer_data": Obj({"destination": MissingRef("account"), "amount": Int()})}
CONFIRM = documented("POST /v1/payment_intents/{id}/confirm", {**CONFIRM, **_NO_SUCH})
CREATE = documented("POST /v1/payment_intents", {**CREATE, **_NO_SUCH})
CAPTURE = documented("POST /v1/payment_intents/{id}/capture", {**CAPTURE, **_NO_SUCH})
CANCEL = documented("POST /v1/payment_intents/{id}/cancel", CANCEL)
LIST = documented("GET /v1/payment_intents", {**DATED_LIST_PARAMS, "customer": Str(255)})
# Stored and returned as sent on the PaymentIntent (and its charges where Stripe copies them).
ECHOED = ("application_fee_amount", "transfer_group")
CANCELABLE = ("requires_payment_method", "requires_capture", "requires_confirmation",
              "requires_action", "processing")
CONFIRMABLE = ("requires_confirmation", "requires_payment_method", "requires_action")


def create(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    p = check(raw, CREATE)
    amount = require(p, "amount")
    cur = ctx.policy.currency(require(p, "currency"))
    ctx.policy.check_charge(amount, cur)
    if p.get("payment_method_types") is not None and p.get("automatic_payment_methods"):
        raise InvalidRequestError(
            "You may only specify one of these parameters: automatic_payment_methods,"
            " payment_method_types.", code="parameters_exclusive",
            param="automatic_payment_methods")
    for i, t in enumerate(p.get("payment_method_types") or ()):
        if t != "card":
            raise InvalidRequestError(
                f"The payment method type provided: {t} is invalid. This test-mode server"
                " supports: card.", param=f"payment_method_types[{i}]")
    if p.get("customer"):
        load(ctx, acct, p["customer"], "customer", param="customer")
    if p.get("payment_method") and p.get("payment_method_data"):
        raise InvalidRequestError(
            "You may only specify one of these parameters: payment_method,"
            " payment_method_data.", code="parameters_exclusive", param="payment_method")
    if p.get("off_session") and not p.get("confirm"):
        raise InvalidRequestError(
            "You can only set off_session when confirm is true.", param="off_session")
    apm = p.get("automatic_payment_methods")
    if p.get("payment_method_types") is None:
        # Since API version 2023-08-16 automatic_payment_methods is on by default.
        apm = {"enabled": True, "allow_redirects": (apm or {}).get("allow_redirects")
               or "always"} if (apm or {}).get("enabled", True) is not False else None
    else:
        apm = None
    card_options = (p.get("payment_method_options") or {}).get("card") or {}
    now = ctx.clock.now()
    pid = new_id("pi")
    pi: Json = {
        "id": pid, "object": "payment_intent", "amount": amount, "amount_capturable": 0,
        "amount_details": {"tip": {}}, "amount_received": 0, "application": None,
        "application_fee_amount": None, "automatic_payment_methods": apm,
        "canceled_at": None, "cancellation_reason": None,
        "capture_method": p.get("capture_method") or "automatic_async",
        "client_secret": f"{pid}_secret_{new_id('x', 25)[2:]}",
        "confirmation_method": p.get("confirmation_method") or "automatic",
        "created": now, "currency": cur.wire, "customer": p.get("customer"),
        "description": p.get("description"), "last_payment_error": None,
        "latest_charge": None, "livemode": False,
        "metadata": merge_metadata({}, p.get("metadata")), "next_action": None,
        "on_behalf_of": None, "payment_method": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {"card": {
            "installments": None, "mandate_options": None, "network": None,
            "request_three_d_secure": card_options.get("request_three_d_secure") or "automatic",
            **({"capture_method": "manual"} if card_options.get("capture_method") else {})}},
        "payment_method_types": p.get("payment_method_types") or ["card"],
        "processing": None, "receipt_email": p.get("receipt_email"), "review": None,
        "setup_future_usage": p.get("setup_future_usage"), "shipping": shipping(p.get("shipping")),
        "source": None,
        "statement_descriptor": p.get("statement_descriptor"),
        "statement_descriptor_suffix": p.get("statement_descriptor_suffix"),
        "status": "requires_payment_method", "transfer_data": None, "transfer_group": None,
        # Returned by default in current API versions (null unless used): Accounts v2
        # customers, excluded payment method types, Managed Payments.
        "customer_account": None, "excluded_payment_method_types": None,
        "managed_payments": None,
    }
    pi.update({field: p[field] for field in ECHOED if p.get(field) is not None})
    internal: Json = {}
    pm_row = None
    if p.get("payment_method"):
        pm_row = payment_methods.resolve(ctx, acct, p["payment_method"], "payment_method")
    elif p.get("payment_method_data"):
        pm_row = payment_methods.from_data(ctx, acct, p["payment_method_data"],
                                           "payment_method_data")
    if pm_row is not None:
        pi["payment_method"] = pm_row.id
        pi["status"] = "requires_confirmation"
    ctx.store.insert(acct.id, "payment_intent", pi, internal, f1=pi["customer"])
    if p.get("confirm"):
        _confirm(ctx, acct, Row(0, pid, "payment_intent", pi, internal), pm_row, p)
    return expand(ctx, acct, pi, p.get("expand"))


def retrieve(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    p = check(raw, RETRIEVE)
    return expand(ctx, acct, load(ctx, acct, ids["id"], "payment_intent").data, p.get("expand"))


def list_(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    p = check(raw, LIST)
    return list_objects(ctx, acct, "payment_intent", p, "/v1/payment_intents",
                        f1=p.get("customer"))


def confirm(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    p = check(raw, CONFIRM)
    row = load(ctx, acct, ids["id"], "payment_intent")
    pi = row.data
    if pi["status"] not in CONFIRMABLE:
        if pi["status"] == "succeeded":
            msg = ("You cannot confirm this PaymentIntent because it has already succeeded"
                   " after being previously confirmed.")
        else:
            msg = (f"You cannot confirm this PaymentIntent because it has a status of"
                   f" {pi['status']}. Only a PaymentIntent with one of the following statuses"
                   f" may be confirmed: {', '.join(CONFIRMABLE)}.")
        raise InvalidRequestError(msg, code="payment_intent_unexpected_state",
                                  extra={"payment_intent": pi})
    if p.get("capture_method"):
        pi["capture_method"] = p["capture_method"]
    pm_row = None
    if p.get("payment_method"):
        pm_row = payment_methods.resolve(ctx, acct, p["payment_method"], "payment_method")
    elif p.get("payment_method_data"):
        pm_row = payment_methods.from_data(ctx, acct, p["payment_method_data"],
                                           "payment_method_data")
    elif pi["payment_method"]:
        pm_row = load(ctx, acct, pi["payment_method"], "payment_method")
    _confirm(ctx, acct, row, pm_row, p)
    return expand(ctx, acct, pi, p.get("expand"))


def _confirm(ctx: Context, acct: Account, row: Row, pm_row: Row | None, p: Params) -> None:
    """Attempt the payment. A decline commits the failed charge and the intent's return to
    requires_payment_method, then raises the 402
    (docs.stripe.com/payments/paymentintents/lifecycle)."""
    pi, internal = row.data, row.internal
    if pm_row is None:
        raise InvalidRequestError(
            "You cannot confirm this PaymentIntent because it's missing a payment method."
            " You can either update the PaymentIntent with a payment method and then confirm"
            " it again, or confirm it again directly with a payment method.",
            code="payment_intent_unexpected_state", extra={"payment_intent": pi})
    pm = pm_row.data
    if pm_row.internal.get("consumed"):
        raise InvalidRequestError(payment_methods.PM_REUSE, param="payment_method")
    if pm["customer"] is not None and pm["customer"] != pi["customer"]:
        # Stripe: "Payment methods attached to other Customers cannot be used with this
        # PaymentIntent." (PaymentIntent `customer` docs); exact error text UNVERIFIED.
        raise InvalidRequestError(
            f"The provided PaymentMethod {pm['id']} is attached to another Customer than the"
            " one on this PaymentIntent. Payment methods attached to other Customers cannot"
            " be used with this PaymentIntent.", param="payment_method")
    if p.get("receipt_email"):
        pi["receipt_email"] = p["receipt_email"]
    if p.get("setup_future_usage"):
        pi["setup_future_usage"] = p["setup_future_usage"]
    if p.get("shipping"):
        pi["shipping"] = shipping(p["shipping"])
    off_session = bool(p.get("off_session"))
    now = ctx.clock.now()
    kind, code, decline_code, message, _attachable, off_ok = pm_row.internal["outcome"]
    pi["payment_method"] = pm["id"]
    if pi["customer"] is None:
        # Without a Customer a PaymentMethod is single-use.
        pm_row.internal["consumed"] = True
        ctx.store.update(acct.id, pm, pm_row.internal, f1=pm["customer"])
    if kind == "authenticate" and not (off_session and off_ok):
        if off_session or p.get("error_on_requires_action"):
            d = cards.AUTHENTICATION_REQUIRED
            kind, code, decline_code, message = d.kind, d.code, d.decline_code, d.message
        else:
            pi["status"] = "requires_action"
            pi["next_action"] = {"type": "use_stripe_sdk", "use_stripe_sdk": {
                "type": "three_d_secure_redirect", "source": new_id("src")}}
            pi["last_payment_error"] = None
            ctx.store.update(acct.id, pi, internal, f1=pi["customer"])
            return
    manual = pi["capture_method"] == "manual" or (
        pi["payment_method_options"]["card"].get("capture_method") == "manual")
    charge = charges.new(pi, pm, now)
    pi["latest_charge"] = charge["id"]
    pi["next_action"] = None
    if kind == "decline":
        charge.update(status="failed", paid=False, captured=False, amount_captured=0,
                      failure_code=code, failure_message=message)
        charge["outcome"] = (
            {"network_status": "not_sent_to_network", "reason": "highest_risk_level",
             "risk_level": "highest", "risk_score": 95,
             "seller_message": "Stripe blocked this payment as too risky.",
             "type": "blocked"}
            if decline_code == "fraudulent" else
            {"network_status": "declined_by_network", "reason": decline_code or code,
             "risk_level": "normal", "risk_score": 20,
             "seller_message": "The bank did not return any further details with this"
                               " decline.", "type": "issuer_declined"})
        ctx.store.insert(acct.id, "charge", charge, f1=charge["customer"], f2=pi["id"])
        error: Json = {"type": "card_error", "code": code, "message": message,
                       "charge": charge["id"], "payment_method": pm,
                       "doc_url": "https://stripe.com/docs/error-codes/"
                                  + str(code).replace("_", "-")}
        if decline_code:
            error["decline_code"] = decline_code
        pi["last_payment_error"] = error
        pi["status"] = "requires_payment_method"
        # After a failed attempt the intent no longer carries the payment method.
        pi["payment_method"] = None
        ctx.store.update(acct.id, pi, internal, f1=pi["customer"])
        raise CardError(str(message), code=code, decline_code=decline_code, stored=True,
                        extra={"charge": charge["id"], "payment_intent": pi,
                               "payment_method": pm})
    charge["outcome"] = {"network_status": "approved_by_network", "reason": None,
                         "risk_level": "normal", "risk_score": 20,
                         "seller_message": "Payment complete.", "type": "authorized"}
    pi["last_payment_error"] = None
    if manual:
        validity = ctx.settings.authorization_validity_seconds
        charge["payment_method_details"]["card"]["capture_before"] = now + validity
        charge.update(captured=False, amount_captured=0)
        pi.update(status="requires_capture", amount_capturable=pi["amount"])
        internal["authorized_at"] = now
    else:
        charge.update(captured=True, amount_captured=pi["amount"])
        pi.update(status="succeeded", amount_received=pi["amount"], amount_capturable=0)
    ctx.store.insert(acct.id, "charge", charge, f1=charge["customer"], f2=pi["id"])
    if pi.get("setup_future_usage") and pi["customer"] and pm["customer"] is None:
        payment_methods.attach(ctx, acct, pm["id"], pi["customer"], param="payment_method")
    ctx.store.update(acct.id, pi, internal, f1=pi["customer"])


def capture(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    p = check(raw, CAPTURE)
    row = load(ctx, acct, ids["id"], "payment_intent")
    pi = row.data
    if pi["status"] != "requires_capture":
        raise InvalidRequestError(
            f"This PaymentIntent could not be captured because it has a status of"
            f" {pi['status']}. Only a PaymentIntent with one of the following statuses may be"
            f" captured: requires_capture.", code="payment_intent_unexpected_state",
            extra={"payment_intent": pi})
    amount = p.get("amount_to_capture")
    if amount is None:
        amount = pi["amount_capturable"]
    cur = money.currency(pi["currency"])
    ctx.policy.check_charge(amount, cur, "amount_to_capture")
    if amount > pi["amount_capturable"]:
        # "amount_to_capture … must be less than or equal to the original amount"; wording
        # of the error UNVERIFIED.
        raise InvalidRequestError(
            "The amount to capture must be less than or equal to the amount capturable"
            f" ({fmt(pi['amount_capturable'], cur)}).", code="amount_too_large",
            param="amount_to_capture")
    ch = ctx.store.get(acct.id, pi["latest_charge"])
    assert ch is not None
    ch.data.update(captured=True, amount_captured=amount)
    ch.data["payment_method_details"]["card"]["capture_before"] = None
    ctx.store.update(acct.id, ch.data, ch.internal, f1=ch.data["customer"], f2=pi["id"])
    pi["metadata"] = merge_metadata(pi["metadata"], p.get("metadata"))
    pi.update(status="succeeded", amount_received=amount, amount_capturable=0)
    ctx.store.update(acct.id, pi, row.internal, f1=pi["customer"])
    return expand(ctx, acct, pi, p.get("expand"))


def cancel(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    p = check(raw, CANCEL)
    row = load(ctx, acct, ids["id"], "payment_intent")
    pi = row.data
    if pi["status"] not in CANCELABLE:
        raise InvalidRequestError(
            f"You cannot cancel this PaymentIntent because it has a status of {pi['status']}."
            f" Only a PaymentIntent with one of the following statuses may be canceled:"
            f" {', '.join(CANCELABLE)}.", code="payment_intent_unexpected_state",
            extra={"payment_intent": pi})
    was_authorized = pi["status"] == "requires_capture"
    pi.update(status="canceled", canceled_at=ctx.clock.now(), amount_capturable=0,
              cancellation_reason=p.get("cancellation_reason"), next_action=None)
    ctx.store.update(acct.id, pi, row.internal, f1=pi["customer"])
    if was_authorized:
        release_charge(ctx, acct, pi["latest_charge"])
    return expand(ctx, acct, pi, p.get("expand"))


def search(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    return search_objects(ctx, acct, "payment_intent", "payment_intents", raw)
