"""The pages over plain HTTP (no browser): cookie flags, escaping, redirects that stay on this
site, errors as pages, the security headers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from billing_client import keys
from billing_client.auth import Admins
from billing_client.usecases import audit
from billing_client.web.pages import safe_next

from ..conftest import STRIPE_KEY, VISA, setup_stripe, url
from .conftest import ADMIN_PASSWORD, ADMIN_USER

Client = TestClient[Any, Any]


async def signed_in(root: str) -> aiohttp.ClientSession:
    """A session signed in to the console (the form's token and cookie, then the POST)."""
    # unsafe: aiohttp's jar otherwise keeps no cookie from an IP address such as 127.0.0.1.
    session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with session.get(f"{root}/admin/login") as page:
        token = (await page.text()).split('name="csrf_token" value="')[1].split('"')[0]
    async with session.post(
        f"{root}/admin/login",
        data={"csrf_token": token, "username": ADMIN_USER, "password": ADMIN_PASSWORD},
    ) as landed:
        assert landed.status == 200 and landed.url.path == "/admin/payment-systems"
    return session


async def test_secure_cookies_behind_tls(
    amci: TestServer, make_billing: Callable[..., Awaitable[Client]]
) -> None:
    site = await make_billing(url(amci), secure_cookies=True)
    await Admins(site.app[keys.STORAGE]).create(ADMIN_USER, ADMIN_PASSWORD)
    r = await site.get("/admin/login")
    assert "Secure" in r.headers["Set-Cookie"] and "HttpOnly" in r.headers["Set-Cookie"]
    token = (await r.text()).split('name="csrf_token" value="')[1].split('"')[0]
    r = await site.post(
        "/admin/login",
        data={"csrf_token": token, "username": ADMIN_USER, "password": ADMIN_PASSWORD},
        cookies={"bc_login": token}, allow_redirects=False,
    )
    assert r.status == 303
    cookie = r.cookies["bc_admin"]
    assert cookie["secure"] and cookie["httponly"] and cookie["samesite"] == "Lax"
    assert cookie["path"] == "/admin"


async def test_pages_escape_what_people_typed_and_send_security_headers(site: Client) -> None:
    r = await site.post(
        "/api/customers", json={"name": "<script>alert(1)</script>", "currency": "USD"}
    )
    customer = (await r.json())["id"]
    session = await signed_in(url(site.server))
    async with session:
        async with session.get(f"{url(site.server)}/admin/customers/{customer}") as page:
            text = await page.text()
            assert "<script>alert(1)</script>" not in text
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
            assert page.headers["Cache-Control"] == "no-store"
            assert "default-src 'self'" in page.headers["Content-Security-Policy"]
            assert page.headers["X-Frame-Options"] == "DENY"
        # Errors on these pages are pages, not the API's JSON envelope.
        async with session.get(f"{url(site.server)}/admin/customers/cust_nope") as page:
            assert page.status == 404 and page.content_type == "text/html"
            assert "No such customer: cust_nope" in await page.text()
        async with session.get(f"{url(site.server)}/admin/nothing-here") as page:
            assert page.status == 404 and page.content_type == "text/html"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("/admin/customers?q=x", "/admin/customers?q=x"),
        ("//evil.example/admin/", "/admin/"),
        ("https://evil.example/admin/", "/admin/"),
        ("/portal/", "/admin/"),
        ("/admin\\\\evil", "/admin/"),
        ("", "/admin/"),
    ],
)
def test_after_sign_in_only_a_page_of_the_same_area(given: str, expected: str) -> None:
    assert safe_next(given, "/admin") == expected


async def test_sign_in_lands_where_it_was_asked(site: Client) -> None:
    r = await site.get("/admin/customers?q=John", allow_redirects=False)
    assert r.status == 303
    assert r.headers["Location"] == "/admin/login?next=/admin/customers%3Fq%3DJohn"


async def test_what_api_tokens_do_is_in_the_audit_trail_too(site: Client) -> None:
    ids = await setup_stripe(site)
    r = await site.post(f"/api/customers/{ids['customer']}/payments",
                        json={"amount": "10.00", "card": VISA})
    sale = (await r.json())["id"]
    refund = {"Idempotency-Key": "refund-1"}
    r = await site.post(f"/api/transactions/{sale}/refunds", json={}, headers=refund)
    assert r.status == 201
    r = await site.post(f"/api/transactions/{sale}/refunds", json={}, headers=refund)
    assert r.headers["Idempotent-Replayed"] == "true"  # a replay: not a second entry
    r = await site.post(f"/api/transactions/{sale}/void")
    assert r.status == 400
    entries = await audit.for_object(site.app[keys.USECASES], "transaction", sale)
    assert [e["action"] for e in entries] == ["refunded", "void refused"]
    assert all(e["actor"].startswith("API token tests-") for e in entries)
    assert "Void is not available with Stripe" in entries[1]["detail"]
    ps_trail = await audit.for_object(site.app[keys.USECASES], "payment_system", ids["ps"])
    assert [(e["action"], e["detail"]) for e in ps_trail] == [
        ("created", "name 'Stripe token_only'"),
        ("changed", "data_protection, enabled_methods"),
    ]
    session = await signed_in(url(site.server))
    async with session, session.get(f"{url(site.server)}/admin/payments/{sale}") as page:
        text = await page.text()
    assert "void refused" in text and "API token tests-" in text
    assert STRIPE_KEY not in text
