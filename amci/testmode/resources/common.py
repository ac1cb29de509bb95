"""Shared by every resource: loading by id, ``expand[]``, list pages, shared parameter specs."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from amci.testmode import search
from amci.testmode.auth import Account
from amci.testmode.errors import InvalidRequestError, ResourceMissing
from amci.testmode.resources.context import Context, Json, Params
from amci.testmode.store import Row
from amci.testmode.wire import EXPAND, Int, Obj, Str, check, require

ADDRESS = Obj({k: Str(200) for k in ("city", "country", "line1", "line2", "postal_code", "state")})
RETRIEVE = {"expand": EXPAND, "client_secret": Str(255)}

PREFIX_KIND = {"cus": "customer", "pm": "payment_method", "pi": "payment_intent",
               "ch": "charge", "re": "refund", "seti": "setup_intent",
               "setatt": "setup_attempt", "dp": "dispute", "evt": "event",
               "we": "webhook_endpoint"}
MISSING_NAME = {"customer": "customer", "payment_method": "PaymentMethod",
                "payment_intent": "payment_intent", "charge": "charge", "refund": "refund",
                "setup_intent": "setup_intent", "setup_attempt": "setup_attempt",
                "dispute": "dispute", "event": "event", "webhook_endpoint": "webhook_endpoint"}


def load(ctx: Context, acct: Account, ident: str, kind: str, param: str | None = None) -> Row:
    """The live object ``ident`` of ``kind``, or Stripe's resource_missing."""
    row = ctx.store.get(acct.id, ident) if ident else None
    if row is None or row.kind != kind or row.internal.get("deleted"):
        raise ResourceMissing(MISSING_NAME[kind], ident, param=param)
    return row


def _load_any(ctx: Context, acct: Account, ident: str) -> Json | None:
    kind = PREFIX_KIND.get(ident.partition("_")[0])
    if kind is None:
        return None
    try:
        return load(ctx, acct, ident, kind).data
    except ResourceMissing:
        return None


def expand(ctx: Context, acct: Account, obj: Json, paths: list[str] | None) -> Json:
    """Stripe's ``expand[]``: replace ids by their objects along dotted paths (max 4 deep)."""
    for path in paths or ():
        parts = path.split(".")
        if len(parts) > 4:
            raise InvalidRequestError(
                f"You cannot expand more than 4 levels of a property. Property: {path}",
                param="expand",
            )
        _expand(ctx, acct, obj, parts, path)
    return obj


def _expand(ctx: Context, acct: Account, node: Json, parts: list[str], path: str) -> None:
    key, rest = parts[0], parts[1:]
    if node.get("object") in ("list", "search_result") and key == "data":
        for item in node["data"]:
            if rest:
                _expand(ctx, acct, item, rest, path)
        return
    value = node.get(key)
    if isinstance(value, str):
        loaded = _load_any(ctx, acct, value)
        if loaded is None:
            raise InvalidRequestError(f"This property cannot be expanded ({path}).",
                                      param="expand")
        node[key] = value = loaded
    elif not isinstance(value, dict) and not (value is None and key in node):
        raise InvalidRequestError(f"This property cannot be expanded ({path}).", param="expand")
    if rest and isinstance(value, dict):
        _expand(ctx, acct, value, rest, path)


def list_objects(ctx: Context, acct: Account, kind: str, params: Params, url: str,
                 f1: str | None = None, f2: str | None = None,
                 equal: Mapping[str, str] | None = None,
                 f1_any: list[str] | None = None) -> Json:
    """One page of a list endpoint, newest first, with Stripe's cursor parameters."""
    limit = _limit(params)
    before = after = None
    if params.get("starting_after"):
        before = ctx.store.seq_of(acct.id, params["starting_after"], kind)
        if before is None:
            raise ResourceMissing(MISSING_NAME[kind], params["starting_after"],
                                  param="starting_after")
    elif params.get("ending_before"):
        after = ctx.store.seq_of(acct.id, params["ending_before"], kind)
        if after is None:
            raise ResourceMissing(MISSING_NAME[kind], params["ending_before"],
                                  param="ending_before")
    rows, more = ctx.store.page(acct.id, kind, f1=f1, f2=f2, limit=limit,
                                before_seq=before, after_seq=after,
                                created=params.get("created"), equal=equal, f1_any=f1_any)
    data = []
    for row in rows:
        if not row.internal.get("deleted"):
            data.append(row.data)
    result = {"object": "list", "data": data, "has_more": more, "url": url}
    return expand(ctx, acct, result, params.get("expand"))


def _limit(params: Params) -> int:
    limit = params.get("limit")
    if limit is None:
        return 10
    if not 1 <= limit <= 100:
        raise InvalidRequestError(
            "This value must be greater than or equal to 1 and less than or equal to 100.",
            param="limit",
        )
    return int(limit)


SEARCH = {"query": Str(), "limit": Int(), "page": Str(), "expand": EXPAND}


def search_objects(ctx: Context, acct: Account, kind: str, resource: str, raw: Params) -> Json:
    """``GET /v1/<resource>/search``: Stripe's search query over this account's objects, newest
    first, paged by the opaque ``page`` cursor (docs.stripe.com/search, api/pagination/search).
    Unlike Stripe's index (which may lag by up to a minute) the results are current."""
    p = check(raw, SEARCH)
    query = search.parse(require(p, "query"), resource)
    limit = _limit(p)
    before = search.decode_page(p["page"]) if p.get("page") else None
    data: list[Json] = []
    more, last = False, None
    for row in _live(ctx, acct, kind, before):
        if not search.matches(query, row.data, resource):
            continue
        if len(data) == limit:
            more = True
            break
        data.append(row.data)
        last = row.seq
    result: Json = {"object": "search_result", "data": data, "has_more": more,
                    "next_page": search.encode_page(last) if more and last is not None else None,
                    "url": f"/v1/{resource}/search"}
    paths = list(p.get("expand") or ())
    if "total_count" in paths:
        # "only accurate up to 10,000" at Stripe; exact here.
        paths.remove("total_count")
        result["total_count"] = sum(
            1 for row in _live(ctx, acct, kind, None) if search.matches(query, row.data, resource))
    return expand(ctx, acct, result, paths)


def _live(ctx: Context, acct: Account, kind: str, before: int | None) -> Iterator[Row]:
    for row in ctx.store.scan(acct.id, kind, before_seq=before):
        if not row.internal.get("deleted"):
            yield row


ADDRESS_KEYS = ("city", "country", "line1", "line2", "postal_code", "state")


def shipping(value: Json | None, param: str = "shipping") -> Json | None:
    """A ``shipping`` parameter as Stripe returns it (every field present, null where not
    given); ``name`` and ``address`` are required by Stripe's API description."""
    if value is None:
        return None
    for field in ("name", "address"):
        if value.get(field) is None:
            raise InvalidRequestError(f"Missing required param: {param}[{field}].",
                                      code="parameter_missing", param=f"{param}[{field}]")
    return {"address": {k: value["address"].get(k) for k in ADDRESS_KEYS},
            "carrier": value.get("carrier"), "name": value["name"], "phone": value.get("phone"),
            "tracking_number": value.get("tracking_number")}
