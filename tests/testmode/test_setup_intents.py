"""SetupIntents (docs.stripe.com/api/setup_intents) through the official SDK: lifecycle,
SetupAttempts, declines and 3D Secure during setup, then off-session payments; and
``setup_future_usage`` on PaymentIntents (save the card with the first payment)."""

from __future__ import annotations

import aiohttp
import pytest
import stripe

from tests.testmode.authpage import COMPLETE, FAIL, next_action_url, press
from tests.testmode.test_three_d_secure import ReturnSite, site  # noqa: F401 - fixture

CARD = {"exp_month": 12, "exp_year": 2040, "cvc": "123"}


async def test_create_retrieve_update_list_cancel(client: stripe.StripeClient) -> None:
    cus = await client.v1.customers.create_async()
    si = await client.v1.setup_intents.create_async(
        {"customer": cus.id, "metadata": {"order": "7"}, "description": "save"})
    assert si.id.startswith("seti_") and si.object == "setup_intent"
    assert (si.status, si.usage, si.customer, si.payment_method) == (
        "requires_payment_method", "off_session", cus.id, None)
    assert si.client_secret and si.client_secret.startswith(si.id + "_secret_")
    assert si.latest_attempt is None and si.metadata.to_dict() == {"order": "7"}
    got = await client.v1.setup_intents.retrieve_async(si.id)
    assert got.id == si.id
    updated = await client.v1.setup_intents.update_async(
        si.id, {"metadata": {"order": "", "note": "x"}, "payment_method": "pm_card_visa"})
    assert updated.metadata.to_dict() == {"note": "x"} and updated.status == "requires_confirmation"
    on = await client.v1.setup_intents.create_async({"usage": "on_session"})
    assert on.usage == "on_session"
    listed = await client.v1.setup_intents.list_async({"customer": cus.id})
    assert [s.id for s in listed.data] == [si.id]
    everything = await client.v1.setup_intents.list_async({"limit": 1})
    assert [s.id for s in everything.data] == [on.id] and everything.has_more
    canceled = await client.v1.setup_intents.cancel_async(
        si.id, {"cancellation_reason": "requested_by_customer"})
    assert (canceled.status, canceled.cancellation_reason) == (
        "canceled", "requested_by_customer")
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.setup_intents.confirm_async(si.id)
    assert exc.value.code == "setup_intent_unexpected_state"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.setup_intents.retrieve_async("seti_nope")
    assert exc.value.http_status == 404


@pytest.mark.parametrize("how", ["alias", "payment_method", "raw_card"])
async def test_confirm_attaches_to_customer_with_attempt(client: stripe.StripeClient,
                                                          how: str) -> None:
    cus = await client.v1.customers.create_async()
    si = await client.v1.setup_intents.create_async({"customer": cus.id})
    if how == "alias":
        params: stripe.SetupIntentConfirmParams = {"payment_method": "pm_card_mastercard"}
    elif how == "payment_method":
        pm = await client.v1.payment_methods.create_async(
            {"type": "card", "card": {**CARD, "number": "5555555555554444"}})
        params = {"payment_method": pm.id}
    else:
        params = {"payment_method_data": {"type": "card", "card": {
            **CARD, "number": "5555555555554444"}}}
    done = await client.v1.setup_intents.confirm_async(si.id, {**params,
                                                               "expand": ["latest_attempt"]})
    assert (done.status, done.last_setup_error, done.next_action) == ("succeeded", None, None)
    attempt = done.latest_attempt
    assert isinstance(attempt, stripe.SetupAttempt)
    assert attempt.id.startswith("setatt_") and attempt.status == "succeeded"
    assert (attempt.setup_intent, attempt.customer, attempt.usage) == (
        si.id, cus.id, "off_session")
    assert attempt.payment_method_details.card is not None
    assert attempt.payment_method_details.card.last4 == "4444"
    assert isinstance(done.payment_method, str)
    saved = await client.v1.customers.payment_methods.list_async(cus.id)
    assert [m.id for m in saved.data] == [done.payment_method]
    attempts = await client.v1.setup_attempts.list_async({"setup_intent": si.id})
    assert [a.id for a in attempts.data] == [attempt.id]
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.setup_intents.cancel_async(si.id)
    assert exc.value.code == "setup_intent_unexpected_state"


