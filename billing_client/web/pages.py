"""What the console and the portal share: rendering, the session guard, CSRF and sign-in.

Access (the ``pages`` family of ``access.py``): every ``/admin`` page needs an administrator's
session, every ``/portal`` page a customer's; the sign-in pages are the only exceptions. Every
POST carries the session's CSRF token in a hidden ``csrf_token`` field (the sign-in forms carry
a token bound to a short-lived ``bc_login`` cookie instead), compared in constant time; a POST
without it is refused with 403 before its handler runs. The cookies are ``HttpOnly``,
``SameSite=Lax`` (a top-level return from 3D Secure may carry them; a cross-site form post may
not), path-scoped, and ``Secure`` over TLS.

A ``BillingError`` a page did not handle itself becomes an HTML page with the error's status and
message (not the API's JSON envelope).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import jinja2
from aiohttp import web

from billing_client import keys
from billing_client.api.routes import Handler
from billing_client.errors import BillingError
from billing_client.sessions import Session
from billing_client.usecases.context import Context

ADMIN = "/admin"
PORTAL = "/portal"
STATIC = "/static"
STATIC_DIR = Path(__file__).parent / "static"
KINDS = {ADMIN: "admin", PORTAL: "customer"}
COOKIES = {"admin": "bc_admin", "customer": "bc_portal"}
LOGIN_COOKIE = "bc_login"
SIGN_IN = {ADMIN + "/login", PORTAL + "/login"}
SESSION: web.RequestKey[Session] = web.RequestKey("session", Session)

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("billing_client.web", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _when(ts: int | None) -> str:
    """A stored Unix time as people read it (UTC, to the minute)."""
    if ts is None:
        return ""
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%d %H:%M UTC")


def _human(amount: str | None, currency: str) -> str:
    """An amount with its currency ("10.00 USD"); nothing when there is no amount."""
    return f"{amount} {currency}" if amount is not None else ""


_env.filters["when"] = _when
_env.globals["human"] = _human


def usecases(request: web.Request) -> Context:
    return request.app[keys.USECASES]


def family(path: str) -> str | None:
    """``/admin`` or ``/portal`` when ``path`` is one of their pages, else None."""
    for prefix in KINDS:
        if path == prefix or path.startswith(prefix + "/"):
            return prefix
    return None


def render(
    request: web.Request, template: str, status: int = 200, **context: Any
) -> web.Response:
    session = request.get(SESSION)
    given = context.pop("csrf", "")
    text = _env.get_template(template).render(
        csrf=session.csrf if session else given,
        signed_in=session.subject if session else None,
        path=request.path,
        **context,
    )
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")


def redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def secure(request: web.Request) -> bool:
    forced = request.app[keys.SETTINGS].secure_cookies
    return forced if forced is not None else request.secure


def set_cookie(
    request: web.Request, response: web.StreamResponse, name: str, value: str, path: str
) -> None:
    response.set_cookie(
        name, value, path=path, httponly=True, samesite="Lax", secure=secure(request),
        max_age=int(request.app[keys.SETTINGS].session_max_seconds),
    )


def safe_next(value: str | None, prefix: str) -> str:
    """Where to go after sign-in: a path of the same area only (no open redirect)."""
    if not value or family(value) != prefix or urlsplit(value).netloc or "\\" in value:
        return prefix + "/"
    return value


async def start_session(
    request: web.Request, kind: str, subject: str, location: str
) -> web.Response:
    cookie = await request.app[keys.SESSIONS].start(kind, subject)
    response = redirect(location)
    prefix = ADMIN if kind == "admin" else PORTAL
    set_cookie(request, response, COOKIES[kind], cookie, prefix)
    response.del_cookie(LOGIN_COOKIE, path="/")
    return response


async def end_session(request: web.Request, prefix: str) -> web.Response:
    kind = KINDS[prefix]
    await request.app[keys.SESSIONS].end(request.cookies.get(COOKIES[kind]))
    response = redirect(f"{prefix}/login?ended=1")
    response.del_cookie(COOKIES[kind], path=prefix)
    return response


def login_token(request: web.Request) -> tuple[str, bool]:
    """The sign-in form's CSRF token (bound to the ``bc_login`` cookie) and whether it is new."""
    current = request.cookies.get(LOGIN_COOKIE, "")
    if len(current) == 43 and current.isascii():
        return current, False
    return secrets.token_urlsafe(32), True


def login_page(
    request: web.Request, template: str, status: int = 200, **context: Any
) -> web.Response:
    token, new = login_token(request)
    response = render(request, template, status, csrf=token, **context)
    if new:
        response.set_cookie(
            LOGIN_COOKIE, token, path="/", httponly=True, samesite="Strict",
            secure=secure(request), max_age=3600,
        )
    return response


def _same(presented: object, expected: str) -> bool:
    return isinstance(presented, str) and bool(expected) and hmac.compare_digest(
        presented.encode(), expected.encode()
    )


def _refused(request: web.Request, status: int, title: str, message: str) -> web.Response:
    return render(request, "error.html", status, title=title, message=message,
                  area=family(request.path) or ADMIN, csrf="")


async def form(request: web.Request) -> Mapping[str, str]:
    """The POSTed form (checked for CSRF already), text fields only."""
    data = await request.post()
    return {k: v for k, v in data.items() if isinstance(v, str)}


@web.middleware
async def pages_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    prefix = family(request.path)
    if prefix is None:
        return await handler(request)
    kind = KINDS[prefix]
    try:
        if request.path in SIGN_IN:
            if request.method == "POST":
                data = await request.post()
                if not _same(data.get("csrf_token"), request.cookies.get(LOGIN_COOKIE, "")):
                    return _refused(
                        request, 403, "Form refused",
                        "This form has expired or did not come from this site. "
                        "Reload the page and try again.",
                    )
        else:
            session = await request.app[keys.SESSIONS].find(
                kind, request.cookies.get(COOKIES[kind])
            )
            if session is None:
                if request.method == "GET":
                    return redirect(f"{prefix}/login?next={quote(request.path_qs, safe='/')}")
                return _refused(
                    request, 401, "Signed out", "Your session has ended. Sign in again."
                )
            request[SESSION] = session
            if request.method == "POST":
                data = await request.post()
                if not _same(data.get("csrf_token"), session.csrf):
                    return _refused(
                        request, 403, "Form refused",
                        "This form has expired or did not come from this site. "
                        "Reload the page and try again.",
                    )
        response = await handler(request)
    except BillingError as exc:
        title = "Not found" if exc.status == 404 else "Refused"
        response = _refused(request, exc.status, title, exc.message)
    except web.HTTPException as exc:
        if 300 <= exc.status < 400 and exc.location is not None:  # type: ignore[attr-defined]
            response = redirect(str(exc.location))  # type: ignore[attr-defined]
        elif exc.status == 404:
            response = _refused(request, 404, "Not found", "There is no such page.")
        elif exc.status == 405:
            response = _refused(request, 405, "Not allowed", "This page does not take that.")
        else:
            response = _refused(request, exc.status, "Refused", exc.reason or "Refused.")
    # Pages show people's data: never cached, never framed, scripts and styles from here only.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; form-action 'self'; frame-ancestors 'none'; "
        "base-uri 'none'; object-src 'none'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    return response
