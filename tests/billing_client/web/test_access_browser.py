"""Sign-in, sessions and CSRF in a real browser: a wrong password is refused, repeated failures
are throttled, a form posted without its CSRF token is refused, signing out and an expired
session end access (the injected clock moves, nothing sleeps), and a customer sees only their
own pages."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, Page, expect

from ..conftest import VISA, Clock, setup_stripe
from .conftest import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    admin_sign_in,
    axe_violations,
    base,
    new_page,
    screenshot,
    set_customer_login,
)


async def try_sign_in(page: Page, root: str, area: str, username: str, password: str) -> None:
    await page.goto(f"{root}/{area}/login")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()


async def test_wrong_password_then_throttled(
    site: TestClient[Any, Any], page: Page, clock: Clock
) -> None:
    root = base(site)
    await try_sign_in(page, root, "admin", ADMIN_USER, "not the password")
    await expect(page.get_by_role("alert")).to_have_text("The username or password is incorrect.")
    await screenshot(page, "00-sign-in-refused")
    assert await axe_violations(page) == []
    # An unknown username gets the very same answer.
    await try_sign_in(page, root, "admin", "nobody-here", "not the password")
    await expect(page.get_by_role("alert")).to_have_text("The username or password is incorrect.")
    for _ in range(4):
        await try_sign_in(page, root, "admin", ADMIN_USER, "still wrong")
    # Five failures for this username: now even the right password is refused, and said so.
    await try_sign_in(page, root, "admin", ADMIN_USER, ADMIN_PASSWORD)
    await expect(page.get_by_role("alert")).to_contain_text("Too many failed sign-ins")
    assert page.url.endswith("/admin/login")
    r = await site.get("/admin/payment-systems", allow_redirects=False)
    assert r.status == 303  # still nobody signed in
    # The window passes (the injected clock, no sleeping): the right password works again.
    clock.advance(15 * 60 + 1)
    await admin_sign_in(page, root)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Payment systems")


async def test_form_without_csrf_token_refused(site: TestClient[Any, Any], page: Page) -> None:
    root = base(site)
    await admin_sign_in(page, root)
    await page.goto(f"{root}/admin/customers")
    new = page.get_by_role("region", name="Add a customer")
    await new.get_by_label("Name").fill("Mallory")
    # The form loses its hidden token (as a forged form from another site would lack it).
    await page.evaluate(
        "document.querySelectorAll('form[action=\"/admin/customers\"] "
        "input[name=csrf_token]').forEach(e => e.remove())"
    )
    await new.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Form refused")
    assert await axe_violations(page) == []
    # A wrong token is refused too, with the session cookie the browser sends along.
    response = await page.request.post(
        f"{root}/admin/customers",
        form={"name": "Mallory", "currency": "USD", "csrf_token": "forged"},
    )
    assert response.status == 403
    listing = await site.get("/api/customers")
    assert (await listing.json())["data"] == []  # nothing was created
    # The sign-in form needs its token as well.
    response = await page.request.post(
        f"{root}/admin/login", form={"username": ADMIN_USER, "password": ADMIN_PASSWORD}
    )
    assert response.status == 403


async def test_logout_and_expiry_end_access(
    site: TestClient[Any, Any], page: Page, clock: Clock
) -> None:
    root = base(site)
    await admin_sign_in(page, root)
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("status")).to_have_text("You have been signed out.")
    await page.goto(f"{root}/admin/customers")
    assert "/admin/login?next=/admin/customers" in page.url
    # A session idle longer than the limit (30 minutes) has ended; within it, it is alive.
    await admin_sign_in(page, root)
    clock.advance(29 * 60)
    await page.goto(f"{root}/admin/customers")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Customers")
    clock.advance(31 * 60)
    await page.goto(f"{root}/admin/customers")
    assert "/admin/login" in page.url
    # A stale form posted after expiry is refused, not applied.
    response = await page.request.post(
        f"{root}/admin/customers", form={"name": "Late", "currency": "USD", "csrf_token": "x"}
    )
    assert response.status == 401
    # The session cookie is HttpOnly, SameSite and scoped to the console.
    await admin_sign_in(page, root)
    cookie = next(c for c in await page.context.cookies() if c["name"] == "bc_admin")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/admin"
    # A console session is no API credential: /api still wants a bearer token.
    response = await page.request.get(f"{root}/api/customers")
    assert response.status == 401


async def test_customer_sees_only_their_own(
    site: TestClient[Any, Any], browser: Browser, clock: Clock
) -> None:
    root = base(site)
    ids = await setup_stripe(site)
    alice = ids["customer"]
    r = await site.post(
        "/api/customers", json={"name": "Bob", "currency": "USD", "email": "bob@example.com"}
    )
    bob = (await r.json())["id"]
    r = await site.post(f"/api/customers/{alice}/cards", json={"card": VISA})
    alice_card = (await r.json())["id"]
    r = await site.post(
        f"/api/customers/{alice}/payments", json={"amount": "12.00", "card_id": alice_card}
    )
    alice_payment = (await r.json())["id"]
    await set_customer_login(site, alice, "alice", "alice-password-1")
    await set_customer_login(site, bob, "bob", "bob-password-12")

    context, page = await new_page(browser)
    try:
        await page.goto(f"{root}/portal/login")
        assert await axe_violations(page) == []
        await try_sign_in(page, root, "portal", "bob", "bob-password-12")
        await expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Bob")
        await expect(page.get_by_text("12.00 USD")).to_have_count(0)
        # Alice's payment, by its id: not found for Bob.
        response = await page.goto(f"{root}/portal/payments/{alice_payment}")
        assert response is not None and response.status == 404
        await expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
        # Alice's card: Bob's own CSRF token does not let him delete it.
        await page.goto(f"{root}/portal/")
        token = await page.locator("input[name=csrf_token]").first.get_attribute("value")
        response = await page.request.post(
            f"{root}/portal/cards/{alice_card}/delete", form={"csrf_token": token or ""}
        )
        assert response.status == 404
        cards = await (await site.get(f"/api/customers/{alice}/cards")).json()
        assert [c["id"] for c in cards["data"]] == [alice_card]
        # A customer's session opens no console page.
        await page.goto(f"{root}/admin/customers/{alice}")
        assert "/admin/login" in page.url
        # Bob signs out: his portal is closed.
        await page.goto(f"{root}/portal/")
        await page.get_by_role("button", name="Sign out").click()
        await page.goto(f"{root}/portal/")
        assert "/portal/login" in page.url
    finally:
        await context.close()
