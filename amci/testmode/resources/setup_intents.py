"""SetupIntents: save a card for later (off-session) payments, with 3D Secure during setup.

docs.stripe.com/api/setup_intents and /payments/save-and-reuse: confirm → ``succeeded`` when no
further step is needed, else ``requires_action`` with ``next_action``; a failed setup returns to
``requires_payment_method`` (``last_setup_error``); "If present, the SetupIntent's payment method
will be attached to the Customer on successful setup"; ``usage`` defaults to ``off_session``.
Each confirmation records a SetupAttempt (``latest_attempt``).
"""

from __future__ import annotations

from amci.testmode import cards
from amci.testmode import three_d_secure as tds
from amci.testmode.auth import Account
from amci.testmode.errors import DOC_URL, CardError, InvalidRequestError
from amci.testmode.params import MissingRef, documented
from amci.testmode.resources import actions, payment_methods, setup_attempts
from amci.testmode.resources.common import RETRIEVE, expand, list_objects, load
from amci.testmode.resources.context import Context, Json, Params, merge_metadata
from amci.testmode.store import Row
from amci.testmode.wire import (
    DATED_LIST_PARAMS,
    EXPAND,
    Bool,
    Enum,
    List,
    Metadata,
    Obj,
    Spec,
    Str,
    check,
    new_id,
)

CARD_OPTIONS = Obj({"request_three_d_secure": Enum(("any", "automatic", "challenge"))})
CONFIRM: dict[str, Spec] = {
    "payment_method": Str(255), "payment_method_data": payment_methods.PM_DATA,
    "payment_method_options": Obj({"card": CARD_OPTIONS}), "return_url": Str(2048),
    "use_stripe_sdk": Bool(), "client_secret": Str(255), "expand": EXPAND,
}
UPDATE: dict[str, Spec] = {
    "customer": Str(255), "description": Str(1000), "metadata": Metadata(),
    "payment_method": Str(255), "payment_method_data": payment_methods.PM_DATA,
    "payment_method_options": Obj({"card": CARD_OPTIONS}), "payment_method_types": List(Str(50)),
    "expand": EXPAND,
}
CREATE: dict[str, Spec] = {
    **UPDATE, "confirm": Bool(), "usage": Enum(("off_session", "on_session")),
    "return_url": Str(2048), "use_stripe_sdk": Bool(),
    "automatic_payment_methods": Obj(
        {"enabled": Bool(), "allow_redirects": Enum(("always", "never"))}),
}
CANCEL = {"cancellation_reason": Enum(("abandoned", "duplicate", "requested_by_customer")),
          "expand": EXPAND}
# Every documented parameter accepted and type-checked; the specs above are what is simulated.
_NO_SUCH: dict[str, Spec] = {"on_behalf_of": MissingRef("account")}
CONFIRM = documented("POST /v1/setup_intents/{id}/confirm", CONFIRM)
UPDATE = documented("POST /v1/setup_intents/{id}", UPDATE)
CREATE = documented("POST /v1/setup_intents", {**CREATE, **_NO_SUCH})
CANCEL = documented("POST /v1/setup_intents/{id}/cancel", CANCEL)
LIST = documented("GET /v1/setup_intents", {**DATED_LIST_PARAMS, "customer": Str(255),
                                            "payment_method": Str(255)})
CONFIRMABLE = ("requires_payment_method", "requires_confirmation", "requires_action")
CANCELABLE = CONFIRMABLE
UPDATABLE = CONFIRMABLE


def _unexpected(si: Json, verb: str, allowed: tuple[str, ...]) -> InvalidRequestError:
    # Worded as Stripe's PaymentIntent state errors (SetupIntent wording UNVERIFIED).
    done = {"confirm": "confirmed", "cancel": "canceled", "update": "updated"}[verb]
    return InvalidRequestError(
        f"You cannot {verb} this SetupIntent because it has a status of {si['status']}. Only a"
        f" SetupIntent with one of the following statuses may be {done}: {', '.join(allowed)}.",
        code="setup_intent_unexpected_state", extra={"setup_intent": si})


