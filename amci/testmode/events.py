"""Events: recorded from the writes of a transaction, in that transaction, with one outbox row
per webhook endpoint that selects them (docs.stripe.com/api/events/object).

``request`` is the API request that caused the change (``{"id": "req_…", "idempotency_key": …}``)
or ``{"id": null, "idempotency_key": null}`` when it was automatic (an expiry, a refund failing,
a dispute decided). Events are kept 30 days ("We only guarantee access to events … for 30 days").
"""

from __future__ import annotations

from dataclasses import dataclass

from amci.testmode import event_rules, faults, jsontext
from amci.testmode.event_rules import Emit
from amci.testmode.resources.context import Context, Json
from amci.testmode.wire import new_id

# stripe-python 16.1.0 pins this version; events are rendered in the account's default version.
API_VERSION = "2026-10-28.endive"
RETENTION_SECONDS = 30 * 86400


@dataclass(frozen=True, slots=True)
class Cause:
    request_id: str | None = None
    idempotency_key: str | None = None


AUTOMATIC = Cause()


def record(ctx: Context, cause: Cause) -> int:
    """Turn the open transaction's journal into Events (and their deliveries). Returns how many
    deliveries were queued."""
    journal, ctx.store.journal = ctx.store.journal, []
    entries: list[tuple[str, Emit, Json | None] | None] = []
    updated_at: dict[tuple[str, str, str], tuple[int, Json]] = {}
    for change in journal:
        if change.kind in event_rules.SILENT:
            continue
        before = jsontext.loads(change.before) if change.before is not None else None
        after = jsontext.loads(change.after)
        emits = event_rules.events_for(
            change.kind, before, after,
            jsontext.loads(change.before_internal) if change.before_internal else None,
            jsontext.loads(change.after_internal))
        for emit in emits:
            if not emit.updated:
                entries.append((change.account, emit, None))
                continue
            key = (change.account, emit.type, change.id)
            first_before: Json = before or {}
            if key in updated_at:
                index, first_before = updated_at[key]
                entries[index] = None  # coalesced: one *.updated per object per request
            previous = event_rules.previous_attributes(first_before, after)
            if previous:
                updated_at[key] = (len(entries), first_before)
                entries.append((change.account, emit, previous))
    queued = 0
    now = ctx.clock.now()
    endpoints: dict[str, list[Json]] = {}
    for entry in entries:
        if entry is None:
            continue
        account, emit, prev = entry
        if account not in endpoints:
            endpoints[account] = _endpoints(ctx, account)
        queued += _store_event(ctx, account, emit, prev, cause, now, endpoints[account])
    ctx.store.journal = []
    return queued


def _endpoints(ctx: Context, account: str) -> list[Json]:
    rows, _ = ctx.store.page(account, "webhook_endpoint", limit=100)
    return [r.data for r in rows if not r.internal.get("deleted")
            and r.data["status"] == "enabled"]


def _store_event(ctx: Context, account: str, emit: Emit, previous: Json | None, cause: Cause,
                 now: int, endpoints: list[Json]) -> int:
    data: Json = {"object": emit.object}
    if previous is not None:
        data["previous_attributes"] = previous
    targets = [ep for ep in endpoints if event_rules.matches(ep["enabled_events"], emit.type)]
    event: Json = {
        "id": new_id("evt"), "object": "event", "api_version": API_VERSION, "created": now,
        "data": data, "livemode": False, "pending_webhooks": len(targets),
        "request": {"id": cause.request_id, "idempotency_key": cause.idempotency_key},
        "type": emit.type,
    }
    ctx.store.insert(account, "event", event, f1=emit.type)
    queued = 0
    for ep in targets:
        due, copies, held = now, 1, False
        for fault in faults.take_delivery_faults(ctx, account, emit.type):
            if fault.kind == "duplicate_delivery":
                copies = 2
            elif fault.kind == "delayed_delivery":
                due = now + max(1, (fault.latency_ms or 60_000) // 1000)
            elif fault.kind == "out_of_order_delivery":
                held = True
        for _ in range(copies):
            ctx.queue.enqueue(account, event["id"], ep["id"], due, now, held=held)
            queued += 1
    return queued


def render(ctx: Context, account: str, event: Json) -> Json:
    """An event as the API shows it now: ``pending_webhooks`` counts undelivered endpoints."""
    out = dict(event)
    out["pending_webhooks"] = ctx.queue.pending_count(account, event["id"])
    return out
