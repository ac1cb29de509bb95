"""Webhook endpoints (docs.stripe.com/api/webhook_endpoints): where this account's events are
delivered. The ``whsec_`` signing secret is "only returned at creation"; there is no status
parameter, ``disabled`` switches an endpoint off; ``api_version`` cannot be changed. Up to 16
endpoints per account (docs.stripe.com/webhooks)."""

from __future__ import annotations

import re
import secrets

from yarl import URL

from amci.testmode.auth import Account
from amci.testmode.errors import InvalidRequestError
from amci.testmode.params import documented
from amci.testmode.resources.common import RETRIEVE, expand, list_objects, load
from amci.testmode.resources.context import Context, Json, Params, merge_metadata
from amci.testmode.wire import (
    EXPAND,
    LIST_PARAMS,
    Bool,
    List,
    Metadata,
    Str,
    check,
    new_id,
    require,
)

MAX_ENDPOINTS = 16
_EVENT_RE = re.compile(r"^[a-z_]+(\.[a-z_]+){1,3}$")
_VERSION_RE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:\.[a-z_]+)?$")
UPDATE = {"url": Str(5000), "enabled_events": List(Str(200)), "description": Str(5000),
          "metadata": Metadata(), "disabled": Bool(), "expand": EXPAND}
CREATE = documented("POST /v1/webhook_endpoints", {
    **{k: v for k, v in UPDATE.items() if k != "disabled"}, "api_version": Str(100),
    "connect": Bool()})
UPDATE = documented("POST /v1/webhook_endpoints/{id}", UPDATE)
LIST = documented("GET /v1/webhook_endpoints", LIST_PARAMS)
RETRIEVE_ONE = documented("GET /v1/webhook_endpoints/{id}", RETRIEVE)
DELETE = documented("DELETE /v1/webhook_endpoints/{id}", {})


def _url(value: str) -> str:
    """An absolute http(s) URL: deliveries go there and nowhere else. (Stripe requires HTTPS in
    live mode only: "If you're still developing … it can use HTTP".)"""
    try:
        parsed = URL(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidRequestError(f"Invalid URL: {value[:200]!r}. URLs must be absolute http or"
                                  " https URLs.", param="url")
    return value


def _events(values: list[str]) -> list[str]:
    if not values:
        raise InvalidRequestError("Missing required param: enabled_events.",
                                  code="parameter_missing", param="enabled_events")
    for i, name in enumerate(values):
        # UNVERIFIED: Stripe checks names against its list of types; here any well-formed
        # resource.event name is accepted.
        if name != "*" and not _EVENT_RE.match(name or ""):
            raise InvalidRequestError(f"Invalid enabled_events[{i}]: {str(name)[:100]} is not"
                                      " an event type.", param=f"enabled_events[{i}]")
    return list(dict.fromkeys(values))


def create(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    p = check(raw, CREATE)
    version = p.get("api_version")
    if version is not None and not _VERSION_RE.match(version):
        raise InvalidRequestError(f"Invalid api_version: {version[:60]}", param="api_version")
    url = _url(require(p, "url"))
    enabled = _events(require(p, "enabled_events"))
    if p.get("connect"):
        raise InvalidRequestError("Connect endpoints are not simulated: the test mode has no"
                                  " connected accounts.", param="connect")
    if len(ctx.store.page(acct.id, "webhook_endpoint", limit=MAX_ENDPOINTS)[0]) >= MAX_ENDPOINTS:
        raise InvalidRequestError(f"You have reached the maximum of {MAX_ENDPOINTS} test webhook"
                                  " endpoints.", param="url")
    secret = "whsec_" + secrets.token_urlsafe(32).replace("-", "a").replace("_", "b")
    endpoint: Json = {
        "id": new_id("we"), "object": "webhook_endpoint", "api_version": version,
        "application": None, "created": ctx.clock.now(), "description": p.get("description"),
        "enabled_events": enabled, "livemode": False,
        "metadata": merge_metadata({}, p.get("metadata")), "status": "enabled", "url": url,
    }
    ctx.store.insert(acct.id, "webhook_endpoint", endpoint, {"secret": secret})
    return {**expand(ctx, acct, endpoint, p.get("expand")), "secret": secret}


def retrieve(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    p = check(raw, RETRIEVE_ONE)
    return expand(ctx, acct, load(ctx, acct, ids["id"], "webhook_endpoint").data,
                  p.get("expand"))


def list_(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    p = check(raw, LIST)
    return list_objects(ctx, acct, "webhook_endpoint", p, "/v1/webhook_endpoints")


def update(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    p = check(raw, UPDATE)
    row = load(ctx, acct, ids["id"], "webhook_endpoint")
    ep = row.data
    if p.get("url") is not None:
        ep["url"] = _url(p["url"])
    if p.get("enabled_events") is not None:
        ep["enabled_events"] = _events(p["enabled_events"])
    if "description" in p:
        ep["description"] = p["description"]
    if p.get("disabled") is not None:
        ep["status"] = "disabled" if p["disabled"] else "enabled"
    ep["metadata"] = merge_metadata(ep["metadata"], p.get("metadata"))
    ctx.store.update(acct.id, ep, row.internal)
    return expand(ctx, acct, ep, p.get("expand"))


def delete(ctx: Context, acct: Account, ids: Params, raw: Params) -> Json:
    check(raw, DELETE)
    row = load(ctx, acct, ids["id"], "webhook_endpoint")
    ctx.store.delete(acct.id, row.id)
    return {"deleted": True, "id": row.id, "object": "webhook_endpoint"}
