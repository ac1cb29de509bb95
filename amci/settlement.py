"""Payments whose outcome AMCI settles by looking, never by guessing.

Stripe stores a 500 under its idempotency key and replays it on a retry with that key, and a
timeout leaves AMCI not knowing whether the request ran (docs.stripe.com/error-low-level: "the
result of the request is indeterminate"). So AMCI creates the PaymentIntent unconfirmed, records
its id, then confirms it; when the confirmation's answer is a 500 or no answer at all, AMCI
retrieves the intent (retrieve is read-after-write; Search is not, it can lag) and:

- it moved on (succeeded, requires_capture, requires_action, requires_payment_method …): that is
  the outcome;
- it is still ``requires_confirmation``: the confirmation never ran. After a timeout the same
  key is right (Stripe runs it, or replays it if it did run); after a 500 the key would only
  replay the 500, so AMCI confirms once more under a new key;
- nothing can be learnt now (Stripe unreachable): ``Unsettled`` — AMCI answers 202
  ``processing``; the outcome arrives as a notification, and ``GET /v1/stripe/payments?reference=``
  finds the payment.

An unconfirmed intent moves no money: a create answered with a 500 is simply made again under a
new key (the first stays unconfirmed, and Stripe cancels nothing that was never confirmed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from amci.auth import ApiKey, Mode
from amci.errors import UpstreamUnavailable
from amci.idempotency import UpstreamKeys
from amci.relay import Relay
from amci.store import PaymentRecord, Store

# Parameters Stripe takes on confirm (return_url and off_session need confirm=true on create).
CONFIRM_ONLY = ("return_url", "off_session")
_SERVER_ERROR = 502  # UpstreamUnavailable's status for a 5xx answer; 503 is no answer at all


class Unsettled(Exception):
    """The confirmation's outcome can't be known now."""

    def __init__(self, payment: dict[str, Any]) -> None:
        super().__init__(payment.get("id"))
        self.payment = payment


async def create_and_confirm(
    relay: Relay, store: Store, mode: Mode, key: ApiKey, up: UpstreamKeys, params: dict[str, Any],
    *, scope: str, now: float, record: Callable[[str, str], PaymentRecord],
) -> dict[str, Any]:
    create = {k: v for k, v in params.items() if k not in (*CONFIRM_ONLY, "confirm")}
    try:
        pi = await relay.create_payment(mode, key, up.step("payment_intent"), create)
    except UpstreamUnavailable as exc:
        if exc.status != _SERVER_ERROR:
            raise  # no answer: the caller retries with the same key, Stripe dedupes it
        pi = await relay.create_payment(mode, key, up.step("payment_intent/2"), create)
    payment_id = str(pi["id"])
    # Committed before the confirmation: whatever happens next, AMCI can find this payment.
    await store.put_payment(scope, record(payment_id, str(pi["status"])), now)
    confirm = {k: params[k] for k in CONFIRM_ONLY if k in params}
    confirm["expand"] = ["latest_charge"]
    try:
        return await relay.confirm_payment(mode, key, up.step("confirm"), payment_id, confirm)
    except UpstreamUnavailable as exc:
        first = exc
    unsettled = {**pi, "status": "processing"}
    try:
        pi = await relay.retrieve_payment(mode, key, payment_id)
    except UpstreamUnavailable:
        raise Unsettled(unsettled) from None
    if pi.get("status") != "requires_confirmation":
        return pi
    step = "confirm/2" if first.status == _SERVER_ERROR else "confirm"
    try:
        return await relay.confirm_payment(mode, key, up.step(step), payment_id, confirm)
    except UpstreamUnavailable:
        raise Unsettled(unsettled) from None
