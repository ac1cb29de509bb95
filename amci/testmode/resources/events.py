"""``GET /v1/events`` and ``/v1/events/{id}`` (docs.stripe.com/api/events/list): newest first,
"going back up to 30 days"; ``type`` (one name, or a group with ``*`` such as ``charge.*``) or
``types[]`` (up to 20), "either type or types, but not both"; ``created``; cursors."""

from __future__ import annotations

from amci.testmode import events
from amci.testmode.auth import Account
from amci.testmode.errors import InvalidRequestError, ResourceMissing
from amci.testmode.params import documented
from amci.testmode.resources.common import RETRIEVE, list_objects, load
from amci.testmode.resources.context import Context, Json, Params
from amci.testmode.wire import DATED_LIST_PARAMS, List, Str, check

# delivery_success is accepted without effect (docs/testmode.md).
LIST = documented("GET /v1/events", {**DATED_LIST_PARAMS, "type": Str(200),
                                     "types": List(Str(200))})
RETRIEVE_EVENT = documented("GET /v1/events/{id}", RETRIEVE)
MAX_TYPES = 20


def retrieve(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    check(raw, RETRIEVE_EVENT)
    row = load(ctx, acct, ids["id"], "event")
    if row.data["created"] < ctx.clock.now() - events.RETENTION_SECONDS:
        raise ResourceMissing("event", ids["id"])
    return events.render(ctx, acct.id, row.data)


def list_(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    p = check(raw, LIST)
    if p.get("type") and p.get("types"):
        raise InvalidRequestError("You may only specify one of these parameters: type, types.",
                                  code="parameters_exclusive", param="types")
    wanted = [p["type"]] if p.get("type") else list(p.get("types") or ())
    if len(wanted) > MAX_TYPES:
        raise InvalidRequestError(f"You may pass at most {MAX_TYPES} types.", param="types")
    for i, name in enumerate(wanted):
        if "*" in name[:-1] or (name.endswith("*") and not name.endswith(".*")):
            raise InvalidRequestError(
                f"Invalid type: {name[:100]}. A group is written like charge.*.",
                param="type" if p.get("type") else f"types[{i}]")
    created = dict(p.get("created") or {})
    oldest = ctx.clock.now() - events.RETENTION_SECONDS
    created["gte"] = max(created.get("gte", oldest), oldest)
    page = list_objects(ctx, acct, "event", {**p, "created": created}, "/v1/events",
                        f1_any=wanted or None)
    page["data"] = [events.render(ctx, acct.id, e) for e in page["data"]]
    return page