def _payment_method(ctx: Context, acct: Account, p: Params) -> Row | None:
    if p.get("payment_method") and p.get("payment_method_data"):
        raise InvalidRequestError(
            "You may only specify one of these parameters: payment_method,"
            " payment_method_data.", code="parameters_exclusive", param="payment_method")
    if p.get("payment_method"):
        return payment_methods.resolve(ctx, acct, p["payment_method"], "payment_method")
    if p.get("payment_method_data"):
        return payment_methods.from_data(ctx, acct, p["payment_method_data"],
                                         "payment_method_data")
    return None


def _check(ctx: Context, acct: Account, si: Json, p: Params) -> None:
    for i, t in enumerate(p.get("payment_method_types") or ()):
        if t != "card":
            raise InvalidRequestError(
                f"The payment method type provided: {t} is invalid. This test-mode server"
                " supports: card.", param=f"payment_method_types[{i}]")
    if p.get("payment_method_types"):
        si["payment_method_types"] = p["payment_method_types"]
    if p.get("customer"):
        load(ctx, acct, p["customer"], "customer", param="customer")
        si["customer"] = p["customer"]
    if "description" in p:
        si["description"] = p["description"]
    si["metadata"] = merge_metadata(si["metadata"], p.get("metadata"))
    requested = ((p.get("payment_method_options") or {}).get("card") or {}).get(
        "request_three_d_secure")
    if requested:
        si["payment_method_options"]["card"]["request_three_d_secure"] = requested


def _store(ctx: Context, acct: Account, row: Row) -> None:
    ctx.store.update(acct.id, row.data, row.internal, f1=row.data["customer"],
                     f2=row.data["payment_method"])


