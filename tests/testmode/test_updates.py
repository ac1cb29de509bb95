"""PaymentIntent update (docs.stripe.com/api/payment_intents/update) and Refund update
(metadata only, docs.stripe.com/api/refunds/update) through the official SDK."""

from __future__ import annotations

import aiohttp
import pytest
import stripe

from tests.testmode.authpage import next_action_url


async def test_update_before_confirmation(client: stripe.StripeClient) -> None:
    cus = await client.v1.customers.create_async()
    pi = await client.v1.payment_intents.create_async({"amount": 1000, "currency": "usd"})
    updated = await client.v1.payment_intents.update_async(pi.id, {
        "amount": 2500, "currency": "eur", "customer": cus.id, "description": "order 9",
        "metadata": {"order": "9"}, "receipt_email": "a@example.com",
        "statement_descriptor_suffix": "ORDER9", "capture_method": "manual",
        "setup_future_usage": "off_session",
        "payment_method_options": {"card": {"request_three_d_secure": "any"}}})
    assert (updated.amount, updated.currency, updated.customer, updated.description) == (
        2500, "eur", cus.id, "order 9")
    assert updated.metadata.to_dict() == {"order": "9"}
    assert (updated.receipt_email, updated.statement_descriptor_suffix) == (
        "a@example.com", "ORDER9")
    assert (updated.capture_method, updated.setup_future_usage) == ("manual", "off_session")
    assert updated.payment_method_options is not None
    assert updated.payment_method_options.card is not None
    assert updated.payment_method_options.card.request_three_d_secure == "any"
    assert updated.status == "requires_payment_method"
    with_pm = await client.v1.payment_intents.update_async(
        pi.id, {"payment_method": "pm_card_visa"})
    assert with_pm.status == "requires_confirmation" and with_pm.payment_method
    confirmed = await client.v1.payment_intents.confirm_async(pi.id)
    assert (confirmed.status, confirmed.amount_capturable) == ("requires_capture", 2500)


async def test_update_refused_after_payment_but_metadata_allowed(
    client: stripe.StripeClient,
) -> None:
    pi = await client.v1.payment_intents.create_async(
        {"amount": 1000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True})
    assert pi.status == "succeeded"
    for params in ({"amount": 500}, {"payment_method": "pm_card_visa"}):
        with pytest.raises(stripe.InvalidRequestError) as exc:
            await client.v1.payment_intents.update_async(pi.id, params)  # type: ignore[arg-type]
        assert exc.value.code == "payment_intent_unexpected_state"
        assert "because it has a status of succeeded" in str(exc.value.user_message)
    tagged = await client.v1.payment_intents.update_async(
        pi.id, {"metadata": {"shipped": "yes"}, "description": "done"})
    assert tagged.metadata.to_dict() == {"shipped": "yes"} and tagged.description == "done"
    assert tagged.status == "succeeded" and tagged.amount == 1000


async def test_update_checks_amounts_and_parameters(client: stripe.StripeClient) -> None:
    pi = await client.v1.payment_intents.create_async({"amount": 1000, "currency": "usd"})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.payment_intents.update_async(pi.id, {"amount": 10})
    assert exc.value.code == "amount_too_small"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.payment_intents.update_async(
            pi.id, {"confirm": True})  # type: ignore[typeddict-unknown-key]
    assert exc.value.code == "parameter_unknown"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.payment_intents.update_async(pi.id, {"customer": "cus_nope"})
    assert exc.value.code == "resource_missing"
    assert (await client.v1.payment_intents.retrieve_async(pi.id)).amount == 1000


async def test_update_during_authentication_needs_a_new_confirmation(
    client: stripe.StripeClient, http: aiohttp.ClientSession,
) -> None:
    pi = await client.v1.payment_intents.create_async(
        {"amount": 1000, "currency": "eur", "payment_method": "pm_card_authenticationRequired",
         "confirm": True, "return_url": "https://shop.example/back"})
    assert pi.status == "requires_action"
    changed = await client.v1.payment_intents.update_async(pi.id, {"amount": 1200})
    assert (changed.status, changed.next_action, changed.amount) == (
        "requires_confirmation", None, 1200)
    async with http.get(next_action_url(pi)) as r:
        assert r.status == 404


async def test_refund_update_metadata_only(client: stripe.StripeClient) -> None:
    pi = await client.v1.payment_intents.create_async(
        {"amount": 3000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True})
    refund = await client.v1.refunds.create_async(
        {"payment_intent": pi.id, "amount": 1000, "metadata": {"a": "1"}})
    updated = await client.v1.refunds.update_async(
        refund.id, {"metadata": {"a": "", "reason_code": "damaged"}})
    assert updated.metadata is not None
    assert updated.metadata.to_dict() == {"reason_code": "damaged"}
    assert (updated.amount, updated.status) == (1000, "succeeded")
    again = await client.v1.refunds.retrieve_async(refund.id)
    assert again.metadata is not None and again.metadata.to_dict() == {"reason_code": "damaged"}
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.refunds.update_async(
            refund.id, {"amount": 5})  # type: ignore[typeddict-unknown-key]
    assert (exc.value.code, exc.value.param) == ("parameter_unknown", "amount")
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.refunds.update_async("re_nope", {"metadata": {"a": "b"}})
    assert exc.value.http_status == 404
