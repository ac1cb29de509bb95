"""The 3D Secure test authentication page, and the public URLs that point at it.

Like Stripe's test page (docs.stripe.com/payments/3d-secure/authentication-flow): a small HTML
page with two plain forms, *Complete authentication* and *Fail authentication*; no script. The
POST moves the intent on and answers 303 to the intent's ``return_url`` with Stripe's query
parameters (or a short page when there is none, as with ``use_stripe_sdk``).

Page URLs are stored as paths and made absolute when a response is written, from the
``public_url`` setting or else the address the request arrived on, so they survive restarts and
work behind a proxy.
"""

from __future__ import annotations

import html
import json
from typing import Any

from aiohttp import web

from amci import money
from amci.testmode import events
from amci.testmode.amounts import fmt
from amci.testmode.auth import Account
from amci.testmode.keys import CONTEXT, DELIVERER, SETTINGS
from amci.testmode.resources import authentication
from amci.testmode.resources.actions import PAGE_PREFIX
from amci.testmode.wire import dumps

PAGE_ROUTE = (PAGE_PREFIX + "{account:acct_[0-9a-f]{24}}/{intent:[A-Za-z0-9_]{1,80}}"
              "/{nonce:[A-Za-z0-9_-]{1,64}}")


# --- public URLs ---------------------------------------------------------------------------------


def public_base(request: web.Request) -> str:
    """``public_url`` if set, else the address this server listens on, as this request reached
    it (the socket's local address; the Host header is not trusted)."""
    configured = request.app[SETTINGS].public_url
    if configured:
        return configured.rstrip("/")
    sock = request.transport.get_extra_info("sockname") if request.transport else None
    if isinstance(sock, tuple) and len(sock) >= 2:
        host, port = str(sock[0]), int(sock[1])
        host = f"[{host}]" if ":" in host else host
        return f"{request.scheme}://{host}:{port}"
    return f"{request.scheme}://{request.host}"


def with_public_urls(text: str, base: str) -> str:
    """A JSON response body with the page paths in ``next_action`` made absolute."""
    if PAGE_PREFIX not in text:
        return text
    return dumps(_absolute(json.loads(text), base))


def _absolute(node: Any, base: str) -> Any:
    if isinstance(node, list):
        return [_absolute(v, base) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _absolute(v, base) for k, v in node.items()}
    action = out.get("next_action")
    if isinstance(action, dict):
        for key, field in (("redirect_to_url", "url"), ("use_stripe_sdk", "stripe_js")):
            inner = action.get(key)
            if isinstance(inner, dict) and str(inner.get(field, "")).startswith(PAGE_PREFIX):
                inner[field] = base + inner[field]
    return out


# --- the page ------------------------------------------------------------------------------------

_STYLE = ("body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;"
          "padding:0 1rem}form{display:inline-block;margin:.5rem .5rem 0 0}"
          "button{font-size:1rem;padding:.6rem 1rem}")


def _html(status: int, title: str, body: str) -> web.Response:
    text = (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
            f"<body>{body}</body></html>")
    resp = web.Response(status=status, text=text, content_type="text/html")
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Referrer-Policy"] = "no-referrer"  # the URL is the authorisation
    return resp


def _gone() -> web.Response:
    return _html(404, "No authentication pending",
                 "<h1>No authentication pending</h1><p>This 3D Secure authentication is not"
                 " pending any more (completed, failed, canceled, or replaced by a newer"
                 " confirmation).</p>")


def _describe(intent: dict[str, Any]) -> str:
    if intent["object"] == "payment_intent":
        cur = money.currency(intent["currency"])
        return f"Payment of {html.escape(fmt(intent['amount'], cur))}"
    return "Saving a card for future payments"


async def page(request: web.Request) -> web.StreamResponse:
    acct = Account(request.match_info["account"])
    ctx = request.app[CONTEXT]
    row = authentication.pending(ctx, acct, request.match_info["intent"],
                                 request.match_info["nonce"])
    if row is None:
        return _gone()
    forms = "".join(
        f"<form method=\"post\" action=\"\"><input type=\"hidden\" name=\"result\""
        f" value=\"{value}\"><button type=\"submit\">{label}</button></form>"
        for value, label in (("complete", "Complete authentication"),
                             ("fail", "Fail authentication")))
    return _html(200, "3D Secure test authentication",
                 "<h1>3D Secure test authentication</h1>"
                 f"<p>{_describe(row.data)} ({html.escape(row.id)}).</p>"
                 "<p>This is a test page: no bank is involved.</p>" + forms)


async def submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    result = form.get("result")
    if result not in ("complete", "fail"):
        return _html(400, "Bad request", "<h1>Bad request</h1><p>Choose <em>Complete"
                     " authentication</em> or <em>Fail authentication</em>.</p>")
    acct = Account(request.match_info["account"])
    ctx = request.app[CONTEXT]
    ctx.store.begin()
    try:
        row = authentication.pending(ctx, acct, request.match_info["intent"],
                                     request.match_info["nonce"])
        if row is None:
            ctx.store.rollback()
            return _gone()
        location = authentication.finish(ctx, acct, row, result == "complete")
        # The customer's action, not an API request: the events carry no request.
        queued = events.record(ctx, events.AUTOMATIC)
    except BaseException:
        ctx.store.rollback()
        raise
    ctx.store.commit()
    if queued:
        request.app[DELIVERER].wake()
    if location is not None:
        resp = web.Response(status=303)
        resp.headers["Location"] = location
        resp.headers["Cache-Control"] = "no-store"
        return resp
    done = "completed" if result == "complete" else "failed"
    return _html(200, f"Authentication {done}",
                 f"<h1>Authentication {done}</h1><p>You can close this window.</p>")
