"""Charges: made by confirming PaymentIntents (one per attempt); retrieve and list here."""

from __future__ import annotations

from amci.testmode.auth import Account
from amci.testmode.params import documented
from amci.testmode.resources.common import (
    RETRIEVE,
    expand,
    list_objects,
    load,
    search_objects,
)
from amci.testmode.resources.context import Context, Json, Params
from amci.testmode.wire import DATED_LIST_PARAMS, Str, check

LIST = documented("GET /v1/charges", {**DATED_LIST_PARAMS, "customer": Str(255),
                                      "payment_intent": Str(255), "transfer_group": Str(5000)})


def retrieve(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    p = check(raw, RETRIEVE)
    return expand(ctx, acct, load(ctx, acct, ids["id"], "charge").data, p.get("expand"))


def list_(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    p = check(raw, LIST)
    equal = {"transfer_group": p["transfer_group"]} if p.get("transfer_group") else None
    return list_objects(ctx, acct, "charge", p, "/v1/charges", f1=p.get("customer"),
                        f2=p.get("payment_intent"), equal=equal)


def search(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    return search_objects(ctx, acct, "charge", "charges", raw)