async def test_setup_then_off_session_charge(
    client: stripe.StripeClient, http: aiohttp.ClientSession, site: ReturnSite,  # noqa: F811
) -> None:
    """The documented SCA flow: authenticate once while setting up, charge later off-session."""
    cus = await client.v1.customers.create_async()
    si = await client.v1.setup_intents.create_async(
        {"customer": cus.id, "payment_method": "pm_card_authenticationRequiredOnSetup",
         "confirm": True, "return_url": site.url})
    assert si.status == "requires_action" and si.next_action is not None
    assert si.next_action.type == "redirect_to_url"
    final = await press(http, next_action_url(si), COMPLETE)
    assert final.history[0].status == 303
    assert site.seen[-1] == {"setup_intent": si.id,
                             "setup_intent_client_secret": str(si.client_secret),
                             "redirect_status": "succeeded"}
    done = await client.v1.setup_intents.retrieve_async(si.id, {"expand": ["latest_attempt"]})
    assert done.status == "succeeded"
    attempt = done.latest_attempt
    assert isinstance(attempt, stripe.SetupAttempt)
    assert attempt.payment_method_details.card is not None
    tds = attempt.payment_method_details.card.three_d_secure
    assert tds is not None and tds.result == "authenticated"
    assert isinstance(done.payment_method, str)
    pi = await client.v1.payment_intents.create_async(
        {"amount": 4200, "currency": "eur", "customer": cus.id,
         "payment_method": done.payment_method, "confirm": True, "off_session": True})
    assert (pi.status, pi.amount_received) == ("succeeded", 4200)


async def test_failed_authentication_on_setup(
    client: stripe.StripeClient, http: aiohttp.ClientSession, site: ReturnSite,  # noqa: F811
) -> None:
    cus = await client.v1.customers.create_async()
    si = await client.v1.setup_intents.create_async(
        {"customer": cus.id, "payment_method": "pm_card_authenticationRequired",
         "confirm": True, "return_url": site.url})
    await press(http, next_action_url(si), FAIL)
    assert site.seen[-1]["redirect_status"] == "failed"
    failed = await client.v1.setup_intents.retrieve_async(si.id, {"expand": ["latest_attempt"]})
    assert (failed.status, failed.payment_method) == ("requires_payment_method", None)
    err = failed.last_setup_error
    assert err is not None and (err.type, err.code) == (
        "invalid_request_error", "setup_intent_authentication_failure")
    assert isinstance(failed.latest_attempt, stripe.SetupAttempt)
    assert failed.latest_attempt.status == "failed"
    assert (await client.v1.customers.payment_methods.list_async(cus.id)).data == []


async def test_reconfirm_and_cancel_abandon_the_pending_attempt(
    client: stripe.StripeClient, http: aiohttp.ClientSession,
) -> None:
    si = await client.v1.setup_intents.create_async(
        {"payment_method": "pm_card_authenticationRequired", "confirm": True})
    first = si.latest_attempt
    again = await client.v1.setup_intents.confirm_async(si.id)
    assert again.status == "requires_action" and again.latest_attempt != first
    async with http.get(next_action_url(si)) as r:
        assert r.status == 404  # the first page is retired
    canceled = await client.v1.setup_intents.cancel_async(si.id)
    assert canceled.status == "canceled"
    attempts = await client.v1.setup_attempts.list_async({"setup_intent": si.id})
    assert [a.status for a in attempts.data] == ["abandoned", "abandoned"]


