"""Customers: create, retrieve, update, delete (detaching their payment methods), list."""

from __future__ import annotations

import re
import secrets

from amci.testmode.auth import Account
from amci.testmode.errors import InvalidRequestError, ResourceMissing
from amci.testmode.params import MissingRef, documented
from amci.testmode.resources import payment_methods
from amci.testmode.resources.common import (
    ADDRESS,
    RETRIEVE,
    expand,
    list_objects,
    load,
    search_objects,
    shipping,
)
from amci.testmode.resources.context import Context, Json, Params, merge_metadata
from amci.testmode.wire import DATED_LIST_PARAMS, EXPAND, List, Metadata, Obj, Str, check, new_id

CREATE = {
    "email": Str(512), "name": Str(256), "description": Str(), "phone": Str(40),
    "metadata": Metadata(), "address": ADDRESS, "payment_method": Str(255),
    "invoice_settings": Obj({"default_payment_method": Str(255)}),
    "preferred_locales": List(Str(20)), "expand": EXPAND,
}
UPDATE = {k: v for k, v in CREATE.items() if k != "payment_method"}
# Stored and returned as sent (the Customer object carries them); no behaviour behind them.
ECHOED = ("balance", "invoice_prefix", "next_invoice_sequence", "tax_exempt")
# Objects the test mode has none of: any id is resource_missing, as at Stripe for an unknown id.
_NO_SUCH = {"coupon": MissingRef("coupon"), "promotion_code": MissingRef("promotion_code"),
            "source": MissingRef("source"), "test_clock": MissingRef("test_clock")}
CREATE = documented("POST /v1/customers", {**CREATE, **_NO_SUCH})
UPDATE = documented("POST /v1/customers/{id}", {
    **UPDATE, **_NO_SUCH, **{k: MissingRef("source") for k in (
        "bank_account", "card", "default_alipay_account", "default_bank_account",
        "default_card", "default_source")}})
LIST = documented("GET /v1/customers", {**DATED_LIST_PARAMS, "email": Str(512),
                                        "test_clock": MissingRef("test_clock")})
_EMAIL = re.compile(r"^[^\s@]+@[^\s@]+\.[^\s@]+$")


def _check_email(email: str | None) -> None:
    if email is not None and not _EMAIL.match(email):
        raise InvalidRequestError(f"Invalid email address: {email[:512]}",
                                  code="email_invalid", param="email")


def _apply(cus: Json, p: Params) -> None:
    for field in ("email", "name", "description", "phone"):
        if field in p:
            cus[field] = p[field]
    if "address" in p:
        addr = p["address"]
        cus["address"] = None if addr is None else {
            k: addr.get(k) for k in ("city", "country", "line1", "line2", "postal_code", "state")}
    if "preferred_locales" in p:
        cus["preferred_locales"] = p["preferred_locales"]
    if "shipping" in p:
        cus["shipping"] = shipping(p["shipping"])
    for field in ECHOED:
        if p.get(field) is not None:
            cus[field] = p[field]
    settings = p.get("invoice_settings") or {}
    for field in ("custom_fields", "footer"):
        if field in settings:
            cus["invoice_settings"][field] = settings[field]
    if "rendering_options" in settings:
        ro = settings["rendering_options"]
        # Returned with both of its fields (docs.stripe.com/api/customers/object).
        cus["invoice_settings"]["rendering_options"] = None if ro is None else {
            "amount_tax_display": ro.get("amount_tax_display"), "template": ro.get("template")}
    cus["metadata"] = merge_metadata(cus["metadata"], p.get("metadata"))


def _set_default_pm(ctx: Context, acct: Account, cus: Json, p: Params) -> None:
    settings = p.get("invoice_settings") or {}
    if "default_payment_method" not in settings:
        return
    pm_id = settings["default_payment_method"]
    if pm_id is not None:
        pm = load(ctx, acct, pm_id, "payment_method",
                  param="invoice_settings[default_payment_method]")
        if pm.data["customer"] != cus["id"]:
            raise InvalidRequestError(
                f"The customer does not have a payment method with the ID {pm_id}. The"
                " payment method must be attached to the customer.",
                param="invoice_settings[default_payment_method]",
            )
    cus["invoice_settings"]["default_payment_method"] = pm_id
    ctx.store.update(acct.id, cus, f1=cus["email"])


def create(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    p = check(raw, CREATE)
    _check_email(p.get("email"))
    now = ctx.clock.now()
    cus: Json = {
        "id": new_id("cus", 14), "object": "customer", "address": None, "balance": 0,
        "created": now, "currency": None, "default_source": None, "delinquent": False,
        "description": None, "discount": None, "email": None,
        "invoice_prefix": secrets.token_hex(4).upper(),
        "invoice_settings": {"custom_fields": None, "default_payment_method": None,
                             "footer": None, "rendering_options": None},
        "livemode": False, "metadata": {}, "name": None, "next_invoice_sequence": 1,
        "phone": None, "preferred_locales": [], "shipping": None, "tax_exempt": "none",
        "test_clock": None,
    }
    _apply(cus, p)
    ctx.store.insert(acct.id, "customer", cus, f1=cus["email"])
    if p.get("payment_method"):
        payment_methods.attach(ctx, acct, p["payment_method"], cus["id"],
                               param="payment_method")
    _set_default_pm(ctx, acct, cus, p)
    return expand(ctx, acct, cus, p.get("expand"))


def retrieve(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    p = check(raw, RETRIEVE)
    row = ctx.store.get(acct.id, ids["id"])
    if row is None or row.kind != "customer":
        raise ResourceMissing("customer", ids["id"])
    if row.internal.get("deleted"):
        # Stripe answers a deleted customer with its tombstone.
        return {"id": row.id, "object": "customer", "deleted": True}
    return expand(ctx, acct, row.data, p.get("expand"))


def update(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    p = check(raw, UPDATE)
    _check_email(p.get("email"))
    row = load(ctx, acct, ids["id"], "customer")
    cus = row.data
    _apply(cus, p)
    ctx.store.update(acct.id, cus, row.internal, f1=cus["email"])
    _set_default_pm(ctx, acct, cus, p)
    return expand(ctx, acct, cus, p.get("expand"))


def delete(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    check(raw, {})
    row = load(ctx, acct, ids["id"], "customer")
    # Deleting a customer detaches its payment methods.
    for pm in ctx.store.by_filter(acct.id, "payment_method", row.id):
        pm.data["customer"] = None
        pm.internal["consumed"] = True
        ctx.store.update(acct.id, pm.data, pm.internal)
    ctx.store.update(acct.id, row.data, {**row.internal, "deleted": True},
                     f1=row.data["email"])
    return {"id": row.id, "object": "customer", "deleted": True}


def list_(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    p = check(raw, LIST)
    return list_objects(ctx, acct, "customer", p, "/v1/customers", f1=p.get("email"))


def search(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    return search_objects(ctx, acct, "customer", "customers", raw)
