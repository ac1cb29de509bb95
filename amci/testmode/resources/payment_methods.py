"""PaymentMethods (cards only): create from card data, a token or a test alias; attach, detach.

Nothing here stores a card number or CVC: only last4, brand, a fingerprint and the documented
test behaviour of the card (docs.stripe.com/testing).
"""

from __future__ import annotations

import datetime as dt

from amci.testmode import cards
from amci.testmode.auth import Account
from amci.testmode.errors import CardError, InvalidRequestError
from amci.testmode.params import ConnectOnly, documented
from amci.testmode.resources.common import ADDRESS, RETRIEVE, expand, list_objects, load
from amci.testmode.resources.context import Context, Json, Params, merge_metadata
from amci.testmode.store import Row
from amci.testmode.wire import (
    EXPAND,
    LIST_PARAMS,
    Enum,
    Int,
    Metadata,
    Obj,
    Str,
    check,
    new_id,
    require,
)

BILLING_DETAILS = Obj(
    {"address": ADDRESS, "email": Str(512), "name": Str(256), "phone": Str(40), "tax_id": Str(50)}
)
CARD = Obj(
    {"number": Str(40), "exp_month": Int(), "exp_year": Int(), "cvc": Str(10), "token": Str(255),
     "networks": Obj({"preferred": Str(40)})}
)
CREATE = {
    "type": Str(50), "card": CARD, "billing_details": BILLING_DETAILS, "metadata": Metadata(),
    "allow_redisplay": Enum(("always", "limited", "unspecified")), "expand": EXPAND,
}
# ``payment_method_data`` on intents: the create parameters without ``expand``.
PM_DATA = Obj({k: v for k, v in CREATE.items() if k != "expand"})
UPDATE = {"billing_details": BILLING_DETAILS, "metadata": Metadata(),
          "card": Obj({"exp_month": Int(), "exp_year": Int()}),
          "allow_redisplay": Enum(("always", "limited", "unspecified")), "expand": EXPAND}
# Every documented parameter accepted and type-checked; the specs above are what is simulated.
# ``customer`` + ``payment_method`` on create clone a PaymentMethod onto a connected account.
CREATE = documented("POST /v1/payment_methods", {
    **CREATE, "customer": ConnectOnly(), "payment_method": ConnectOnly()})
UPDATE = documented("POST /v1/payment_methods/{id}", UPDATE)
ATTACH = documented("POST /v1/payment_methods/{id}/attach", {"customer": Str(255)})
DETACH = documented("POST /v1/payment_methods/{id}/detach")
LIST = documented("GET /v1/payment_methods", {**LIST_PARAMS, "customer": Str(255)},
                  simulated=("type",))
CUSTOMER_LIST = documented("GET /v1/customers/{id}/payment_methods", LIST_PARAMS,
                           simulated=("type",))
# Stripe's wording (observed) for re-using a single-use PaymentMethod.
PM_REUSE = (
    "The provided PaymentMethod was previously used with a PaymentIntent without Customer"
    " attachment, shared with a connected account without Customer attachment, or was detached"
    " from a Customer. It may not be used again. To use a PaymentMethod multiple times, you must"
    " attach it to a Customer first."
)


def card_error(code: str, message: str, param: str) -> CardError:
    # Card-data validation fails before execution starts: not stored for idempotency.
    return CardError(message, code=code, param=param, stored=False)


def _new(ctx: Context, acct: Account, card: cards.TestCard, *, exp_month: int, exp_year: int,
         cvc_given: bool, billing: Json | None, metadata: Json | None,
         allow_redisplay: str | None = None) -> Row:
    """Insert a card PaymentMethod. Keeps last4/brand/fingerprint and the test behaviour;
    never the number or the CVC."""
    brand, _ = cards.brand_of(card.number)
    billing = billing or {}
    addr = billing.get("address") or {}
    address = {k: addr.get(k) for k in ("city", "country", "line1", "line2", "postal_code",
                                        "state")}
    cvc_check = (card.cvc_check or "pass") if cvc_given else None
    postal_check = (card.postal_code_check or "pass") if address["postal_code"] else None
    pm: Json = {
        "id": new_id("pm"), "object": "payment_method",
        "allow_redisplay": allow_redisplay or "unspecified",
        "billing_details": {"address": address, "email": billing.get("email"),
                            "name": billing.get("name"), "phone": billing.get("phone"),
                            "tax_id": billing.get("tax_id")},
        "card": {
            "brand": brand,
            "checks": {"address_line1_check": None,
                       "address_postal_code_check": postal_check, "cvc_check": cvc_check},
            "country": card.country, "display_brand": brand, "exp_month": exp_month,
            "exp_year": exp_year, "fingerprint": cards.fingerprint(acct.fingerprint_secret,
                                                                   card.number),
            "funding": card.funding, "generated_from": None, "last4": card.number[-4:],
            "networks": {"available": [brand], "preferred": None},
            "regulated_status": "unregulated",
            "three_d_secure_usage": {"supported": True}, "wallet": None,
        },
        "created": ctx.clock.now(), "customer": None, "customer_account": None,
        "livemode": False,
        "metadata": merge_metadata({}, metadata), "type": "card",
    }
    internal: Json = {"outcome": card.outcome.to_internal()}
    if card.after:
        internal["after"] = card.after
    ctx.store.insert(acct.id, "payment_method", pm, internal)
    return Row(0, pm["id"], "payment_method", pm, internal)


