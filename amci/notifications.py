"""What a Stripe event means for the billing system, and how AMCI signs what it tells it. Pure:
data and functions, no I/O.

Stripe sends events at least once, in no guaranteed order, and "in some cases, two separate Event
objects are generated and sent" for one change (docs.stripe.com/webhooks, "Handle duplicate
events"). So an event becomes at most one notification: ``notice_of`` names the notification's
type, the object it is about, and a *dedupe key* — (object, type, state) — under which AMCI
records it once; a second event for the same change maps to the same key and is dropped.

AMCI's signature (``AMCI-Signature: t=…,v1=…``) is Stripe's scheme applied to AMCI's own
notifications (docs.stripe.com/webhooks#verify-manually): HMAC-SHA256 keyed by the secret over
``"{t}.{body}"``, lower-case hex, one ``v1`` per active secret so that a receiver holding either
secret during a rotation verifies it; a receiver rejects a ``t`` older than 300 s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# AMCI-Signature, written once for both services.
from httpkit.signature import TOLERANCE_SECONDS as TOLERANCE_SECONDS
from httpkit.signature import sign as sign
from httpkit.signature import verify as verify

HEADER = "AMCI-Signature"

# The notification types AMCI sends (docs/amci-api.md, "Notifications").
TYPES = (
    "payment.succeeded",
    "payment.authorized",
    "payment.failed",
    "payment.canceled",
    "authorization.expired",
    "capture.succeeded",
    "refund.succeeded",
    "refund.pending",
    "refund.failed",
    "dispute.opened",
    "dispute.updated",
    "dispute.closed",
    "card.detached",
)


@dataclass(frozen=True, slots=True)
class Notice:
    """One event's meaning: notification ``type``; ``subject``: the payment (``pi_…``) or, for
    a card, its token (``pm_…``) — sequence numbers count per subject; ``dedupe``: the
    (object, type, state) key."""

    type: str
    subject: str
    payment: str | None
    card: str | None
    dedupe: str


def _id(value: Any) -> str | None:
    if isinstance(value, Mapping):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _refund_type(status: str) -> str | None:
    # Refund statuses (docs.stripe.com/api/refunds/object): pending, requires_action,
    # succeeded, failed, canceled.
    return {"succeeded": "refund.succeeded", "pending": "refund.pending",
            "failed": "refund.failed", "canceled": "refund.failed"}.get(status)


def notice_of(event: Mapping[str, Any]) -> Notice | None:
    """The notification an event calls for, or None (an event the billing system needn't see:
    ``payment_intent.created``, ``charge.succeeded`` of a payment AMCI answered already, …)."""
    etype = str(event.get("type") or "")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, Mapping) else None
    if not isinstance(obj, Mapping):
        return None
    oid = _id(obj)
    status = str(obj.get("status") or "")
    if oid is None:
        return None

    def payment(ntype: str, pi: str | None, obj_id: str, state: str) -> Notice | None:
        if pi is None:
            return None
        return Notice(ntype, pi, pi, None, f"{obj_id}|{ntype}|{state}")

    if etype.startswith("payment_intent."):
        kind = etype.removeprefix("payment_intent.")
        if kind == "succeeded":
            return payment("payment.succeeded", oid, oid, status)
        if kind == "amount_capturable_updated":
            return payment("payment.authorized", oid, oid, status)
        if kind == "payment_failed":
            # One failed attempt after another is a new state each time: the attempt's charge.
            err = obj.get("last_payment_error")
            attempt = _id(err.get("charge")) if isinstance(err, Mapping) else None
            return payment("payment.failed", oid, oid, attempt or status)
        if kind == "canceled":
            if obj.get("cancellation_reason") == "automatic":
                # An uncaptured authorization past its capture_before (docs.stripe.com/
                # payments/place-a-hold-on-a-payment-method): the same change as charge.expired.
                return payment("authorization.expired", oid, oid, "expired")
            return payment("payment.canceled", oid, oid, status)
        return None
    if etype == "charge.expired":
        return payment("authorization.expired", _id(obj.get("payment_intent")),
                       _id(obj.get("payment_intent")) or oid, "expired")
    if etype == "charge.captured":
        return payment("capture.succeeded", _id(obj.get("payment_intent")), oid, "captured")
    if etype in ("refund.created", "refund.updated", "refund.failed", "charge.refund.updated"):
        # charge.refund.updated carries a Refund, not a Charge (docs.stripe.com/api/events/types).
        ntype = _refund_type(status)
        return payment(ntype, _id(obj.get("payment_intent")), oid, status) if ntype else None
    if etype.startswith("charge.dispute."):
        kind = etype.removeprefix("charge.dispute.")
        ntype = {"created": "dispute.opened", "updated": "dispute.updated",
                 "closed": "dispute.closed"}.get(kind)
        return payment(ntype, _id(obj.get("payment_intent")), oid, status) if ntype else None
    if etype == "payment_method.detached":
        return Notice("card.detached", oid, None, oid, f"{oid}|card.detached|detached")
    return None
