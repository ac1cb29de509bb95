"""Browser fixtures: Debian's headless Chromium (``/usr/bin/chromium``) driven by Playwright for
Python, against a real billing client (loopback HTTP server) in front of the real AMCI and the
real Stripe test-mode server. Playwright's own browser download is never used.

Screenshots go outside the repository: ``$BC_SCREENSHOTS`` or ``<tmp>/billing-client-screens``
(the path is printed once per session). axe-core (``tests/node/node_modules``, installed by
``make test``) is injected into pages to check them."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from billing_client import keys
from billing_client.auth import Admins, CustomerLogins
from billing_client.storage import Storage

from ..conftest import Clock, url

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
AXE = Path(__file__).parents[2] / "node" / "node_modules" / "axe-core" / "axe.min.js"
ADMIN_USER = "admin"
ADMIN_PASSWORD = "correct horse battery staple"
SCREENS = Path(
    os.environ.get("BC_SCREENSHOTS") or Path(tempfile.gettempdir()) / "billing-client-screens"
)
SCREENS.mkdir(parents=True, exist_ok=True)
_announced: list[bool] = []


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        try:
            yield launched
        finally:
            await launched.close()


async def new_page(browser: Browser) -> tuple[BrowserContext, Page]:
    # bypass_csp: the pages' Content-Security-Policy refuses inline scripts, and axe-core is
    # injected as one by the test (the pages themselves have no script at all).
    context = await browser.new_context(bypass_csp=True)
    context.set_default_timeout(15_000)
    return context, await context.new_page()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context, page = await new_page(browser)
    try:
        yield page
    finally:
        await context.close()


@pytest.fixture
async def site(
    amci: TestServer,
    make_billing: Callable[..., Awaitable[TestClient[Any, Any]]],
    clock: Clock,
) -> TestClient[Any, Any]:
    """The billing client (with an administrator account) on a loopback port, its clock
    injected so sessions can be aged without sleeping."""
    client = await make_billing(url(amci), clock=clock)
    await Admins(client.app[keys.STORAGE]).create(ADMIN_USER, ADMIN_PASSWORD)
    return client


def base(site: TestClient[Any, Any]) -> str:
    return url(site.server)


async def set_customer_login(
    site: TestClient[Any, Any], customer_id: str, username: str, password: str
) -> None:
    await CustomerLogins(site.app[keys.STORAGE]).set(customer_id, username, password)


async def admin_sign_in(page: Page, root: str) -> None:
    await page.goto(f"{root}/admin/login")
    await page.get_by_label("Username").fill(ADMIN_USER)
    await page.get_by_label("Password").fill(ADMIN_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{root}/admin/payment-systems")


async def screenshot(page: Page, name: str) -> None:
    if not _announced:
        _announced.append(True)
        print(f"\nscreenshots: {SCREENS}")
    await page.screenshot(path=str(SCREENS / f"{name}.png"), full_page=True)


async def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations of impact serious or critical on the page as it is now."""
    await page.add_script_tag(path=str(AXE))
    result = await page.evaluate("async () => await axe.run(document)")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["html"] for n in v["nodes"]][:3]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


async def storage_of(site: TestClient[Any, Any]) -> Storage:
    return site.app[keys.STORAGE]