def _from_alias(ctx: Context, acct: Account, ident: str) -> Row | None:
    card = cards.card_for_alias(ident)
    if card is None:
        return None
    year = dt.datetime.fromtimestamp(ctx.clock.now(), dt.UTC).year
    return _new(ctx, acct, card, exp_month=12, exp_year=year + 3, cvc_given=True,
                billing=None, metadata=None)


def from_data(ctx: Context, acct: Account, p: Params, prefix: str) -> Row:
    """A new PaymentMethod from create parameters (or an intent's ``payment_method_data``)."""
    kind = require(p, "type") if not prefix else p.get("type")
    if kind is None:
        raise InvalidRequestError(f"Missing required param: {prefix}[type].",
                                  code="parameter_missing", param=f"{prefix}[type]")
    pname = f"{prefix}[type]" if prefix else "type"
    if kind != "card":
        raise InvalidRequestError(
            f"Invalid {pname}: this test-mode server supports the payment method type card",
            param=pname,
        )
    card_p = p.get("card")
    cname = f"{prefix}[card]" if prefix else "card"
    if not card_p:
        raise InvalidRequestError(f"Missing required param: {cname}.",
                                  code="parameter_missing", param=cname)
    if card_p.get("token"):
        extra = set(card_p) - {"token"}
        if extra:
            raise InvalidRequestError(
                f"You cannot provide both {cname}[token] and {cname}[{sorted(extra)[0]}].",
                param=f"{cname}[token]")
        token = card_p["token"]
        test = cards.card_for_alias(token) if token.startswith("tok_") else None
        if test is None:
            raise InvalidRequestError(f"No such token: '{token}'", code="resource_missing",
                                      param=f"{cname}[token]")
        year = dt.datetime.fromtimestamp(ctx.clock.now(), dt.UTC).year
        return _new(ctx, acct, test, exp_month=12, exp_year=year + 3, cvc_given=True,
                    billing=p.get("billing_details"), metadata=p.get("metadata"),
                    allow_redisplay=p.get("allow_redisplay"))
    # Raw card data: accepted as on an account with raw card data APIs enabled.
    number, exp_month, exp_year, cvc = _validate_card(ctx, card_p, cname)
    return _new(ctx, acct, cards.card_for_number(number), exp_month=exp_month,
                exp_year=exp_year, cvc_given=cvc is not None,
                billing=p.get("billing_details"), metadata=p.get("metadata"),
                allow_redisplay=p.get("allow_redisplay"))


def _validate_card(ctx: Context, c: Params, cname: str) -> tuple[str, int, int, str | None]:
    """Stripe's card-data checks (docs.stripe.com/testing#invalid-data, error-codes)."""
    for field in ("number", "exp_month", "exp_year"):
        if c.get(field) is None:
            raise InvalidRequestError(f"Missing required param: {cname}[{field}].",
                                      code="parameter_missing", param=f"{cname}[{field}]")
    number = c["number"].replace(" ", "")
    brand_lengths = cards.brand_of(number)[1] if number.isdigit() else frozenset()
    if not number.isdigit() or len(number) not in brand_lengths:
        raise card_error("invalid_number", "The card number is not a valid credit card number.",
                         f"{cname}[number]")
    if not cards.luhn_ok(number):
        raise card_error("incorrect_number", "Your card number is incorrect.",
                         f"{cname}[number]")
    month, year = c["exp_month"], c["exp_year"]
    if not 1 <= month <= 12:
        raise card_error("invalid_expiry_month", "Your card's expiration month is invalid.",
                         f"{cname}[exp_month]")
    if 0 <= year < 100:
        year += 2000
    today = dt.datetime.fromtimestamp(ctx.clock.now(), dt.UTC)
    # A past year, or more than 50 years ahead, is invalid; a past month of this year is
    # reported on the month (UNVERIFIED which field Stripe names for an expired date).
    if not today.year <= year <= today.year + 50:
        raise card_error("invalid_expiry_year", "Your card's expiration year is invalid.",
                         f"{cname}[exp_year]")
    if year == today.year and month < today.month:
        raise card_error("invalid_expiry_month", "Your card's expiration month is invalid.",
                         f"{cname}[exp_month]")
    cvc = c.get("cvc")
    if cvc is not None:
        lengths = (3, 4) if cards.brand_of(number)[0] == "amex" else (3,)
        if not cvc.isdigit() or len(cvc) not in lengths:
            raise card_error("invalid_cvc", "Your card's security code is invalid.",
                             f"{cname}[cvc]")
    return number, month, year, cvc


