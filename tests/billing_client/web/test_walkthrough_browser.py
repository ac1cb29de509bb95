"""The spec's walkthrough in a real browser (headless Chromium), by clicking and typing: the
administrator configures Stripe, the customer pays in self-care, the administrator refunds, tries
a void and finds it all in the audit trail. Every main screen is checked with axe-core and
photographed."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, Page, expect

from ..conftest import LOGIN, STRIPE_KEY, VISA
from .conftest import admin_sign_in, axe_violations, base, new_page, screenshot


async def check(page: Page, name: str) -> None:
    """Screenshot the screen, and no serious or critical accessibility violation on it."""
    await screenshot(page, name)
    assert await axe_violations(page) == [], name


async def test_spec_walkthrough(site: TestClient[Any, Any], page: Page, browser: Browser) -> None:
    root = base(site)
    await admin_sign_in(page, root)

    # Financial → E-payments → Payment systems; the Create payment system panel.
    nav = page.get_by_role("navigation", name="Navigation menu")
    await nav.get_by_role("link", name="Payment systems").click()
    panel = page.get_by_role("region", name="Create payment system")
    await panel.get_by_label("Name").fill("Stripe")
    await expect(panel.get_by_label("Payment processor")).to_have_value("Stripe")
    await panel.get_by_label("Login").fill("abc")
    await panel.get_by_label("Password").fill(STRIPE_KEY)
    await expect(panel.get_by_label("Test mode")).to_be_checked()
    await panel.get_by_role("button", name="Save").click()
    # The spec: the login is obligatory and "must be longer than 4 characters" — said next to it.
    login_error = page.locator("#e-login")
    await expect(login_error).to_have_text("login must be longer than 4 characters.")
    await expect(page.get_by_label("Login")).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_label("Password")).to_have_value("")  # a key is never sent back
    await check(page, "01-create-payment-system-error")
    await panel.get_by_label("Login").fill(LOGIN)
    await panel.get_by_label("Password").fill(STRIPE_KEY)
    await panel.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Payment system: Stripe")
    # Saved: the key is shown masked only, and the password field is empty (replaceable).
    content = await page.content()
    assert STRIPE_KEY not in content and LOGIN not in content
    await expect(page.get_by_label("Password")).to_have_value("")
    await check(page, "02-payment-system")

    # Payment methods: all four brands.
    await page.get_by_role("link", name="Payment methods").click()
    for brand in ("VISA", "MasterCard", "American Express", "Discover"):
        await page.get_by_label(brand, exact=True).check()
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status")).to_have_text("Saved.")
    for brand in ("VISA", "MasterCard", "American Express", "Discover"):
        await expect(page.get_by_label(brand, exact=True)).to_be_checked()
    await check(page, "03-payment-methods")

    # Data protection: Token only, with the spec's explanation.
    await page.get_by_role("link", name="Stripe").click()
    await page.get_by_role("link", name="Data protection").click()
    await expect(page.get_by_text("a payment token is created")).to_be_visible()
    await page.get_by_label("Token only").check()
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_label("Token only")).to_be_checked()
    await check(page, "04-data-protection")

    # Financial → Currency management: USD, Payment system Stripe, minimum 0.5.
    await nav.get_by_role("link", name="Currency management").click()
    await page.get_by_label(re.compile("Currency to edit")).fill("USD")
    await page.get_by_role("button", name="Edit").click()
    await expect(page.get_by_text("0.46 CHF")).to_be_visible()  # the spec's hint
    await page.get_by_label("Type of system").select_option(label="Payment system")
    await page.get_by_label("Payment system", exact=True).select_option(label="Stripe")
    await page.get_by_label("Minimum payment (USD)").fill("0.5.0")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#e-minimum_payment")).to_be_visible()
    await page.get_by_label("Minimum payment (USD)").fill("0.5")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status")).to_have_text("Saved.")
    await expect(page.get_by_role("region", name="Payment and remittance systems")).to_contain_text(
        "Payment system: Stripe, minimum payment 0.5 USD"
    )
    await check(page, "05-currency")

    # Customers: John Doe, paying in USD, no email yet; self-care credentials.
    await nav.get_by_role("link", name="Customers").click()
    new = page.get_by_role("region", name="Add a customer")
    await new.get_by_label("Name").fill("John Doe")
    await new.get_by_label("Currency").fill("USD")
    await new.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("John Doe")
    await page.get_by_label("Self-care username").fill("john.doe")
    await page.get_by_label("Self-care password").fill("john-secret-pw")
    await page.get_by_role("button", name="Save").nth(1).click()
    await expect(page.get_by_role("status")).to_have_text("Saved.")

    # The customer, in self-care (another browser context: another person).
    customer_context, customer = await new_page(browser)
    try:
        await customer.goto(f"{root}/portal/login")
        await customer.get_by_label("Username").fill("john.doe")
        await customer.get_by_label("Password").fill("john-secret-pw")
        await customer.get_by_role("button", name="Sign in").click()
        await expect(customer.get_by_role("heading", level=1)).to_have_text("Welcome, John Doe")

        async def add_card() -> None:
            await customer.get_by_label("Card number").fill(VISA["number"])
            await customer.get_by_label("Expiry month (MM)").fill("12")
            await customer.get_by_label("Expiry year (YYYY)").fill("2034")
            await customer.get_by_label("Security code (CVC)").fill("123")
            await customer.get_by_role("button", name="Save card").click()

        # No email: the card can't be saved, and the message says to set it.
        await add_card()
        await expect(customer.locator("#e-email")).to_have_text(
            "Set your email address first (My details): a card can't be saved without it."
        )

        # The administrator: Personal → General info → Email.
        await page.get_by_label("Email").fill("john@example.com")
        await page.get_by_role("button", name="Save").first.click()
        await expect(page.get_by_role("status")).to_have_text("Saved.")
        await expect(page.get_by_label("Email")).to_have_value("john@example.com")
        await check(page, "06-customer-record")

        await customer.goto(f"{root}/portal/")
        await add_card()
        await expect(customer.get_by_role("status")).to_have_text("The card was saved.")
        await expect(customer.get_by_role("cell", name="VISA •••• 4242")).to_be_visible()

        # Pay 10.00.
        await customer.get_by_label("Amount (USD)").fill("10.00")
        await customer.get_by_role("button", name="Pay").click()
        await expect(customer.locator("#message")).to_have_text("The payment was successful.")
        await check(customer, "07-portal-payment-succeeded")

        # Pay 0.30: AMCI's end-user message, exactly.
        await customer.get_by_role("link", name="Back to my account").click()
        await customer.get_by_label("Amount (USD)").fill("0.30")
        await customer.get_by_role("button", name="Pay").click()
        await expect(customer.locator("#message")).to_have_text(
            "Your payment must be no less than 0.5 USD"
        )
        await check(customer, "08-portal-payment-too-small")

        # The history: both payments, the refusal's message beside it.
        await customer.get_by_role("link", name="Back to my account").click()
        history = customer.get_by_role("region", name="Transaction history")
        await expect(history.get_by_role("row")).to_have_count(3)
        refusal = history.get_by_text("Your payment must be no less than 0.5 USD")
        await expect(refusal).to_be_visible()
        await expect(history.get_by_role("cell", name="10.00 USD")).to_be_visible()
        await check(customer, "09-portal-home")
    finally:
        await customer_context.close()

    # The administrator: E-payments search → the 10.00 payment → refund, then a void.
    await nav.get_by_role("link", name="E-payments search").click()
    await page.get_by_label("Status").select_option("succeeded")
    await page.get_by_label("Test mode").select_option(label="Test mode")
    await page.get_by_label("Customer (name, email or id)").fill("John")
    await page.get_by_role("button", name="Search").click()
    results = page.get_by_role("row")
    await expect(results).to_have_count(2)  # the header and the 10.00 payment only
    await check(page, "10-payments-search")
    await results.nth(1).get_by_role("link").click()
    await expect(page.locator("#status")).to_have_text("succeeded")
    await expect(page.get_by_text(re.compile(r"^pi_"))).to_be_visible()

    refund = page.get_by_role("region", name="Refund")
    await refund.get_by_role("button", name="Refund").click()
    await expect(page.locator("#status")).to_have_text("refunded")
    await expect(page.locator("#refunded")).to_have_text("10.00 USD")
    await expect(page.get_by_role("cell", name=re.compile(r"^re_"))).to_be_visible()

    await page.get_by_role("region", name="Void").get_by_role("button", name="Void").click()
    why = page.locator("#e-void")
    await expect(why).to_contain_text("Void is not available with Stripe")
    await expect(why).to_contain_text("expires, usually after 7 days")
    history = page.get_by_role("row").filter(has_text="void")
    await expect(history.first).to_contain_text("refused")
    # The transaction's own audit trail: who refunded and who tried to void.
    trail = page.get_by_role("row").filter(has_text="admin")
    await expect(trail.filter(has_text="refunded")).to_have_count(1)
    await expect(trail.filter(has_text="void refused")).to_have_count(1)
    await check(page, "11-payment-detail")

    # The whole trail: every change of the walkthrough, by the administrator.
    await nav.get_by_role("link", name="Audit trail").click()
    rows = page.get_by_role("row")
    for action, what in (
        ("created", "payment system"),
        ("changed", "payment system"),
        ("changed", "currency USD"),
        ("created", "customer"),
        ("refunded", "payment"),
        ("void refused", "payment"),
    ):
        await expect(
            rows.filter(has_text=re.compile(rf"admin\s*{action}\s*{what}")).first
        ).to_be_visible()
    await check(page, "12-audit-trail")

    # And the payment system's own page shows its trail.
    await nav.get_by_role("link", name="Payment systems").click()
    await page.get_by_role("link", name="Stripe").click()
    await expect(page.get_by_role("row").filter(has_text="payment methods: VISA")).to_have_count(1)