async def test_decline_during_setup(client: stripe.StripeClient) -> None:
    """"4000000000009995 is declined during setup" (docs.stripe.com/payments/save-and-reuse)."""
    cus = await client.v1.customers.create_async()
    with pytest.raises(stripe.CardError) as exc:
        await client.v1.setup_intents.create_async(
            {"customer": cus.id, "confirm": True,
             "payment_method": "pm_card_visa_chargeDeclinedInsufficientFunds"})
    assert exc.value.code == "card_declined"
    assert exc.value.error is not None and exc.value.error.setup_intent is not None
    si = exc.value.error.setup_intent
    assert si.status == "requires_payment_method"
    assert si.last_setup_error is not None
    assert si.last_setup_error.decline_code == "insufficient_funds"
    retried = await client.v1.setup_intents.confirm_async(si.id, {"payment_method": "pm_card_visa"})
    assert retried.status == "succeeded"


async def test_setup_future_usage_then_off_session_charge(
    client: stripe.StripeClient, http: aiohttp.ClientSession, site: ReturnSite,  # noqa: F811
) -> None:
    """One authentication during the first payment saves the card for off-session use."""
    cus = await client.v1.customers.create_async()
    first = await client.v1.payment_intents.create_async(
        {"amount": 1000, "currency": "eur", "customer": cus.id, "confirm": True,
         "payment_method": "pm_card_authenticationRequiredOnSetup",
         "setup_future_usage": "off_session", "return_url": site.url})
    assert first.status == "requires_action" and first.setup_future_usage == "off_session"
    await press(http, next_action_url(first), COMPLETE)
    paid = await client.v1.payment_intents.retrieve_async(first.id)
    assert paid.status == "succeeded" and isinstance(paid.payment_method, str)
    saved = await client.v1.customers.payment_methods.list_async(cus.id)
    assert [m.id for m in saved.data] == [paid.payment_method]
    later = await client.v1.payment_intents.create_async(
        {"amount": 2500, "currency": "eur", "customer": cus.id,
         "payment_method": paid.payment_method, "confirm": True, "off_session": True})
    assert later.status == "succeeded"


async def test_saved_without_setup_is_declined_off_session(client: stripe.StripeClient) -> None:
    """The contrast: the same card saved by a bare attach still needs authentication."""
    cus = await client.v1.customers.create_async()
    pm = await client.v1.payment_methods.attach_async(
        "pm_card_authenticationRequiredOnSetup", {"customer": cus.id})
    with pytest.raises(stripe.CardError) as exc:
        await client.v1.payment_intents.create_async(
            {"amount": 2500, "currency": "eur", "customer": cus.id, "payment_method": pm.id,
             "confirm": True, "off_session": True})
    assert exc.value.code == "authentication_required"


async def test_setup_attempts_require_a_setup_intent(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.setup_attempts.list_async({})  # type: ignore[typeddict-item]
    assert (exc.value.code, exc.value.param) == ("parameter_missing", "setup_intent")
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.setup_attempts.list_async({"setup_intent": "seti_nope"})
    assert exc.value.code == "resource_missing"


async def test_card_level_setup_future_usage_overrides(client: stripe.StripeClient) -> None:
    """``payment_method_options[card][setup_future_usage]`` wins over the intent's own;
    ``none`` unsets it for card payments."""
    cus = await client.v1.customers.create_async()
    saved = await client.v1.payment_intents.create_async(
        {"amount": 1000, "currency": "eur", "customer": cus.id, "confirm": True,
         "payment_method": "pm_card_authenticationRequiredSetupForOffSession",
         "off_session": True,
         "payment_method_options": {"card": {"setup_future_usage": "off_session"}}})
    assert saved.status == "succeeded"
    assert saved.payment_method_options is not None
    assert saved.payment_method_options.card is not None
    assert saved.payment_method_options.card.setup_future_usage == "off_session"
    listed = await client.v1.customers.payment_methods.list_async(cus.id)
    assert [m.id for m in listed.data] == [saved.payment_method]
    cus2 = await client.v1.customers.create_async()
    unsaved = await client.v1.payment_intents.create_async(
        {"amount": 1000, "currency": "eur", "customer": cus2.id, "confirm": True,
         "payment_method": "pm_card_visa", "setup_future_usage": "off_session",
         "payment_method_options": {"card": {"setup_future_usage": "none"}}})
    assert unsaved.status == "succeeded"
    assert (await client.v1.customers.payment_methods.list_async(cus2.id)).data == []
