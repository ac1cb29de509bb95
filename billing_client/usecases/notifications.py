"""AMCI's notifications in (``POST /notifications/amci``): what Stripe said later about a payment
or a card, applied to the ledger.

Authenticated by ``AMCI-Signature`` alone (``billing_client.signatures``). Applied at most once
by notification id, and per payment only in ``sequence`` order: each notification carries the
payment's whole state as AMCI fetched it (payment, refunds, disputes), so one with a sequence at
or below the last applied is older news and is recorded but changes nothing. Deliveries are at
least once: a duplicate, a late one or one out of order leaves the ledger as it is.

What changes:
- a payment waiting on its customer (``requires_action``) or whose outcome was not known
  (``processing``, ``pending``, ``unknown``) takes AMCI's status: succeeded, authorized, failed
  (with AMCI's reason), expired;
- an authorization not captured in time → ``expired``; one captured elsewhere → ``captured``;
- a refund that Stripe failed after accepting it → the refund transaction ``failed`` and its
  amount given back to the payment;
- a dispute → the payment's ``dispute`` (status, reason, amount), updated until it closes;
- a card detached at Stripe → the card ``removed``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from billing_client import money
from billing_client.contract import AmciNotification, parse
from billing_client.errors import InvalidRequest
from billing_client.logs import log
from billing_client.storage import Row
from billing_client.usecases import payment_results, transactions
from billing_client.usecases.context import Context
from httpkit import signature as signatures

logger = logging.getLogger("billing_client")

REFUND_FAILED_MESSAGE = "The refund failed ({reason}); the amount was not returned to the card."
# A payment in one of these statuses takes AMCI's word for its outcome.
_OPEN = ("requires_action", "processing", "pending", "unknown")


async def receive(ctx: Context, body: bytes, header: str | None,
                  secrets: Sequence[str]) -> str:
    """Verify, then apply once. Returns what happened: applied, duplicate, stale, unmatched."""
    if not signatures.verify(header, body, secrets, ctx.clock()):
        ctx.metrics.notifications.labels(outcome="signature_invalid").inc()
        raise InvalidRequest("The AMCI-Signature header does not verify.",
                             code="signature_invalid", param="AMCI-Signature")
    try:
        decoded = json.loads(body)
    except ValueError:
        raise InvalidRequest("The body must be JSON.", code="parameter_invalid") from None
    note = parse(AmciNotification, decoded)
    outcome = await _apply(ctx, note)
    ctx.metrics.notifications.labels(outcome=outcome).inc()
    log(logger, "amci_notification", notification=note.id, notification_type=note.type,
        sequence=note.sequence, outcome=outcome)
    return outcome


async def _apply(ctx: Context, note: AmciNotification) -> str:
    seen = await ctx.db.fetch_one("SELECT id FROM amci_notifications WHERE id = ?", (note.id,))
    if seen is not None:
        return "duplicate"
    outcome = "unmatched"
    if note.payment is not None:
        row = await ctx.db.fetch_one(
            "SELECT id FROM transactions WHERE amci_payment = ? "
            "AND operation IN ('sale', 'authorization') ORDER BY created LIMIT 1",
            (note.payment,))
        if row is not None:
            # One change at a time per transaction: a request or a retry holding it makes
            # this a 409, and AMCI delivers again later.
            async with ctx.exclusive(row["id"]):
                fresh = await transactions.load(ctx, row["id"])
                if note.sequence <= int(fresh["amci_sequence"] or 0):
                    outcome = "stale"
                else:
                    await _apply_payment(ctx, fresh, note)
                    outcome = "applied"
    elif note.card is not None and note.type == "card.detached":
        changed = await ctx.db.execute(
            "UPDATE cards SET status = 'removed', off_session_ready = 0 "
            "WHERE token = ? AND deleted = 0", (note.card,))
        outcome = "applied" if changed else "unmatched"
    if outcome == "unmatched":
        # Not recorded: a redelivery once the payment is known here (e.g. a pending payment
        # whose resend learns its id) can still apply it.
        return outcome
    await ctx.db.execute(
        "INSERT INTO amci_notifications (id, type, payment, sequence, applied, received) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
        (note.id, note.type, note.payment, note.sequence, int(outcome == "applied"), ctx.now()))
    return outcome


def _list(data: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    value = data.get(name)
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


async def _apply_payment(ctx: Context, row: Row, note: AmciNotification) -> None:
    data = note.data
    cur = row["currency"]
    fields: Row = {"amci_sequence": note.sequence, "updated": ctx.now()}
    status = row["status"]
    payment = data.get("payment")
    if isinstance(payment, Mapping):
        got = payment_results.fields(dict(payment), cur)
        new = got["status"]
        if status in _OPEN and new not in _OPEN:
            fields |= got
            fields["http_status"] = (transactions.success_status(row["operation"])
                                     if new in ("succeeded", "authorized")
                                     else got.get("http_status") or 402)
            fields.setdefault("message", None)
            fields["next_attempt_at"] = None
            status = new
        elif status == "authorized" and new in ("expired", "canceled"):
            fields |= {"status": new, "amci_status": got["amci_status"],
                       "message": got.get("message")}
            status = new
        elif status == "authorized" and new == "succeeded":
            # Captured (through another request, or Stripe's Dashboard).
            fields |= {"status": "captured", "amci_status": got["amci_status"],
                       "amount_captured_minor": got["amount_captured_minor"]}
            status = "captured"
    refunded = int(row["amount_refunded_minor"])
    for refund in _list(data, "refunds"):
        if refund.get("status") not in ("failed", "canceled"):
            continue
        child = await ctx.db.fetch_one(
            "SELECT * FROM transactions WHERE amci_refund = ? AND operation = 'refund'",
            (refund.get("id"),))
        if child is None or child["status"] == "failed":
            continue
        reason = str(refund.get("failure_reason") or "unknown reason")
        await ctx.db.update("transactions", "id", child["id"], {
            "status": "failed", "amci_status": refund.get("status"),
            "error_type": "api_error", "error_code": "refund_failed",
            "message": REFUND_FAILED_MESSAGE.format(reason=reason), "updated": ctx.now()})
        refunded = max(0, refunded - int(child["amount_minor"] or 0))
        ctx.metrics.transactions.labels(operation="refund", outcome="failed").inc()
    if refunded != int(row["amount_refunded_minor"]):
        fields["amount_refunded_minor"] = refunded
        if status in ("refunded", "partially_refunded"):
            captured = int(fields.get("amount_captured_minor") or row["amount_captured_minor"])
            fields["status"] = (
                "refunded" if refunded and refunded >= captured
                else "partially_refunded" if refunded
                else "captured" if row["operation"] == "authorization" else "succeeded")
    disputes = sorted(_list(data, "disputes"), key=lambda d: int(d.get("created") or 0))
    if disputes:
        latest = disputes[-1]
        amount: int | None
        try:
            amount = money.parse_amount(latest.get("amount"), cur)
        except money.MoneyError:
            amount = None
        fields |= {"dispute_id": latest.get("id"), "dispute_status": latest.get("status"),
                   "dispute_reason": latest.get("reason"), "dispute_amount_minor": amount}
    await ctx.db.update("transactions", "id", row["id"], fields)
