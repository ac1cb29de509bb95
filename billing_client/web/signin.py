"""Signing in and out, for both areas: the same throttle, the same answers.

A wrong username and a wrong password get one answer ("The username or password is incorrect."),
and cost the same time (the password hash is computed either way). After ``Throttle.limit``
failures for one username, or from one client address, within the window, every attempt is
refused — the right password too — until the window has passed: the answer says so (429)."""

from __future__ import annotations

import math

from aiohttp import web

from billing_client import keys
from billing_client.web import pages
from billing_client.web.pages import ADMIN, PORTAL

WRONG = "The username or password is incorrect."


def _throttled(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return (
        "Too many failed sign-ins. Try again in "
        f"{minutes} minute{'s' if minutes != 1 else ''}."
    )


def _template(prefix: str) -> str:
    return "admin/login.html" if prefix == ADMIN else "portal/login.html"


async def show(request: web.Request, prefix: str) -> web.Response:
    notice = "You have been signed out." if request.query.get("ended") else ""
    return pages.login_page(
        request, _template(prefix), username="", error="", notice=notice,
        next=request.query.get("next", ""),
    )


async def submit(request: web.Request, prefix: str) -> web.Response:
    data = await pages.form(request)
    username = data.get("username", "").strip()[:200]
    password = data.get("password", "")[:500]
    next_path = data.get("next", "")
    kind = pages.KINDS[prefix]
    throttle = request.app[keys.THROTTLE]
    keys_ = throttle.keys(kind, username, request.remote or "unknown")
    wait = await throttle.blocked_for(keys_)
    if wait:
        return pages.login_page(
            request, _template(prefix), 429, username=username, error=_throttled(wait),
            notice="", next=next_path,
        )
    if kind == "admin":
        subject = await request.app[keys.ADMINS].verify(username, password)
    else:
        subject = await request.app[keys.CUSTOMER_LOGINS].verify(username, password)
    if subject is None:
        await throttle.failed(keys_)
        return pages.login_page(
            request, _template(prefix), 401, username=username, error=WRONG, notice="",
            next=next_path,
        )
    await throttle.succeeded(keys_)
    return await pages.start_session(
        request, kind, subject, pages.safe_next(next_path, prefix)
    )


async def admin_login(request: web.Request) -> web.Response:
    return await show(request, ADMIN)


async def admin_login_post(request: web.Request) -> web.Response:
    return await submit(request, ADMIN)


async def admin_logout(request: web.Request) -> web.Response:
    return await pages.end_session(request, ADMIN)


async def portal_login(request: web.Request) -> web.Response:
    return await show(request, PORTAL)


async def portal_login_post(request: web.Request) -> web.Response:
    return await submit(request, PORTAL)


async def portal_logout(request: web.Request) -> web.Response:
    return await pages.end_session(request, PORTAL)
