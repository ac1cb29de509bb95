"""Uncaptured authorizations: their lazy expiry and release.

"If the authorization expires before you capture the funds, the funds are released and the
payment status changes to canceled" (docs.stripe.com/payments/place-a-hold-on-a-payment-method).
Expiry is evaluated whenever an intent is loaded, against the advanceable clock.
"""

from __future__ import annotations

from amci.testmode.auth import Account
from amci.testmode.resources.context import Context
from amci.testmode.store import Row


def expire_authorization(ctx: Context, acct: Account, row: Row) -> None:
    """Cancel a manual-capture intent whose authorization has expired."""
    pi = row.data
    authorized_at = row.internal.get("authorized_at")
    if pi["status"] != "requires_capture" or authorized_at is None:
        return
    expires = authorized_at + ctx.settings.authorization_validity_seconds
    if ctx.clock.now() < expires:
        return
    # UNVERIFIED which cancellation_reason Stripe sets on expiry (`automatic` or `expired`);
    # `automatic` is the Stripe-generated reason for cancellations it makes
    # (docs.stripe.com/api/payment_intents/object#payment_intent_object-cancellation_reason).
    pi.update(status="canceled", cancellation_reason="automatic", canceled_at=expires,
              amount_capturable=0)
    ctx.store.update(acct.id, pi, row.internal, f1=pi["customer"])
    release_charge(ctx, acct, pi.get("latest_charge"))


def release_charge(ctx: Context, acct: Account, charge_id: str | None) -> None:
    if not charge_id:
        return
    ch = ctx.store.get(acct.id, charge_id)
    if ch is None or ch.data["status"] != "succeeded" or ch.data["captured"]:
        return
    # Releasing an uncaptured authorization shows as a full refund on the charge.
    ch.data.update(refunded=True, amount_refunded=ch.data["amount"])
    ctx.store.update(acct.id, ch.data, ch.internal, f1=ch.data["customer"],
                     f2=ch.data["payment_intent"])
