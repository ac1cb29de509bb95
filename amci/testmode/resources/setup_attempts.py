"""SetupAttempts: one per SetupIntent confirmation, listed by SetupIntent
(docs.stripe.com/api/setup_attempts)."""

from __future__ import annotations

from amci.testmode.auth import Account
from amci.testmode.errors import InvalidRequestError
from amci.testmode.params import documented
from amci.testmode.resources.common import list_objects, load
from amci.testmode.resources.context import Context, Json, Params
from amci.testmode.wire import DATED_LIST_PARAMS, Str, check, new_id, require


def new(ctx: Context, acct: Account, si: Json, pm: Json) -> Json:
    """A SetupAttempt of ``si`` with ``pm`` (inserted; ``store`` records its later status)."""
    card = pm["card"]
    attempt: Json = {
        "id": new_id("setatt"), "object": "setup_attempt", "application": None,
        "created": ctx.clock.now(), "customer": si["customer"], "customer_account": None,
        "flow_directions": None,
        "livemode": False, "on_behalf_of": None, "payment_method": pm["id"],
        "payment_method_details": {"card": {
            "brand": card["brand"], "checks": card["checks"], "country": card["country"],
            "exp_month": card["exp_month"], "exp_year": card["exp_year"],
            "fingerprint": card["fingerprint"], "funding": card["funding"],
            "last4": card["last4"], "network": card["brand"], "three_d_secure": None,
            "wallet": None}, "type": "card"},
        "setup_error": None, "setup_intent": si["id"], "status": "requires_confirmation",
        "usage": si["usage"],
    }
    ctx.store.insert(acct.id, "setup_attempt", attempt, f1=si["id"])
    return attempt


def store(ctx: Context, acct: Account, attempt: Json, *, status: str,
          setup_error: Json | None = None) -> None:
    attempt.update(status=status, setup_error=setup_error)
    ctx.store.update(acct.id, attempt, f1=attempt["setup_intent"])

LIST = documented("GET /v1/setup_attempts", {**DATED_LIST_PARAMS, "setup_intent": Str(255)})


def list_(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    p = check(raw, LIST)
    seti = require(p, "setup_intent")
    if not isinstance(seti, str):
        raise InvalidRequestError("Invalid string: setup_intent", param="setup_intent")
    load(ctx, acct, seti, "setup_intent", param="setup_intent")
    return list_objects(ctx, acct, "setup_attempt", p, "/v1/setup_attempts", f1=seti)
