"""The self-care portal's 3D Secure step in a real browser: the customer saves a card the bank
wants to confirm, follows the link to the (test-mode) bank page, completes it and comes back to
the result; then pays with it, confirms the payment the same way, and finds it in the history."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from playwright.async_api import Page, expect

from ..conftest import setup_stripe
from .conftest import axe_violations, base, screenshot, set_customer_login

# Stripe's test card that asks for authentication on every setup and every payment
# (docs.stripe.com/testing#regulatory-cards: 4000 0027 6000 3184, "always authenticate").
THREE_DS_CARD = "4000002760003184"


async def test_portal_card_and_payment_through_3d_secure(
    site: TestClient[Any, Any], page: Page
) -> None:
    root = base(site)
    ids = await setup_stripe(site, email="jane@example.com")
    await set_customer_login(site, ids["customer"], "jane", "jane-password-1")
    await page.goto(f"{root}/portal/login")
    await page.get_by_label("Username").fill("jane")
    await page.get_by_label("Password").fill("jane-password-1")
    await page.get_by_role("button", name="Sign in").click()

    await page.get_by_label("Card number").fill(THREE_DS_CARD)
    await page.get_by_label("Expiry month (MM)").fill("12")
    await page.get_by_label("Expiry year (YYYY)").fill("2034")
    await page.get_by_label("Security code (CVC)").fill("123")
    await page.get_by_role("button", name="Save card").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Confirm with your bank")
    assert await axe_violations(page) == []
    await page.get_by_role("link", name="Continue to your bank's check").click()
    await page.get_by_role("button", name="Complete authentication").click()
    await expect(page.locator("#message")).to_have_text("The card was saved.")
    await page.get_by_role("link", name="Back to your account").click()
    await expect(page.get_by_role("cell", name="VISA •••• 3184")).to_be_visible()
    await expect(page.get_by_role("row").filter(has_text="3184")).to_contain_text("active")

    await page.get_by_label("Amount (USD)").fill("25.00")
    await page.get_by_label("Card", exact=True).select_option(label="VISA •••• 3184")
    await page.get_by_role("button", name="Pay").click()
    await expect(page.locator("#message")).to_have_text(
        "Additional authentication is required to complete this payment."
    )
    await screenshot(page, "13-portal-3d-secure")
    assert await axe_violations(page) == []
    await page.get_by_role("link", name="Confirm the payment with your bank").click()
    await page.get_by_role("button", name="Complete authentication").click()
    await expect(page.locator("#message")).to_have_text("The payment was successful.")
    await page.get_by_role("link", name="Back to your account").click()
    history = page.get_by_role("region", name="Transaction history")
    await expect(history.get_by_role("row").filter(has_text="25.00 USD")).to_contain_text(
        "succeeded"
    )

    # The customer deletes the saved card: gone from the list and from the payment form.
    await page.get_by_role("button", name="Delete VISA ending 3184").click()
    await expect(page.get_by_role("status")).to_have_text("The card was deleted.")
    await expect(page.get_by_text("No saved card.")).to_be_visible()
    await expect(page.get_by_role("button", name="Pay")).to_have_count(0)
