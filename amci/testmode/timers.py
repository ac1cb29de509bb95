"""Running due timers: each in its own transaction, with the events its change produces
(``request`` null: the change was automatic). Called before every API request (so no read sees
an overdue state), by ``/_testmode/clock/advance`` before it answers, and by the sweeper in wall
time."""

from __future__ import annotations

import logging
from collections.abc import Callable

from amci.testmode import events
from amci.testmode.auth import Account
from amci.testmode.queue import Timer
from amci.testmode.resources import disputes, refunds
from amci.testmode.resources.authorizations import expire_authorization
from amci.testmode.resources.context import Context

log = logging.getLogger("amci.testmode.timers")


def _authorization_expiry(ctx: Context, timer: Timer) -> None:
    row = ctx.store.get(timer.account, timer.ref)
    if row is not None and row.kind == "payment_intent":
        expire_authorization(ctx, Account(timer.account), row)


HANDLERS: dict[str, Callable[[Context, Timer], None]] = {
    "authorization_expiry": _authorization_expiry,
    "refund_fail": lambda ctx, t: refunds.fail(ctx, t.account, t.ref),
    "dispute_open": lambda ctx, t: disputes.open_dispute(ctx, t.account, t.ref,
                                                         str(t.payload["spec"])),
    "dispute_decide": lambda ctx, t: disputes.decide(ctx, t.account, t.ref),
}


def adopt_unscheduled_authorizations(ctx: Context) -> int:
    """Stores written before expiry was a timer hold uncaptured authorizations with no timer:
    give each one (at start-up), so none stays capturable past ``capture_before``."""
    adopted = 0
    ctx.store.begin()
    for account, row in ctx.store.all_with_status("payment_intent", "requires_capture"):
        due = row.internal.get("capture_before")
        if due is None:
            authorized_at = row.internal.get("authorized_at")
            if authorized_at is None:
                continue
            due = authorized_at + ctx.settings.authorization_validity_seconds
            row.internal["capture_before"] = due
            ctx.store.update(account, row.data, row.internal, f1=row.data["customer"])
        if not any(t.kind == "authorization_expiry" for t in ctx.queue.timers_for(account, row.id)):
            ctx.queue.schedule(account, "authorization_expiry", row.id, int(due))
            adopted += 1
    ctx.store.journal = []  # bookkeeping, not a change of state: no events
    ctx.store.commit()
    return adopted


def run_due(ctx: Context) -> tuple[int, int]:
    """Run every timer due by the clock's now, oldest first. Returns (timers run, deliveries
    queued by their events)."""
    ran = queued = 0
    while True:
        timer = ctx.queue.next_due(ctx.clock.now())
        if timer is None:
            return ran, queued
        ctx.store.begin()
        try:
            ctx.queue.remove(timer.id)
            HANDLERS[timer.kind](ctx, timer)
            queued += events.record(ctx, events.AUTOMATIC)
        except Exception:
            # A timer that cannot run is dropped (logged) rather than retried forever.
            ctx.store.rollback()
            log.exception("test-mode timer %s on %s failed; dropped", timer.kind, timer.ref)
            ctx.store.begin()
            ctx.queue.remove(timer.id)
        ctx.store.commit()
        ran += 1
