"""One payment attempt of a PaymentIntent: 3D Secure first, then the charge (success or decline).

docs.stripe.com/payments/paymentintents/lifecycle: a decline returns the intent to
``requires_payment_method`` with ``last_payment_error`` (402); authentication puts it in
``requires_action``; after the customer authenticates, the charge is attempted (``succeeded`` or
``requires_capture``), or with ``confirmation_method=manual`` the intent waits in
``requires_confirmation`` for the server's confirm; a failed authentication returns it to
``requires_payment_method``.
"""

from __future__ import annotations

from amci.testmode import cards, holds
from amci.testmode import three_d_secure as tds
from amci.testmode.auth import Account
from amci.testmode.errors import DOC_URL, CardError, InvalidRequestError
from amci.testmode.resources import actions, disputes, objects, payment_methods
from amci.testmode.resources.common import load, shipping
from amci.testmode.resources.context import Context, Json, Params
from amci.testmode.store import Row


def confirm(ctx: Context, acct: Account, row: Row, pm_row: Row | None, p: Params) -> None:
    """Confirm the intent in ``row`` with ``pm_row``; raises the 402 of a decline (committed)."""
    pi, internal = row.data, row.internal
    if pm_row is None:
        raise InvalidRequestError(
            "You cannot confirm this PaymentIntent because it's missing a payment method."
            " You can either update the PaymentIntent with a payment method and then confirm"
            " it again, or confirm it again directly with a payment method.",
            code="payment_intent_unexpected_state", extra={"payment_intent": pi})
    pm = pm_row.data
    # A single-use PaymentMethod stays usable by the intent that consumed it while that
    # intent waits for authentication or confirmation.
    if pm_row.internal.get("consumed") and internal.get("attempt_pm") != pm["id"]:
        raise InvalidRequestError(payment_methods.PM_REUSE, param="payment_method")
    if pm["customer"] is not None and pm["customer"] != pi["customer"]:
        # Stripe: "Payment methods attached to other Customers cannot be used with this
        # PaymentIntent." (PaymentIntent `customer` docs); exact error text UNVERIFIED.
        raise InvalidRequestError(
            f"The provided PaymentMethod {pm['id']} is attached to another Customer than the"
            " one on this PaymentIntent. Payment methods attached to other Customers cannot"
            " be used with this PaymentIntent.", param="payment_method")
    actions.check_return_url(p.get("return_url"))
    if p.get("receipt_email"):
        pi["receipt_email"] = p["receipt_email"]
    if p.get("setup_future_usage"):
        pi["setup_future_usage"] = p["setup_future_usage"]
    if p.get("shipping"):
        pi["shipping"] = shipping(p["shipping"])
    apply_card_options(pi, p)
    off_session = bool(p.get("off_session"))
    internal["off_session"] = off_session
    if pi["payment_method"] != pm["id"]:
        internal.pop("authenticated", None)
    pi["payment_method"] = pm["id"]
    if pi["customer"] is None and not pm_row.internal.get("consumed"):
        # Without a Customer a PaymentMethod is single-use.
        pm_row.internal["consumed"] = True
        internal["attempt_pm"] = pm["id"]
        ctx.store.update(acct.id, pm, pm_row.internal, f1=pm["customer"])
    outcome = cards.Outcome.from_internal(pm_row.internal["outcome"])
    actions.clear_action(row)
    if internal.get("authenticated") == pm["id"]:
        step = tds.CHALLENGE  # authenticated on the page; manual confirmation charges now
    else:
        step = tds.decide(outcome.three_ds, off_session=off_session,
                          set_up=bool(pm_row.internal.get("set_up")),
                          requested=pi["payment_method_options"]["card"]["request_three_d_secure"])
    if step == tds.CHALLENGE and internal.get("authenticated") != pm["id"]:
        if not p.get("error_on_requires_action"):
            actions.require_action(acct, row, return_url=p.get("return_url"),
                                   use_stripe_sdk=bool(p.get("use_stripe_sdk")))
            pi["last_payment_error"] = None
            ctx.store.update(acct.id, pi, internal, f1=pi["customer"])
            return
        outcome = cards.AUTHENTICATION_NOT_HANDLED
    elif step == tds.DECLINE_AUTHENTICATION_REQUIRED:
        outcome = cards.AUTHENTICATION_REQUIRED
    elif step == tds.DECLINE_LOOKUP:
        outcome = cards.LOOKUP_DECLINED
    error = charge(ctx, acct, row, pm_row, outcome, tds.details(step))
    if error is not None:
        raise error


def apply_card_options(pi: Json, p: Params) -> None:
    """``payment_method_options[card]``: ``request_three_d_secure``, ``capture_method=manual``
    and ``setup_future_usage`` (which overrides the intent's own for card payments; ``none``
    unsets it: docs.stripe.com/api/payment_intents/create)."""
    given = (p.get("payment_method_options") or {}).get("card") or {}
    card = pi["payment_method_options"]["card"]
    if given.get("request_three_d_secure"):
        card["request_three_d_secure"] = given["request_three_d_secure"]
    if given.get("capture_method"):
        card["capture_method"] = given["capture_method"]
    if given.get("setup_future_usage"):
        card["setup_future_usage"] = given["setup_future_usage"]


def _setup_future_usage(pi: Json) -> str | None:
    card_level = pi["payment_method_options"]["card"].get("setup_future_usage")
    if card_level is not None:
        return None if card_level == "none" else str(card_level)
    return pi.get("setup_future_usage")


