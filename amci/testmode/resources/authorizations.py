"""Uncaptured authorizations: their expiry at ``capture_before`` (a timer, run by the clock or
the sweeper) and release.

"If the authorization expires before you capture the funds, the funds are released and the
payment status changes to canceled" (docs.stripe.com/payments/place-a-hold-on-a-payment-method).
The charge's ``payment_method_details.card.capture_before`` is "a future timestamp at which the
charge will be automatically refunded if uncaptured" (docs.stripe.com/api/charges/object).
"""

from __future__ import annotations

from amci.testmode.auth import Account
from amci.testmode.resources import objects
from amci.testmode.resources.context import Context
from amci.testmode.store import Row


def expire_authorization(ctx: Context, acct: Account, row: Row) -> None:
    """Cancel a manual-capture intent whose authorization has reached ``capture_before``."""
    pi = row.data
    if pi["status"] != "requires_capture":
        return
    expires = row.internal.get("capture_before")
    if expires is None or ctx.clock.now() < expires:
        return
    # A real expired intent shows cancellation_reason "automatic" (observed in a Stripe
    # test-mode object; the enum is docs.stripe.com/api/payment_intents/object).
    pi.update(status="canceled", cancellation_reason="automatic", canceled_at=expires,
              amount_capturable=0)
    ctx.store.update(acct.id, pi, row.internal, f1=pi["customer"])
    release_charge(ctx, acct, pi.get("latest_charge"), expired_at=expires)


def release_charge(ctx: Context, acct: Account, charge_id: str | None, *,
                   expired_at: int | None = None) -> None:
    """Release an uncaptured authorization: a full refund on the charge; on expiry also the
    Refund Stripe records, reason ``expired_uncaptured_charge``
    (docs.stripe.com/api/refunds/object)."""
    if not charge_id:
        return
    ch = ctx.store.get(acct.id, charge_id)
    if ch is None or ch.data["status"] != "succeeded" or ch.data["captured"]:
        return
    charge = ch.data
    charge.update(refunded=True, amount_refunded=charge["amount"])
    if expired_at is not None:
        ch.internal["expired"] = True  # charge.expired rather than charge.refunded
    ctx.store.update(acct.id, charge, ch.internal, f1=charge["customer"],
                     f2=charge["payment_intent"])
    if expired_at is None:
        return
    refund = objects.refund(charge, charge["amount"], created=expired_at,
                            reason="expired_uncaptured_charge", metadata={},
                            destination_type="reversal")
    # Only charge.expired (and payment_intent.canceled) are documented for an expiry; whether
    # Stripe also sends refund.created for this refund is UNVERIFIED: it is kept silent.
    ctx.store.insert(acct.id, "refund", refund, {"silent": True}, f1=charge["id"],
                     f2=charge["payment_intent"])
