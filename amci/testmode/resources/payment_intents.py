"""PaymentIntents: create, confirm (a card attempt: success, decline or 3D Secure), capture,
cancel, retrieve, list (docs.stripe.com/payments/paymentintents/lifecycle)."""

from __future__ import annotations

from typing import Any

from amci import money
from amci.testmode.amounts import fmt
from amci.testmode.auth import Account
from amci.testmode.errors import InvalidRequestError
from amci.testmode.params import MissingRef, documented
from amci.testmode.resources import actions, disputes, payment_attempts, payment_methods
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
UPDATE: dict[str, Spec] = {
    "amount": Int(), "currency": Str(3), "customer": Str(255), "description": Str(1000),
    "metadata": Metadata(), "payment_method": Str(255),
    "payment_method_data": payment_methods.PM_DATA,
    "payment_method_options": Obj({"card": CARD_OPTIONS}), "payment_method_types": List(Str(50)),
    "receipt_email": Str(512), "setup_future_usage": Enum(("off_session", "on_session")),
    "statement_descriptor": Str(22), "statement_descriptor_suffix": Str(22),
    "capture_method": Enum(("automatic", "automatic_async", "manual")), "expand": EXPAND,
}
# UNVERIFIED: which fields Stripe lets you change after the payment; metadata and description
# are what integrations update on succeeded intents.
UPDATABLE_ANY_TIME = frozenset({"metadata", "description", "expand"})
UPDATABLE = ("requires_payment_method", "requires_confirmation", "requires_action")
# Changing these after authentication was asked for needs a new confirmation (UNVERIFIED).
RECONFIRM = frozenset({"amount", "currency", "customer", "payment_method", "payment_method_data",
                       "payment_method_options", "capture_method", "setup_future_usage"})
# Every documented parameter is accepted and type-checked; the specs above add what is
# simulated. Connect destinations and mandates are objects the test mode has none of.
_NO_SUCH: dict[str, Spec] = {
    "on_behalf_of": MissingRef("account"), "mandate": MissingRef("mandate"),
    "transfer_data": Obj({"destination": MissingRef("account"), "amount": Int()})}
CONFIRM = documented("POST /v1/payment_intents/{id}/confirm", {**CONFIRM, **_NO_SUCH})
CREATE = documented("POST /v1/payment_intents", {**CREATE, **_NO_SUCH})
CAPTURE = documented("POST /v1/payment_intents/{id}/capture", {**CAPTURE, **_NO_SUCH})
CANCEL = documented("POST /v1/payment_intents/{id}/cancel", CANCEL)
UPDATE = documented("POST /v1/payment_intents/{id}", {**UPDATE, **_NO_SUCH})
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
    _check_types(p.get("payment_method_types"))
    if p.get("customer"):
        load(ctx, acct, p["customer"], "customer", param="customer")
    if p.get("payment_method") and p.get("payment_method_data"):
        raise InvalidRequestError(
            "You may only specify one of these parameters: payment_method,"
            " payment_method_data.", code="parameters_exclusive", param="payment_method")
    for name in ("off_session", "return_url", "error_on_requires_action"):
        if p.get(name) and not p.get("confirm"):
            # "This parameter can only be used with confirm=true." (PaymentIntent create docs)
            raise InvalidRequestError(
                f"You can only set {name} when confirm is true.", param=name)
    apm = p.get("automatic_payment_methods")
    if p.get("payment_method_types") is None:
        # Since API version 2023-08-16 automatic_payment_methods is on by default.
        apm = {"enabled": True, "allow_redirects": (apm or {}).get("allow_redirects")
               or "always"} if (apm or {}).get("enabled", True) is not False else None
    else:
        apm = None
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
            "request_three_d_secure": "automatic"}},
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
    payment_attempts.apply_card_options(pi, p)
    internal: Json = {}
    pm_row = _new_payment_method(ctx, acct, p)
    if pm_row is not None:
        pi["payment_method"] = pm_row.id
        pi["status"] = "requires_confirmation"
    ctx.store.insert(acct.id, "payment_intent", pi, internal, f1=pi["customer"])
    if p.get("confirm"):
        payment_attempts.confirm(ctx, acct, Row(0, pid, "payment_intent", pi, internal), pm_row, p)
    return expand(ctx, acct, pi, p.get("expand"))


