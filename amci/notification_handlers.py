"""The billing system's side of notifications: recent ones, a resend, and a payment found by the
billing system's own reference (how it settles an outcome it never heard)."""

from __future__ import annotations

from aiohttp import web

from amci import contract, keys
from amci import handler_tools as tools
from amci.errors import NotFound, parameter_invalid
from amci.store.notifications import Notification

MAX_LIST = 100


def record_view(n: Notification) -> contract.NotificationRecord:
    return contract.NotificationRecord(
        id=n.id, type=n.type,  # type: ignore[arg-type]
        payment=n.payment, card=n.card, sequence=n.sequence,
        state=n.state,  # type: ignore[arg-type]
        attempts=n.attempts, created=int(n.created_at),
        delivered_at=int(n.delivered_at) if n.delivered_at is not None else None,
        last_error=n.last_error)


def _query(request: web.Request, allowed: tuple[str, ...]) -> None:
    for name in request.query:
        if name not in allowed:
            raise parameter_invalid(name, f"Received unknown parameter: {name}")


async def list_notifications(request: web.Request) -> web.Response:
    principal = tools.principal(request)
    _query(request, ("limit", "payment"))
    raw = request.query.get("limit", "20")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIST:
        raise parameter_invalid("limit", f"limit must be an integer from 1 to {MAX_LIST}.")
    payment = request.query.get("payment")
    rows = await request.app[keys.STORE].notifications.recent(
        principal.subscription.id, int(raw), payment)
    return web.json_response(contract.dump(
        contract.NotificationList(data=[record_view(n) for n in rows])))


async def redeliver(request: web.Request) -> web.Response:
    principal = tools.principal(request)
    nid = tools.path_id(request, "id", "notification")
    app = request.app
    found = await app[keys.STORE].notifications.redeliver(
        principal.subscription.id, nid, app[keys.CLOCK]())
    if found is None:
        raise NotFound(f"No such notification: {nid}", param="id")
    app[keys.OUTBOX].wake()
    return web.json_response(contract.dump(record_view(found)), status=202)


async def find_payment(request: web.Request) -> web.Response:
    """``GET /v1/stripe/payments?reference=…``: the latest payment AMCI created with that
    reference (AMCI records a payment's id before confirming it), fresh from Stripe."""
    from amci.handlers import get_payment_by_id  # the payment view, shared with GET /{id}

    principal = tools.principal(request)
    _query(request, ("reference",))
    reference = request.query.get("reference", "")
    if not 1 <= len(reference) <= 500:
        raise parameter_invalid("reference", "reference is required (1–500 characters).")
    payment_id = await request.app[keys.STORE].notifications.payment_by_reference(
        principal.scope, reference)
    if payment_id is None:
        raise NotFound("No payment with this reference.", param="reference")
    return await get_payment_by_id(request, payment_id)