def after_challenge(ctx: Context, acct: Account, row: Row, success: bool) -> str:
    """The customer pressed *Complete* or *Fail* on the test page; returns ``redirect_status``."""
    pi, internal = row.data, row.internal
    actions.clear_action(row)
    pm_row = load(ctx, acct, pi["payment_method"], "payment_method")
    if not success:
        pi["last_payment_error"] = {
            "code": tds.PI_AUTHENTICATION_FAILURE,
            "doc_url": DOC_URL + tds.PI_AUTHENTICATION_FAILURE.replace("_", "-"),
            "message": tds.PI_AUTHENTICATION_FAILURE_MESSAGE, "payment_method": pm_row.data,
            "type": "invalid_request_error"}
        # UNVERIFIED whether Stripe records a failed Charge for a failed challenge; none here.
        pi.update(status="requires_payment_method", payment_method=None)
        ctx.store.update(acct.id, pi, internal, f1=pi["customer"])
        return "failed"
    if pi["confirmation_method"] == "manual":
        internal["authenticated"] = pm_row.id
        pi["status"] = "requires_confirmation"
        ctx.store.update(acct.id, pi, internal, f1=pi["customer"])
        return "succeeded"
    outcome = cards.Outcome.from_internal(pm_row.internal["outcome"])
    error = charge(ctx, acct, row, pm_row, outcome, tds.details(tds.CHALLENGE))
    return "failed" if error is not None else "succeeded"


def charge(ctx: Context, acct: Account, row: Row, pm_row: Row, outcome: cards.Outcome,
           three_d_secure: Json | None) -> CardError | None:
    """Attempt the charge; a decline is recorded (failed charge, intent back to
    requires_payment_method) and returned as the 402 to raise."""
    pi, internal = row.data, row.internal
    pm = pm_row.data
    now = ctx.clock.now()
    internal.pop("authenticated", None)
    manual = pi["capture_method"] == "manual" or (
        pi["payment_method_options"]["card"].get("capture_method") == "manual")
    ch = objects.charge(pi, pm, now)
    ch["payment_method_details"]["card"]["three_d_secure"] = three_d_secure
    pi["latest_charge"] = ch["id"]
    pi["next_action"] = None
    if outcome.kind == "decline":
        code, decline_code, message = outcome.code, outcome.decline_code, outcome.message
        ch.update(status="failed", paid=False, captured=False, amount_captured=0,
                  failure_code=code, failure_message=message)
        ch["outcome"] = (
            {"network_status": "not_sent_to_network", "reason": "highest_risk_level",
             "risk_level": "highest", "risk_score": 95,
             "seller_message": "Stripe blocked this payment as too risky.", "type": "blocked"}
            if decline_code == "fraudulent" else
            {"network_status": "declined_by_network", "reason": decline_code or code,
             "risk_level": "normal", "risk_score": 20,
             "seller_message": "The bank did not return any further details with this"
                               " decline.", "type": "issuer_declined"})
        ctx.store.insert(acct.id, "charge", ch, f1=ch["customer"], f2=pi["id"])
        error: Json = {"type": "card_error", "code": code, "message": message,
                       "charge": ch["id"], "payment_method": pm,
                       "doc_url": DOC_URL + str(code).replace("_", "-")}
        if decline_code:
            error["decline_code"] = decline_code
        pi["last_payment_error"] = error
        pi["status"] = "requires_payment_method"
        # After a failed attempt the intent no longer carries the payment method.
        pi["payment_method"] = None
        ctx.store.update(acct.id, pi, internal, f1=pi["customer"])
        return CardError(str(message), code=code, decline_code=decline_code, stored=True,
                         extra={"charge": ch["id"], "payment_intent": pi, "payment_method": pm})
    ch["outcome"] = {"network_status": "approved_by_network", "reason": None,
                     "risk_level": "normal", "risk_score": 20,
                     "seller_message": "Payment complete.", "type": "authorized"}
    pi["last_payment_error"] = None
    if manual:
        capture_before = now + holds.window(
            pm["card"]["brand"], merchant_initiated=bool(internal.get("off_session")),
            currency=pi["currency"], settlement=ctx.policy.settlement.wire,
            default=ctx.settings.authorization_validity_seconds)
        ch["payment_method_details"]["card"]["capture_before"] = capture_before
        ch.update(captured=False, amount_captured=0)
        pi.update(status="requires_capture", amount_capturable=pi["amount"])
        internal["capture_before"] = capture_before
        ctx.queue.schedule(acct.id, "authorization_expiry", pi["id"], capture_before)
    else:
        ch.update(captured=True, amount_captured=pi["amount"])
        pi.update(status="succeeded", amount_received=pi["amount"], amount_capturable=0)
    after = pm_row.internal.get("after")
    ctx.store.insert(acct.id, "charge", ch, {"after": after} if after else None,
                     f1=ch["customer"], f2=pi["id"])
    if not manual:
        disputes.schedule_opening(ctx, acct.id, ch["id"], after)
    usage = _setup_future_usage(pi)
    if usage and pi["customer"]:
        _save_for_future_use(ctx, acct, pi, pm["id"], usage)
    ctx.store.update(acct.id, pi, internal, f1=pi["customer"])
    return None


def _save_for_future_use(ctx: Context, acct: Account, pi: Json, pm_id: str, usage: str) -> None:
    """``setup_future_usage``: the payment's PaymentMethod is attached to the customer, and with
    ``off_session`` it counts as set up, so later off-session payments need no authentication
    (docs.stripe.com/payments/save-during-payment). UNVERIFIED: ``on_session`` does not exempt
    off-session payments from authentication."""
    saved = payment_methods.attach(ctx, acct, pm_id, pi["customer"], param="payment_method")
    if usage == "off_session" and not saved.internal.get("set_up"):
        saved.internal["set_up"] = True
        ctx.store.update(acct.id, saved.data, saved.internal, f1=saved.data["customer"])