def _new_payment_method(ctx: Context, acct: Account, p: Params) -> Row | None:
    if p.get("payment_method"):
        return payment_methods.resolve(ctx, acct, p["payment_method"], "payment_method")
    if p.get("payment_method_data"):
        return payment_methods.from_data(ctx, acct, p["payment_method_data"],
                                         "payment_method_data")
    return None


def _check_types(types: list[str] | None) -> None:
    for i, t in enumerate(types or ()):
        if t != "card":
            raise InvalidRequestError(
                f"The payment method type provided: {t} is invalid. This test-mode server"
                " supports: card.", param=f"payment_method_types[{i}]")


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
    pm_row = _new_payment_method(ctx, acct, p)
    if pm_row is None and pi["payment_method"]:
        pm_row = load(ctx, acct, pi["payment_method"], "payment_method")
    payment_attempts.confirm(ctx, acct, row, pm_row, p)
    return expand(ctx, acct, pi, p.get("expand"))


def update(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    """Update without confirming: "updating the payment_method will always require you to
    confirm the PaymentIntent again" (docs.stripe.com/api/payment_intents/update)."""
    p = check(raw, UPDATE)
    row = load(ctx, acct, ids["id"], "payment_intent")
    pi, internal = row.data, row.internal
    if pi["status"] not in UPDATABLE:
        for name in p:
            if name not in UPDATABLE_ANY_TIME:
                raise InvalidRequestError(
                    f"This PaymentIntent's {name} could not be updated because it has a status"
                    f" of {pi['status']}. You may only update the {name} of a PaymentIntent with"
                    f" one of the following statuses: {', '.join(UPDATABLE)}.",
                    code="payment_intent_unexpected_state", param=name)
    if p.get("payment_method") and p.get("payment_method_data"):
        raise InvalidRequestError(
            "You may only specify one of these parameters: payment_method,"
            " payment_method_data.", code="parameters_exclusive", param="payment_method")
    amount = p.get("amount", pi["amount"])
    cur = ctx.policy.currency(p["currency"]) if p.get("currency") else None
    if "amount" in p or cur is not None:
        if amount is None:
            raise InvalidRequestError("Missing required param: amount.",
                                      code="parameter_missing", param="amount")
        cur = cur or ctx.policy.currency(pi["currency"])
        ctx.policy.check_charge(amount, cur)
        pi.update(amount=amount, currency=cur.wire)
    if p.get("customer"):
        load(ctx, acct, p["customer"], "customer", param="customer")
        pi["customer"] = p["customer"]
    _check_types(p.get("payment_method_types"))
    if p.get("payment_method_types"):
        pi["payment_method_types"] = p["payment_method_types"]
    for name in ("description", "receipt_email", "statement_descriptor",
                 "statement_descriptor_suffix", "setup_future_usage", *ECHOED):
        if name in p:
            pi[name] = p[name]
    if "shipping" in p:
        pi["shipping"] = shipping(p["shipping"])
    if p.get("capture_method"):
        pi["capture_method"] = p["capture_method"]
    payment_attempts.apply_card_options(pi, p)
    pi["metadata"] = merge_metadata(pi["metadata"], p.get("metadata"))
    if "payment_method" in p or "payment_method_data" in p:
        pm_row = _new_payment_method(ctx, acct, p)
        pi["payment_method"] = pm_row.id if pm_row is not None else None
        internal.pop("authenticated", None)
    if pi["status"] in UPDATABLE and RECONFIRM & set(p):
        actions.clear_action(row)
        pi["status"] = ("requires_confirmation" if pi["payment_method"]
                        else "requires_payment_method")
    ctx.store.update(acct.id, pi, internal, f1=pi["customer"])
    return expand(ctx, acct, pi, p.get("expand"))


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
    disputes.schedule_opening(ctx, acct.id, ch.id, ch.internal.get("after"))
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
