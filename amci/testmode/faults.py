"""Faults on demand: ``/_testmode/faults`` makes this account's next matching requests (or
webhook deliveries) fail the way Stripe's can. A fault is a ``test_helpers.fault`` object of the
account (not a Stripe object; docs/testmode.md describes it).

Request kinds apply after authentication and before the idempotency layer replays anything:
``api_error`` (500 before any change), ``api_error_after_commit`` (the change and its events are
committed, then 500), ``rate_limit`` and ``lock_timeout`` (429s), ``latency``, ``disconnect``
(the connection is closed without an answer), ``timeout`` (no answer for ``latency_ms``, then
closed). Delivery kinds match the event ``type`` with ``path`` and apply when an event is queued
for an endpoint: ``duplicate_delivery``, ``delayed_delivery`` (by ``latency_ms`` of clock time),
``out_of_order_delivery`` (held until a later delivery to the endpoint has been attempted).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from amci.testmode.auth import Account
from amci.testmode.errors import InvalidRequestError, ResourceMissing
from amci.testmode.resources.context import Context, Json, Params
from amci.testmode.wire import Enum, Int, Str, check, new_id, require

KIND = "test_helpers.fault"
REQUEST_KINDS = ("api_error", "api_error_after_commit", "rate_limit", "lock_timeout", "latency",
                 "disconnect", "timeout")
DELIVERY_KINDS = ("duplicate_delivery", "delayed_delivery", "out_of_order_delivery")
METHODS = ("GET", "POST", "DELETE")
MAX_FAULTS = 100
CREATE = {"kind": Enum(REQUEST_KINDS + DELIVERY_KINDS), "method": Enum(METHODS),
          "path": Str(500), "count": Int(), "latency_ms": Int()}
LIST = {"limit": Int()}


@dataclass(frozen=True, slots=True)
class Fault:
    id: str
    kind: str
    latency_ms: int | None


def create(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    p = check(raw, CREATE)
    kind = require(p, "kind")
    count = p.get("count")
    if count is not None and not 1 <= count <= 1_000_000:
        raise InvalidRequestError("count must be between 1 and 1000000.", param="count")
    latency = p.get("latency_ms")
    if latency is not None and not 0 <= latency <= 600_000:
        raise InvalidRequestError("latency_ms must be between 0 and 600000.", param="latency_ms")
    if kind in ("latency", "timeout", "delayed_delivery") and latency is None:
        raise InvalidRequestError(f"Missing required param: latency_ms (for kind {kind}).",
                                  code="parameter_missing", param="latency_ms")
    path = p.get("path") or "*"
    if kind not in DELIVERY_KINDS and not path.startswith(("/", "*")):
        raise InvalidRequestError("path must be a glob over request paths, e.g."
                                  " /v1/payment_intents*.", param="path")
    if len(ctx.store.page(acct.id, KIND, limit=MAX_FAULTS)[0]) >= MAX_FAULTS:
        raise InvalidRequestError(f"At most {MAX_FAULTS} faults per account.")
    fault: Json = {"id": new_id("fault"), "object": KIND, "kind": kind,
                   "method": p.get("method"), "path": path, "count": count or 1,
                   "remaining": count or 1, "latency_ms": latency,
                   "created": ctx.clock.now(), "livemode": False}
    ctx.store.insert(acct.id, KIND, fault)
    return fault


def list_(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    p = check(raw, LIST)
    rows, more = ctx.store.page(acct.id, KIND, limit=p.get("limit") or 100)
    return {"object": "list", "data": [r.data for r in rows], "has_more": more,
            "url": "/_testmode/faults"}


def delete(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    check(raw, {})
    row = ctx.store.get(acct.id, ids["id"])
    if row is None or row.kind != KIND:
        raise ResourceMissing("test_helpers.fault", ids["id"])
    ctx.store.delete(acct.id, row.id)
    return {"id": row.id, "object": KIND, "deleted": True}


def _take(ctx: Context, account: str, kinds: tuple[str, ...], method: str | None,
          subject: str, *, first_only: bool = False) -> list[Fault]:
    rows, _ = ctx.store.page(account, KIND, limit=MAX_FAULTS)
    taken = []
    for row in reversed(rows):  # oldest first
        f = row.data
        if f["kind"] not in kinds or (method and f["method"] and f["method"] != method):
            continue
        if not fnmatch.fnmatchcase(subject, f["path"]):
            continue
        taken.append(Fault(f["id"], f["kind"], f["latency_ms"]))
        f["remaining"] -= 1
        if f["remaining"] <= 0:
            ctx.store.delete(account, f["id"])
        else:
            ctx.store.update(account, f)
        if first_only:
            break
    return taken


def take_request_fault(ctx: Context, account: str, method: str, path: str) -> Fault | None:
    """The first (oldest) request fault matching this request, used up in its own
    transaction: one fault per request."""
    if not has_faults(ctx, account):  # the common case: no transaction at all
        return None
    ctx.store.begin()
    try:
        taken = _take(ctx, account, REQUEST_KINDS, method, path, first_only=True)
    except BaseException:
        ctx.store.rollback()
        raise
    ctx.store.commit()
    return taken[0] if taken else None


def take_delivery_faults(ctx: Context, account: str, event_type: str) -> list[Fault]:
    """Delivery faults matching an event type, used up (inside the caller's transaction)."""
    return _take(ctx, account, DELIVERY_KINDS, None, event_type)


def has_faults(ctx: Context, account: str) -> bool:
    return bool(ctx.store.page(account, KIND, limit=1)[0])
