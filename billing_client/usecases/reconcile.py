"""Reconciling: pending transactions are completed once AMCI is back, exactly once.

Called by the background loop (``billing_client.reconciler``) every
``reconcile.interval_seconds``; each pending transaction that is due is resent the way
``POST /api/transactions/{id}/retry`` would (``transactions.resend``), with exponential backoff
and jitter between attempts, and never after the resend window (``billing_client.backoff``).
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

from billing_client import backoff
from billing_client.amci_client import AmciError, AmciUnavailable
from billing_client.errors import BillingError, IdempotencyInUse
from billing_client.logs import log
from billing_client.storage import Row
from billing_client.usecases import payment_results, payment_systems, transactions
from billing_client.usecases.context import Context

logger = logging.getLogger("billing_client")
_jitter = random.SystemRandom().random


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    """What one reconciliation pass did, as counts (never ids, keys or card data).

    ``completed``/``failed``/``still_pending``: attempts sent to AMCI and their outcome (a
    refusal or decline is final and counted as failed; AMCI still unreachable leaves the
    transaction pending). ``needs_card``: pending one-off-card payments (or saved-card payments
    whose card was deleted) that only the customer can retry, left alone. ``busy``: being
    attempted by a request at that moment, left to it. ``errors``: could not be attempted at
    all (logged one by one; tried again after the longest backoff). ``unknown``: past the
    resend window, given up on (never sent again; an administrator has to look).
    """

    completed: int = 0
    still_pending: int = 0
    failed: int = 0
    needs_card: int = 0
    busy: int = 0
    errors: int = 0
    unknown: int = 0

    @property
    def attempted(self) -> int:
        return self.completed + self.still_pending + self.failed


# How long a pass keeps the rows it took from other processes' passes. A process that dies
# mid-pass leaves them taken this long; a pass normally lets go of each as soon as it is tried.
LEASE_SECONDS = 300

# ReconcileReport field → billing_client_reconciled_total{outcome} (bounded label values).
RECONCILE_OUTCOMES = ("completed", "still_pending", "failed", "needs_card", "unknown")


async def reconcile_pending(ctx: Context, limit: int = 50) -> ReconcileReport:
    """Retry up to ``limit`` due pending transactions, the longest-due first, each exactly as
    ``POST /api/transactions/{id}/retry`` would: under its own stored Idempotency-Key, so
    AMCI (and Stripe behind it) replays a request that did go through instead of charging
    again, and alone (one in flight per transaction).

    First, up to ``limit`` pending transactions past the resend window become ``unknown``
    (those only the customer could retry included: they would otherwise stay pending forever).

    Pending one-off-card sales and authorizations are never attempted: their card data was
    not kept, so only the customer can retry them (counted as ``needs_card``). Captures,
    refunds, voids and saved-card payments (token or full_card_except_cvv) are.
    """
    counts = dict.fromkeys(("completed", "still_pending", "failed", "busy", "errors", "unknown"), 0)
    # created <= now - window, i.e. backoff.expired(now, created).
    expired = await ctx.db.pending_created_before(ctx.now() - backoff.RESEND_WINDOW_S + 1, limit)
    for row in expired:
        try:
            async with ctx.exclusive(row["id"]):
                fresh = await transactions.load(ctx, row["id"])
                if fresh["status"] == "pending":
                    await transactions.give_up(ctx, fresh)
                    counts["unknown"] += 1
        except IdempotencyInUse:
            counts["busy"] += 1  # its request is sending it; send() refuses it if it's late
    # Taken for this pass (other billing-client processes' passes skip them), one at a time,
    # each let go once tried.
    for row in await ctx.db.take_due(ctx.now(), limit, LEASE_SECONDS):
        try:
            counts[await _reconcile_one(ctx, row)] += 1
        finally:
            await ctx.db.release(row["id"])
    for row in await ctx.db.fetch_all(
        "SELECT * FROM transactions WHERE status IN ('unknown', 'processing') "
        "AND operation IN ('sale', 'authorization') ORDER BY updated LIMIT ?", (limit,)
    ):
        if await settle_by_reference(ctx, row):
            counts["completed"] += 1
    report = ReconcileReport(needs_card=await ctx.db.count_pending_needing_card(), **counts)
    for outcome in RECONCILE_OUTCOMES:
        if n := getattr(report, outcome):
            ctx.metrics.reconciled.labels(outcome=outcome).inc(n)
    return report


async def settle_by_reference(ctx: Context, row: Row) -> bool:
    """A payment whose outcome the billing client does not know (``unknown`` after the resend
    window, ``processing`` after AMCI's 202) settled by looking it up: AMCI finds the payment
    it created with this transaction's reference (its id) and reads it from Stripe. Nothing is
    sent again; a payment AMCI never created stays as it is (an administrator looks). Returns
    whether it was settled."""
    try:
        async with ctx.exclusive(row["id"]):
            fresh = await transactions.load(ctx, row["id"])
            if fresh["status"] not in ("unknown", "processing"):
                return False
            ps_row = await payment_systems.load(ctx, fresh["payment_system_id"])
            creds = payment_systems.credentials(ctx, ps_row)
            try:
                result = await ctx.amci.find_payment(creds, fresh["id"])
            except (AmciError, AmciUnavailable):
                # Not found or not reachable now: looked at again on a later pass.
                await ctx.db.update("transactions", "id", fresh["id"], {"updated": ctx.now()})
                return False
            fields = payment_results.fields(result, fresh["currency"])
            if fields["status"] in ("processing", "pending"):
                await ctx.db.update("transactions", "id", fresh["id"], {"updated": ctx.now()})
                return False
            fields |= {
                "http_status": transactions.success_status(fresh["operation"])
                if fields["status"] in ("succeeded", "authorized", "requires_action") else 402,
                "next_attempt_at": None,
                "updated": ctx.now(),
            }
            fields.setdefault("message", None)
            await ctx.db.update("transactions", "id", fresh["id"], fields)
            log(logger, "transaction_settled_by_reference", transaction=fresh["id"],
                status=fields["status"])
            return True
    except IdempotencyInUse:
        return False


async def _reconcile_one(ctx: Context, row: Row) -> str:
    """One pending transaction → the ``ReconcileReport`` field it counts under."""
    op = row["operation"]  # never a one-off-card payment: the storage query leaves them out
    try:
        done, attempted = await transactions.resend(ctx, row, None, transactions.success_status(op))
    except IdempotencyInUse:
        return "busy"  # a request is sending it right now and will record the outcome
    except Exception as exc:
        # One transaction that cannot be sent (its saved card deleted meanwhile, its payment
        # system gone, …) must not hold up the others; it stays pending and is logged.
        log(
            logger,
            "reconcile_transaction_error",
            level=logging.ERROR,
            transaction=row["id"],
            operation=op,
            error=exc.code if isinstance(exc, BillingError) else type(exc).__name__,
            exc_info=not isinstance(exc, BillingError),
        )
        # It was not sent, so its backoff did not move: push it back by the longest delay, or
        # the same rows would head the queue on every pass and starve the rest.
        await ctx.db.update(
            "transactions",
            "id",
            row["id"],
            {"next_attempt_at": backoff.after_error(ctx.now(), int(row["created"]), _jitter())},
        )
        return "errors"
    if not attempted:
        return "busy"  # finished by a request between the query and the lock
    if done["status"] == "pending":
        return "still_pending"
    if done["status"] in ("failed", "refused"):
        return "failed"
    if done["status"] == "unknown":
        return "unknown"  # ran out of time between the query and the send: not sent
    return "completed"