def resolve(ctx: Context, acct: Account, ident: str, param: str | None = None) -> Row:
    """A PaymentMethod by id, or a fresh one for a test alias (``pm_card_visa``)."""
    return _from_alias(ctx, acct, ident) or load(ctx, acct, ident, "payment_method", param)


def attach(ctx: Context, acct: Account, pm_id: str, customer: str, *,
           param: str | None) -> Row:
    load(ctx, acct, customer, "customer", param="customer")
    row = resolve(ctx, acct, pm_id, param)
    pm = row.data
    if pm["customer"] == customer:
        return row
    if pm["customer"] is not None:
        raise InvalidRequestError(
            "The payment method you provided has already been attached to a customer.",
            param=param)
    if row.internal.get("consumed"):
        raise InvalidRequestError(PM_REUSE, param=param)
    o = cards.Outcome.from_internal(row.internal["outcome"])
    if o.kind == "decline" and not o.attachable:
        # "You can't attach cards that simulate issuer declines to a Customer object."
        # Nothing is created (a customer created along with it is rolled back too).
        raise CardError(str(o.message), code=o.code, decline_code=o.decline_code, stored=False)
    pm["customer"] = customer
    ctx.store.update(acct.id, pm, row.internal, f1=customer)
    return row


# --- endpoints -----------------------------------------------------------------------------------


def create(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    p = check(raw, CREATE)
    row = from_data(ctx, acct, p, "")
    return expand(ctx, acct, row.data, p.get("expand"))


def retrieve(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    p = check(raw, RETRIEVE)
    return expand(ctx, acct, resolve(ctx, acct, ids["id"]).data, p.get("expand"))


def update(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    p = check(raw, UPDATE)
    row = load(ctx, acct, ids["id"], "payment_method")
    pm = row.data
    pm["metadata"] = merge_metadata(pm["metadata"], p.get("metadata"))
    if p.get("allow_redisplay"):
        pm["allow_redisplay"] = p["allow_redisplay"]
    bd = p.get("billing_details")
    if bd:
        for k in ("email", "name", "phone", "tax_id"):
            if k in bd:
                pm["billing_details"][k] = bd[k]
        for k, v in (bd.get("address") or {}).items():
            pm["billing_details"]["address"][k] = v
    card = p.get("card") or {}
    if card.get("exp_month") is not None:
        if not 1 <= card["exp_month"] <= 12:
            raise card_error("invalid_expiry_month",
                             "Your card's expiration month is invalid.", "card[exp_month]")
        pm["card"]["exp_month"] = card["exp_month"]
    if card.get("exp_year") is not None:
        year = card["exp_year"] + (2000 if 0 <= card["exp_year"] < 100 else 0)
        now_year = dt.datetime.fromtimestamp(ctx.clock.now(), dt.UTC).year
        if not now_year <= year <= now_year + 50:
            raise card_error("invalid_expiry_year",
                             "Your card's expiration year is invalid.", "card[exp_year]")
        pm["card"]["exp_year"] = year
    ctx.store.update(acct.id, pm, row.internal, f1=pm["customer"])
    return expand(ctx, acct, pm, p.get("expand"))


def attach_endpoint(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    p = check(raw, ATTACH)
    customer = require(p, "customer")
    row = attach(ctx, acct, ids["id"], customer, param=None)
    return expand(ctx, acct, row.data, p.get("expand"))


def detach(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    p = check(raw, DETACH)
    row = load(ctx, acct, ids["id"], "payment_method")
    if row.data["customer"] is None:
        raise InvalidRequestError(
            "The payment method you provided is not attached to a customer so detachment"
            " is impossible.")
    row.data["customer"] = None
    # "Detachment is permanent and irreversible" (docs.stripe.com/api/payment_methods/detach).
    row.internal["consumed"] = True
    ctx.store.update(acct.id, row.data, row.internal)
    return expand(ctx, acct, row.data, p.get("expand"))


def list_(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    p = check(raw, CUSTOMER_LIST if "id" in ids else LIST)
    customer = ids.get("id") or p.get("customer")
    url = f"/v1/customers/{customer}/payment_methods" if "id" in ids else "/v1/payment_methods"
    if customer is not None:
        load(ctx, acct, customer, "customer", param=None if "id" in ids else "customer")
    if p.get("type") not in (None, "card"):
        return {"object": "list", "data": [], "has_more": False, "url": url}
    return list_objects(ctx, acct, "payment_method", p, url, f1=customer)
