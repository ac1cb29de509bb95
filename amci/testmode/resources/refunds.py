"""Refunds of captured charges, in full or in part (docs.stripe.com/refunds)."""

from __future__ import annotations

from amci import money
from amci.testmode.amounts import fmt
from amci.testmode.auth import Account
from amci.testmode.errors import InvalidRequestError
from amci.testmode.params import documented
from amci.testmode.resources import disputes, objects
from amci.testmode.resources.common import RETRIEVE, expand, list_objects, load
from amci.testmode.resources.context import Context, Json, Params, merge_metadata
from amci.testmode.wire import DATED_LIST_PARAMS, EXPAND, Enum, Int, Metadata, Str, check, new_id

CREATE = {"charge": Str(255), "payment_intent": Str(255), "amount": Int(),
          "reason": Enum(("duplicate", "fraudulent", "requested_by_customer")),
          "metadata": Metadata(), "expand": EXPAND, "instructions_email": Str(512)}
CREATE = documented("POST /v1/refunds", CREATE)
UPDATE = documented("POST /v1/refunds/{id}", {"metadata": Metadata(), "expand": EXPAND})
LIST = documented("GET /v1/refunds", {**DATED_LIST_PARAMS, "charge": Str(255),
                                      "payment_intent": Str(255)})


def create(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    p = check(raw, CREATE)
    if p.get("charge") and p.get("payment_intent"):
        raise InvalidRequestError(
            "You may only specify one of these parameters: charge, payment_intent.",
            code="parameters_exclusive", param="payment_intent")
    if p.get("payment_intent"):
        pi = load(ctx, acct, p["payment_intent"], "payment_intent", param="payment_intent")
        if pi.data["status"] != "succeeded" or not pi.data["latest_charge"]:
            raise InvalidRequestError(
                f"This PaymentIntent ({pi.id}) does not have a successful charge to refund.",
                param="payment_intent")
        ch = load(ctx, acct, pi.data["latest_charge"], "charge")
    elif p.get("charge"):
        ch = load(ctx, acct, p["charge"], "charge", param="charge")
    else:
        raise InvalidRequestError(
            "One of the following params should be provided for this request: charge or"
            " payment_intent.", code="parameter_missing", param="charge")
    charge = ch.data
    if charge["status"] != "succeeded" or not charge["captured"]:
        raise InvalidRequestError(
            f"Charge {charge['id']} has not been captured; cancel its PaymentIntent to"
            " release the authorization instead.", param="charge")
    if disputes.open_chargeback(ctx, acct.id, charge):
        # "you can't issue a refund outside the dispute process while the dispute is open"
        # (docs.stripe.com/disputes/how-disputes-work); error code charge_disputed
        # (docs.stripe.com/error-codes), message UNVERIFIED.
        raise InvalidRequestError(f"Charge {charge['id']} has been charged back; it cannot be"
                                  " refunded while the dispute is open.",
                                  code="charge_disputed", param="charge")
    remaining = charge["amount_captured"] - charge["amount_refunded"]
    cur = money.currency(charge["currency"])
    if remaining <= 0:
        raise InvalidRequestError(f"Charge {charge['id']} has already been refunded.",
                                  code="charge_already_refunded")
    amount = p.get("amount")
    if amount is None:
        amount = remaining
    ctx.policy.check_shape(amount, cur)
    if amount > remaining:
        raise InvalidRequestError(
            f"Refund amount ({fmt(amount, cur)}) is greater than unrefunded amount on charge"
            f" ({fmt(remaining, cur)})", param="amount")
    refund = objects.refund(charge, amount, created=ctx.clock.now(), reason=p.get("reason"),
                            metadata=merge_metadata({}, p.get("metadata")))
    ctx.store.insert(acct.id, "refund", refund, f1=charge["id"], f2=charge["payment_intent"])
    if ch.internal.get("after") == "refund_fail":
        ctx.queue.schedule(acct.id, "refund_fail", refund["id"],
                           ctx.clock.now() + ctx.settings.refund_failure_delay_seconds)
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] >= charge["amount_captured"]
    ctx.store.update(acct.id, charge, ch.internal, f1=charge["customer"],
                     f2=charge["payment_intent"])
    return expand(ctx, acct, refund, p.get("expand"))


def retrieve(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    p = check(raw, RETRIEVE)
    return expand(ctx, acct, load(ctx, acct, ids["id"], "refund").data, p.get("expand"))


def list_(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    p = check(raw, LIST)
    return list_objects(ctx, acct, "refund", p, "/v1/refunds", f1=p.get("charge"),
                        f2=p.get("payment_intent"))


def update(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    """"This request only accepts metadata as an argument" (docs.stripe.com/api/refunds/update)."""
    p = check(raw, UPDATE)
    row = load(ctx, acct, ids["id"], "refund")
    refund = row.data
    refund["metadata"] = merge_metadata(refund["metadata"], p.get("metadata"))
    ctx.store.update(acct.id, refund, row.internal, f1=refund["charge"],
                     f2=refund["payment_intent"])
    return expand(ctx, acct, refund, p.get("expand"))


def fail(ctx: Context, account: str, refund_id: str) -> None:
    """Timer ``refund_fail``: the refund-failure test card's refund "will appear to be
    successful at first and will only have the failed status on subsequent fetches"
    (docs.stripe.com/testing), failure_reason expired_or_canceled_card. The refunded amount is
    returned to the charge (UNVERIFIED: Stripe's charge fields after a refund failure)."""
    row = ctx.store.get(account, refund_id)
    if row is None or row.data["status"] != "succeeded":
        return
    refund = row.data
    refund.update(status="failed", failure_reason="expired_or_canceled_card",
                  failure_balance_transaction=new_id("txn"))
    ctx.store.update(account, refund, row.internal, f1=refund["charge"],
                     f2=refund["payment_intent"])
    ch = ctx.store.get(account, refund["charge"])
    if ch is not None:
        charge = ch.data
        charge["amount_refunded"] = max(0, charge["amount_refunded"] - refund["amount"])
        charge["refunded"] = False
        ctx.store.update(account, charge, ch.internal, f1=charge["customer"],
                         f2=charge["payment_intent"])
