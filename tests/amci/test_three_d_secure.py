"""3D Secure, cards saved for off-session use, declines a billing system can act on — through
AMCI's HTTP API, the real SDK and the embedded test mode, the customer's browser played by a plain
HTTP client that opens the page AMCI's next_action points to and submits its form."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from yarl import URL

from amci import declines
from tests.testmode.authpage import COMPLETE, FAIL, press

Stack = Any
PAY = "/v1/stripe/payments"
CARDS = "/v1/stripe/cards"
BACK = "https://billing.example/return/payments/7?k=v"
EMAIL = {"email": "jane@example.com", "name": "Jane Roe"}


@pytest.fixture
async def embedded(make_stack: Any) -> Stack:
    """AMCI running the test mode itself, as `make run` does: page URLs must point at AMCI."""
    stack = await make_stack()
    return await make_stack(upstream=stack.settings.upstream.model_copy(
        update={"test_api_base": None}))


async def _browser_follow(stack: Stack, url: str, button: str) -> URL:
    """Open the page (through AMCI), press the button, and return where the 303 sends the
    customer (not followed: billing.example is not a real host)."""
    assert url.startswith(str(stack.amci.make_url("/_testmode/authenticate/"))), url
    async with aiohttp.ClientSession() as http:
        resp = await press(http, url, button, follow=False)
    assert resp.status == 303
    return URL(resp.headers["Location"])


async def test_payment_with_return_url_redirects_then_succeeds(embedded: Stack) -> None:
    status, pay, _ = await embedded.post(PAY, {
        "amount": "20.00", "currency": "EUR", "card": embedded.card("4000002760003184"),
        "return_url": BACK})
    assert status == 201 and pay["status"] == "requires_action", pay
    assert pay["next_action"]["type"] == "redirect"
    assert pay["message"] == "Additional authentication is required to complete this payment."
    assert await embedded.metric("amci_payments_total", operation="sale",
                                 outcome="requires_action") == 1
    assert await embedded.metric("amci_payments_total", operation="sale",
                                 outcome="succeeded") == 0

    back = await _browser_follow(embedded, pay["next_action"]["url"], COMPLETE)
    assert str(back).startswith("https://billing.example/return/payments/7?k=v&")
    assert back.query["payment_intent"] == pay["id"]
    assert back.query["redirect_status"] == "succeeded"

    status, fresh = await embedded.get(f"{PAY}/{pay['id']}")
    assert status == 200 and fresh["status"] == "succeeded" and fresh["next_action"] is None
    assert fresh["message"] == "The payment was successful."
    assert fresh["amount_received"] == "20.00"


async def test_failed_authentication_is_not_retryable_and_says_so(embedded: Stack) -> None:
    status, pay, _ = await embedded.post(PAY, {
        "amount": "20.00", "currency": "EUR", "card": embedded.card("4000002500003155"),
        "return_url": BACK})
    assert status == 201 and pay["status"] == "requires_action"
    back = await _browser_follow(embedded, pay["next_action"]["url"], FAIL)
    assert back.query["redirect_status"] == "failed"
    _, fresh = await embedded.get(f"{PAY}/{pay['id']}")
    assert fresh["status"] == "requires_payment_method"
    assert fresh["last_error"]["code"] == "payment_intent_authentication_failure"
    assert fresh["last_error"]["retryable"] is False
    assert fresh["message"].startswith("We are unable to authenticate your payment method.")
    assert fresh["card"]["last4"] == "3155"


async def test_without_return_url_authentication_required_then_a_fresh_link(
    embedded: Stack,
) -> None:
    body = {"amount": "15.00", "currency": "EUR", "card": embedded.card("4000002760003184")}
    status, refusal, _ = await embedded.post(PAY, body, idem="no-return-1")
    err = refusal["error"]
    assert status == 402 and err["code"] == "authentication_required", refusal
    assert err["retryable"] is False and err["payment"].startswith("pi_")
    assert err["message"] == "Additional authentication is required to complete this payment."
    # The same request again: the same payment, not a second one.
    status, again, headers = await embedded.post(PAY, body, idem="no-return-1")
    assert status == 402 and again == refusal and headers["Idempotent-Replayed"] == "true"

    link = f"{PAY}/{err['payment']}/authenticate"
    status, first, _ = await embedded.post(link, {"return_url": BACK})
    assert status == 200 and first["status"] == "requires_action", first
    status, second, _ = await embedded.post(link, {"return_url": BACK})
    assert second["next_action"]["url"] != first["next_action"]["url"]  # a fresh page
    async with aiohttp.ClientSession() as http:
        async with http.get(first["next_action"]["url"]) as old:
            assert old.status == 404  # the first page was replaced
    await _browser_follow(embedded, second["next_action"]["url"], COMPLETE)
    _, done = await embedded.get(f"{PAY}/{err['payment']}")
    assert done["status"] == "succeeded"
    status, late, _ = await embedded.post(link, {"return_url": BACK})
    assert status == 400 and late["error"]["code"] == "payment_intent_unexpected_state"


async def test_card_saved_with_3ds_then_charged_off_session(embedded: Stack) -> None:
    status, saved, _ = await embedded.post(CARDS, {
        "card": embedded.card("4000002500003155"), "customer": EMAIL,
        "return_url": "https://billing.example/return/cards/3"})
    assert status == 201 and saved["status"] == "requires_action", saved
    assert saved["off_session_ready"] is False
    assert saved["message"] == "Additional authentication is required to save this card."
    back = await _browser_follow(embedded, saved["next_action"]["url"], COMPLETE)
    assert back.query["setup_intent"].startswith("seti_")

    status, card = await embedded.get(f"{CARDS}/{saved['token']}")
    assert status == 200 and card["status"] == "succeeded", card
    assert card["off_session_ready"] is True and card["message"] == "The card was saved."

    status, pay, _ = await embedded.post(PAY, {
        "amount": "9.00", "currency": "EUR", "token": saved["token"], "off_session": True})
    assert status == 201 and pay["status"] == "succeeded", pay  # no authentication asked


async def test_card_needing_authentication_without_return_url_is_not_saved(
    embedded: Stack,
) -> None:
    status, refusal, _ = await embedded.post(CARDS, {
        "card": embedded.card("4000002500003155"), "customer": EMAIL})
    assert status == 402 and refusal["error"]["code"] == "authentication_required"
    assert "payment" not in refusal["error"]


async def test_save_card_on_first_payment_then_off_session(embedded: Stack) -> None:
    status, pay, _ = await embedded.post(PAY, {
        "amount": "30.00", "currency": "EUR", "card": embedded.card("4000002500003155"),
        "customer": EMAIL, "save_card": True, "return_url": BACK})
    assert status == 201 and pay["status"] == "requires_action", pay
    token = pay["token"]
    assert token.startswith("pm_") and pay["customer"].startswith("cus_")
    _, card = await embedded.get(f"{CARDS}/{token}")
    assert card["status"] == "requires_action" and card["off_session_ready"] is False, card
    await _browser_follow(embedded, pay["next_action"]["url"], COMPLETE)

    _, card = await embedded.get(f"{CARDS}/{token}")
    assert card["status"] == "succeeded" and card["off_session_ready"] is True, card
    status, later, _ = await embedded.post(PAY, {
        "amount": "30.00", "currency": "EUR", "token": token, "off_session": True})
    assert status == 201 and later["status"] == "succeeded", later


async def test_off_session_authentication_required_then_link_completes(embedded: Stack) -> None:
    saved = await embedded.save_card("4000002760003184", return_url=BACK)
    assert saved["status"] == "requires_action"
    await _browser_follow(embedded, saved["next_action"]["url"], COMPLETE)
    # 3184 "requires authentication on all transactions, regardless of how the card is set up"
    # (docs.stripe.com/testing).
    status, refusal, _ = await embedded.post(PAY, {
        "amount": "12.00", "currency": "EUR", "token": saved["token"], "off_session": True})
    err = refusal["error"]
    assert status == 402 and err["code"] == "authentication_required", refusal
    assert err["retryable"] is False and err["payment"].startswith("pi_")
    assert await embedded.metric("amci_payments_total", operation="sale",
                                 outcome="requires_action") == 1

    status, linked, _ = await embedded.post(f"{PAY}/{err['payment']}/authenticate",
                                            {"return_url": BACK})
    assert status == 200 and linked["status"] == "requires_action", linked
    await _browser_follow(embedded, linked["next_action"]["url"], COMPLETE)
    _, done = await embedded.get(f"{PAY}/{err['payment']}")
    assert done["status"] == "succeeded" and done["amount_received"] == "12.00"


async def test_authorization_shows_capture_before(embedded: Stack) -> None:
    status, auth, _ = await embedded.post(PAY, {
        "amount": "5.00", "currency": "USD", "card": embedded.card("5555555555554444"),
        "capture": False})
    assert status == 201 and auth["status"] == "requires_capture"
    # docs.stripe.com/payments/place-a-hold-on-a-payment-method: 7 days for Mastercard online.
    assert auth["capture_before"] - auth["created"] == 7 * 86400
    _, fresh = await embedded.get(f"{PAY}/{auth['id']}")
    assert fresh["capture_before"] == auth["capture_before"]
    status, void, _ = await embedded.post(f"{PAY}/{auth['id']}/void", {})
    assert status == 400 and "capture_before" in void["error"]["message"]


@pytest.mark.parametrize(("number", "decline_code", "retryable"), [
    ("4000000000009995", "insufficient_funds", True),
    ("4000000000009979", "stolen_card", False),
    ("4000000000000002", "generic_decline", True),
    ("4000000000009987", "lost_card", False),
])
async def test_declines_carry_retryable(stack: Stack, number: str, decline_code: str,
                                        retryable: bool) -> None:
    status, refusal, _ = await stack.post(PAY, {
        "amount": "10.00", "currency": "USD", "card": stack.card(number)})
    err = refusal["error"]
    assert status == 402 and err["code"] == "card_declined", refusal
    assert err["decline_code"] == decline_code and err["retryable"] is retryable


def test_decline_table_order_and_default() -> None:
    assert declines.retryable("card_declined", "insufficient_funds") is True
    assert declines.retryable("card_declined", "stolen_card") is False
    # The issuer's advice wins over the decline code.
    assert declines.retryable("card_declined", "insufficient_funds", "do_not_try_again") is False
    assert declines.retryable("card_declined", "do_not_honor", "try_again_later") is True
    assert declines.retryable("card_declined") is True  # a decline without a reason
    assert declines.retryable("something_new", "never_heard_of") is False


async def test_refusals_of_the_new_fields(stack: Stack) -> None:
    cases = [
        ({"amount": "1.00", "currency": "USD", "card": stack.card(), "off_session": True},
         "off_session"),
        ({"amount": "1.00", "currency": "USD", "token": "pm_x", "off_session": True,
          "return_url": BACK}, "return_url"),
        ({"amount": "1.00", "currency": "USD", "token": "pm_x", "save_card": True},
         "save_card"),
        ({"amount": "1.00", "currency": "USD", "card": stack.card(), "save_card": True},
         "customer.email"),
        ({"amount": "1.00", "currency": "USD", "card": stack.card(), "return_url": "/relative"},
         "return_url"),
        ({"amount": "1.00", "currency": "USD", "card": stack.card(), "off_session": "yes"},
         "off_session"),
    ]
    for body, param in cases:
        status, refusal, _ = await stack.post(PAY, body)
        assert status == 400 and refusal["error"]["param"] == param, (body, refusal)
    assert stack.upstream.count("POST", "/v1/payment_intents") == 0


async def test_authenticate_does_not_retry_an_issuer_decline(stack: Stack) -> None:
    status, refusal, _ = await stack.post(PAY, {
        "amount": "10.00", "currency": "USD", "card": stack.card("4000000000009995")})
    assert status == 402
    status, again, _ = await stack.post(f"{PAY}/{refusal['error']['payment']}/authenticate",
                                        {"return_url": BACK})
    assert status == 400 and again["error"]["code"] == "payment_intent_unexpected_state"
    # The payment's own confirmation only: no second attempt.
    assert stack.upstream.count("POST", "/v1/payment_intents/") == 1


async def test_a_declined_save_card_payment_leaves_no_customer(stack: Stack) -> None:
    status, refusal, _ = await stack.post(PAY, {
        "amount": "10.00", "currency": "USD", "card": stack.card("4000000000009995"),
        "customer": EMAIL, "save_card": True})
    assert status == 402 and refusal["error"]["decline_code"] == "insufficient_funds"
    assert stack.upstream.count("POST", "/v1/customers") == 1
    assert stack.upstream.count("DELETE", "/v1/customers/") == 1