def create(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    p = check(raw, CREATE)
    for name in ("return_url", "use_stripe_sdk"):
        if p.get(name) and not p.get("confirm"):
            raise InvalidRequestError(
                f"You can only set {name} when confirm is true.", param=name)
    apm = p.get("automatic_payment_methods")
    if p.get("payment_method_types") is not None and apm:
        raise InvalidRequestError(
            "You may only specify one of these parameters: automatic_payment_methods,"
            " payment_method_types.", code="parameters_exclusive",
            param="automatic_payment_methods")
    if p.get("payment_method_types") is None and (apm or {}).get("enabled", True) is not False:
        # As on PaymentIntents since API version 2023-08-16 (UNVERIFIED for SetupIntents).
        apm = {"enabled": True, "allow_redirects": (apm or {}).get("allow_redirects") or "always"}
    else:
        apm = None
    sid = new_id("seti")
    si: Json = {
        "id": sid, "object": "setup_intent", "application": None,
        "automatic_payment_methods": apm, "cancellation_reason": None,
        "client_secret": f"{sid}_secret_{new_id('x', 25)[2:]}", "created": ctx.clock.now(),
        "customer": None, "description": None, "excluded_payment_method_types": None,
        "flow_directions": None, "last_setup_error": None, "latest_attempt": None,
        "livemode": False, "mandate": None, "metadata": {}, "next_action": None,
        "on_behalf_of": None, "payment_method": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {"card": {"mandate_options": None, "network": None,
                                            "request_three_d_secure": "automatic"}},
        "payment_method_types": ["card"], "single_use_mandate": None,
        "status": "requires_payment_method", "usage": p.get("usage") or "off_session",
    }
    _check(ctx, acct, si, p)
    pm_row = _payment_method(ctx, acct, p)
    if pm_row is not None:
        si.update(payment_method=pm_row.id, status="requires_confirmation")
    row = Row(0, sid, "setup_intent", si, {})
    ctx.store.insert(acct.id, "setup_intent", si, {}, f1=si["customer"], f2=si["payment_method"])
    if p.get("confirm"):
        _confirm(ctx, acct, row, pm_row, p)
    return expand(ctx, acct, si, p.get("expand"))


def retrieve(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    p = check(raw, RETRIEVE)
    return expand(ctx, acct, load(ctx, acct, ids["id"], "setup_intent").data, p.get("expand"))


def list_(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    p = check(raw, LIST)
    return list_objects(ctx, acct, "setup_intent", p, "/v1/setup_intents",
                        f1=p.get("customer"), f2=p.get("payment_method"))


def update(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    p = check(raw, UPDATE)
    row = load(ctx, acct, ids["id"], "setup_intent")
    si = row.data
    if si["status"] not in UPDATABLE and set(p) - {"metadata", "description", "expand"}:
        raise _unexpected(si, "update", UPDATABLE)
    _check(ctx, acct, si, p)
    if "payment_method" in p or "payment_method_data" in p:
        pm_row = _payment_method(ctx, acct, p)
        si["payment_method"] = pm_row.id if pm_row is not None else None
        if si["status"] in UPDATABLE:
            actions.clear_action(row)
            si["status"] = ("requires_confirmation" if si["payment_method"]
                            else "requires_payment_method")
    _store(ctx, acct, row)
    return expand(ctx, acct, si, p.get("expand"))


def confirm(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    p = check(raw, CONFIRM)
    row = load(ctx, acct, ids["id"], "setup_intent")
    si = row.data
    if si["status"] not in CONFIRMABLE:
        raise _unexpected(si, "confirm", CONFIRMABLE)
    _check(ctx, acct, si, {"payment_method_options": p.get("payment_method_options")})
    pm_row = _payment_method(ctx, acct, p)
    if pm_row is None and si["payment_method"]:
        pm_row = load(ctx, acct, si["payment_method"], "payment_method")
    _confirm(ctx, acct, row, pm_row, p)
    return expand(ctx, acct, si, p.get("expand"))


def _confirm(ctx: Context, acct: Account, row: Row, pm_row: Row | None, p: Params) -> None:
    si = row.data
    if pm_row is None:
        raise InvalidRequestError(
            "You cannot confirm this SetupIntent because it's missing a payment method. You can"
            " either update the SetupIntent with a payment method and then confirm it again, or"
            " confirm it again directly with a payment method.",
            code="setup_intent_unexpected_state", extra={"setup_intent": si})
    pm = pm_row.data
    actions.check_return_url(p.get("return_url"))
    if pm_row.internal.get("consumed"):
        raise InvalidRequestError(payment_methods.PM_REUSE, param="payment_method")
    if pm["customer"] is not None and pm["customer"] != si["customer"]:
        # "Payment methods attached to other Customers cannot be used with this SetupIntent."
        raise InvalidRequestError(
            f"The provided PaymentMethod {pm['id']} is attached to another Customer than the"
            " one on this SetupIntent. Payment methods attached to other Customers cannot be"
            " used with this SetupIntent.", param="payment_method")
    _abandon_pending_attempt(ctx, acct, si)
    si["payment_method"] = pm["id"]
    actions.clear_action(row)
    attempt = setup_attempts.new(ctx, acct, si, pm)
    si["latest_attempt"] = attempt["id"]
    outcome = cards.Outcome.from_internal(pm_row.internal["outcome"])
    step = tds.decide_setup(outcome.three_ds,
                            requested=si["payment_method_options"]["card"]["request_three_d_secure"])
    if step == tds.DECLINE_LOOKUP:
        outcome = cards.LOOKUP_DECLINED
    if outcome.kind == "decline" and (not outcome.attachable or step == tds.DECLINE_LOOKUP):
        # "4000000000009995 is declined during setup" (docs.stripe.com/payments/save-and-reuse);
        # the other issuer-decline cards, which cannot be attached, likewise.
        error = _decline(ctx, acct, row, attempt, pm, outcome)
        raise error
    if step == tds.CHALLENGE:
        actions.require_action(acct, row, return_url=p.get("return_url"),
                               use_stripe_sdk=bool(p.get("use_stripe_sdk")))
        si["last_setup_error"] = None
        setup_attempts.store(ctx, acct, attempt, status="requires_action")
        _store(ctx, acct, row)
        return
    _succeed(ctx, acct, row, pm_row, attempt, tds.details(step))


def _abandon_pending_attempt(ctx: Context, acct: Account, si: Json) -> None:
    """An attempt waiting for authentication is ``abandoned`` when the intent is confirmed again
    or canceled (docs.stripe.com/api/setup_attempts/object, status)."""
    if si["status"] == "requires_action" and si["latest_attempt"]:
        attempt = load(ctx, acct, si["latest_attempt"], "setup_attempt").data
        setup_attempts.store(ctx, acct, attempt, status="abandoned")


def _decline(ctx: Context, acct: Account, row: Row, attempt: Json, pm: Json,
             outcome: cards.Outcome) -> CardError:
    si = row.data
    error: Json = {"type": "card_error", "code": outcome.code, "message": outcome.message,
                   "payment_method": pm,
                   "doc_url": DOC_URL + str(outcome.code).replace("_", "-")}
    if outcome.decline_code:
        error["decline_code"] = outcome.decline_code
    si.update(status="requires_payment_method", payment_method=None, last_setup_error=error)
    setup_attempts.store(ctx, acct, attempt, status="failed", setup_error=error)
    _store(ctx, acct, row)
    return CardError(str(outcome.message), code=outcome.code, decline_code=outcome.decline_code,
                     stored=True, extra={"setup_intent": si, "payment_method": pm})


def _succeed(ctx: Context, acct: Account, row: Row, pm_row: Row, attempt: Json,
             three_d_secure: Json | None) -> None:
    si = row.data
    si.update(status="succeeded", last_setup_error=None)
    attempt["payment_method_details"]["card"]["three_d_secure"] = three_d_secure
    setup_attempts.store(ctx, acct, attempt, status="succeeded")
    if si["customer"]:
        pm_row = payment_methods.attach(ctx, acct, pm_row.id, si["customer"],
                                        param="payment_method")
    if si["usage"] == "off_session":
        # Set up for off-session use: later off-session payments need no authentication
        # where the card allows it (docs.stripe.com/testing#regulatory-cards).
        pm_row.internal["set_up"] = True
        ctx.store.update(acct.id, pm_row.data, pm_row.internal, f1=pm_row.data["customer"])
    _store(ctx, acct, row)


def after_challenge(ctx: Context, acct: Account, row: Row, success: bool) -> str:
    """The customer pressed *Complete* or *Fail* on the test page; returns ``redirect_status``."""
    si = row.data
    actions.clear_action(row)
    pm_row = load(ctx, acct, si["payment_method"], "payment_method")
    attempt_row = load(ctx, acct, si["latest_attempt"], "setup_attempt")
    attempt = attempt_row.data
    if not success:
        error: Json = {
            "code": tds.SI_AUTHENTICATION_FAILURE,
            "doc_url": DOC_URL + tds.SI_AUTHENTICATION_FAILURE.replace("_", "-"),
            "message": tds.SI_AUTHENTICATION_FAILURE_MESSAGE, "payment_method": pm_row.data,
            "type": "invalid_request_error"}
        si.update(status="requires_payment_method", payment_method=None, last_setup_error=error)
        setup_attempts.store(ctx, acct, attempt, status="failed", setup_error=error)
        _store(ctx, acct, row)
        return "failed"
    _succeed(ctx, acct, row, pm_row, attempt, tds.details(tds.CHALLENGE))
    return "succeeded"


def cancel(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    p = check(raw, CANCEL)
    row = load(ctx, acct, ids["id"], "setup_intent")
    si = row.data
    if si["status"] not in CANCELABLE:
        raise _unexpected(si, "cancel", CANCELABLE)
    _abandon_pending_attempt(ctx, acct, si)
    actions.clear_action(row)
    si.update(status="canceled", cancellation_reason=p.get("cancellation_reason"))
    _store(ctx, acct, row)
    return expand(ctx, acct, si, p.get("expand"))
