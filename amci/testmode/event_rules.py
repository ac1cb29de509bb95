"""Which Events a change to an object produces: Stripe's event types as rules over an object's
state before and after one write (docs.stripe.com/api/events/types, "Occurs when…"). Pure.

Every write of a transaction is journaled by the store; ``events_for`` maps one write to its
event types. ``*.updated`` events carry ``previous_attributes`` ("only included in events of type
``*.updated``"; a changed array is sent whole) and are coalesced to one per object per request.
The expected sequence per flow is docs/testmode.md's table (tested against
tests/testmode/data/event-sequences.json).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Json = dict[str, Any]

# PaymentIntent status → the event of entering it (api/events/types: payment_intent.*).
PI_ENTERED = {"requires_action": "payment_intent.requires_action",
              "requires_capture": "payment_intent.amount_capturable_updated",
              "processing": "payment_intent.processing",
              "succeeded": "payment_intent.succeeded",
              "canceled": "payment_intent.canceled"}
SI_ENTERED = {"requires_action": "setup_intent.requires_action",
              "succeeded": "setup_intent.succeeded",
              "canceled": "setup_intent.canceled"}
CHARGE_CREATED = {"succeeded": "charge.succeeded", "failed": "charge.failed",
                  "pending": "charge.pending"}
DISPUTE_CLOSED = frozenset({"won", "lost", "warning_closed"})
# Fields whose change makes a charge.updated ("description, metadata … change").
CHARGE_UPDATABLE = ("description", "metadata", "shipping", "receipt_email", "fraud_details")
# Kinds that have no events of their own.
SILENT = frozenset({"setup_attempt", "event", "webhook_endpoint", "test_helpers.fault"})


@dataclass(frozen=True, slots=True)
class Emit:
    type: str
    object: Json
    # Set for ``*.updated`` events: the key ``(kind, id)`` they coalesce on.
    updated: bool = False


def previous_attributes(before: Json, after: Json) -> Json:
    """Old values of the top-level attributes that changed (nested objects compared whole,
    recursing into hashes so only their changed keys are listed, as Stripe does)."""
    out: Json = {}
    for key in before.keys() | after.keys():
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            out[key] = previous_attributes(old, new)
        else:
            out[key] = old
    return out


def events_for(kind: str, before: Json | None, after: Json,
               before_internal: Json | None, after_internal: Json) -> list[Emit]:
    """The events of one write of an object of ``kind`` (``before`` None: it was created)."""
    if kind in SILENT:
        return []
    rule = _RULES.get(kind)
    return [] if rule is None else rule(before, after, before_internal or {}, after_internal)


def _customer(before: Json | None, after: Json, bi: Json, ai: Json) -> list[Emit]:
    if before is None:
        return [Emit("customer.created", after)]
    if ai.get("deleted") and not bi.get("deleted"):
        # customer.deleted carries the whole customer as it was, not the deletion stub.
        return [Emit("customer.deleted", after)]
    return [Emit("customer.updated", after, True)] if before != after else []


def _payment_method(before: Json | None, after: Json, bi: Json, ai: Json) -> list[Emit]:
    if before is None:
        return []
    if before.get("customer") is None and after.get("customer") is not None:
        return [Emit("payment_method.attached", after)]
    if before.get("customer") is not None and after.get("customer") is None:
        return [Emit("payment_method.detached", after)]
    return [Emit("payment_method.updated", after, True)] if before != after else []


def _payment_intent(before: Json | None, after: Json, bi: Json, ai: Json) -> list[Emit]:
    if before is None:
        return [Emit("payment_intent.created", after)]
    status = after["status"]
    if status == before["status"]:
        return []
    if status == "requires_payment_method" and after.get("last_payment_error") and (
            after.get("last_payment_error") != before.get("last_payment_error")):
        return [Emit("payment_intent.payment_failed", after)]
    name = PI_ENTERED.get(status)
    return [Emit(name, after)] if name else []


def _setup_intent(before: Json | None, after: Json, bi: Json, ai: Json) -> list[Emit]:
    if before is None:
        return [Emit("setup_intent.created", after)]
    status = after["status"]
    if status == before["status"]:
        return []
    if status == "requires_payment_method" and after.get("last_setup_error") and (
            after.get("last_setup_error") != before.get("last_setup_error")):
        return [Emit("setup_intent.setup_failed", after)]
    name = SI_ENTERED.get(status)
    return [Emit(name, after)] if name else []


def _charge(before: Json | None, after: Json, bi: Json, ai: Json) -> list[Emit]:
    if before is None:
        name = CHARGE_CREATED.get(after["status"])
        return [Emit(name, after)] if name else []
    out: list[Emit] = []
    if after["captured"] and not before["captured"]:
        out.append(Emit("charge.captured", after))
    if ai.get("expired") and not bi.get("expired"):
        out.append(Emit("charge.expired", after))
    elif after["amount_refunded"] > before["amount_refunded"]:
        out.append(Emit("charge.refunded", after))
    if any(before.get(f) != after.get(f) for f in CHARGE_UPDATABLE):
        out.append(Emit("charge.updated", after, True))
    return out


def _refund(before: Json | None, after: Json, bi: Json, ai: Json) -> list[Emit]:
    if ai.get("silent"):
        return []
    if before is None:
        return [Emit("refund.created", after)]
    if before == after:
        return []
    out = [Emit("refund.updated", after, True)]
    if after["status"] == "failed" and before["status"] != "failed":
        # charge.refund.updated (deprecated) carries the Refund, not the Charge.
        out += [Emit("refund.failed", after), Emit("charge.refund.updated", after)]
    return out


def _dispute(before: Json | None, after: Json, bi: Json, ai: Json) -> list[Emit]:
    out: list[Emit] = []
    moved = after["balance_transactions"][len(before["balance_transactions"]) if before else 0:]
    if before is None:
        out.append(Emit("charge.dispute.created", after))
    elif after["status"] in DISPUTE_CLOSED and before["status"] not in DISPUTE_CLOSED:
        out.append(Emit("charge.dispute.closed", after))
    elif before != after:
        out.append(Emit("charge.dispute.updated", after, True))
    for txn in moved:
        out.append(Emit("charge.dispute.funds_withdrawn" if txn["amount"] < 0
                        else "charge.dispute.funds_reinstated", after))
    return out


_RULES = {"customer": _customer, "payment_method": _payment_method,
          "payment_intent": _payment_intent, "setup_intent": _setup_intent,
          "charge": _charge, "refund": _refund, "dispute": _dispute}


def matches(enabled: list[str], event_type: str) -> bool:
    """Whether an endpoint's ``enabled_events`` select an event (``*`` = all)."""
    return "*" in enabled or event_type in enabled
