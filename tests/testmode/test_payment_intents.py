"""PaymentIntents: lifecycle, capture, cancel, declines at confirm time, 3DS, expansion."""

from __future__ import annotations

import pytest
import stripe

from tests.testmode.conftest import ClientFactory


async def _customer_with(client: stripe.StripeClient, pm: str = "pm_card_visa") -> tuple[str, str]:
    cus = await client.v1.customers.create_async()
    attached = await client.v1.payment_methods.attach_async(pm, {"customer": cus.id})
    return cus.id, attached.id


async def test_create_then_confirm_succeeds(client: stripe.StripeClient) -> None:
    pi = await client.v1.payment_intents.create_async({"amount": 2000, "currency": "usd"})
    assert pi.id.startswith("pi_") and pi.status == "requires_payment_method"
    assert pi.latest_charge is None and pi.amount_received == 0
    assert pi.client_secret and pi.client_secret.startswith(pi.id + "_secret_")
    confirmed = await client.v1.payment_intents.confirm_async(
        pi.id, {"payment_method": "pm_card_visa"})
    assert confirmed.status == "succeeded"
    assert confirmed.amount_received == 2000
    assert isinstance(confirmed.latest_charge, str) and confirmed.latest_charge.startswith("ch_")
    charge = await client.v1.charges.retrieve_async(confirmed.latest_charge)
    assert (charge.status, charge.paid, charge.captured, charge.amount_captured) == (
        "succeeded", True, True, 2000)
    assert charge.payment_intent == pi.id
    assert charge.payment_method_details and charge.payment_method_details.card
    assert charge.payment_method_details.card.last4 == "4242"


async def test_create_with_payment_method_requires_confirmation(
    client: stripe.StripeClient,
) -> None:
    cus, pm = await _customer_with(client)
    pi = await client.v1.payment_intents.create_async(
        {"amount": 1000, "currency": "eur", "customer": cus, "payment_method": pm,
         "description": "order 7", "metadata": {"order": "7"},
         "payment_method_types": ["card"]})
    assert pi.status == "requires_confirmation"
    assert pi.payment_method_types == ["card"]
    done = await client.v1.payment_intents.confirm_async(pi.id, {"expand": ["latest_charge"]})
    assert done.status == "succeeded"
    assert isinstance(done.latest_charge, stripe.Charge)
    assert done.latest_charge.customer == cus
    assert done.description == "order 7" and done.metadata.to_dict() == {"order": "7"}
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.payment_intents.confirm_async(pi.id)
    assert exc.value.code == "payment_intent_unexpected_state"


async def test_automatic_payment_methods_accepted_and_exclusive(
    client: stripe.StripeClient,
) -> None:
    pi = await client.v1.payment_intents.create_async(
        {"amount": 1000, "currency": "usd", "automatic_payment_methods": {"enabled": True}})
    assert pi.automatic_payment_methods is not None
    assert pi.automatic_payment_methods.enabled is True
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.payment_intents.create_async(
            {"amount": 1000, "currency": "usd", "automatic_payment_methods": {"enabled": True},
             "payment_method_types": ["card"]})
    assert exc.value.code == "parameters_exclusive"


async def test_manual_capture_partial_then_refund_limits(client: stripe.StripeClient) -> None:
    pi = await client.v1.payment_intents.create_async(
        {"amount": 5000, "currency": "usd", "payment_method": "pm_card_mastercard",
         "capture_method": "manual", "confirm": True})
    assert pi.status == "requires_capture" and pi.amount_capturable == 5000
    assert isinstance(pi.latest_charge, str)
    charge = await client.v1.charges.retrieve_async(pi.latest_charge)
    assert charge.captured is False
    assert charge.payment_method_details and charge.payment_method_details.card
    assert charge.payment_method_details.card.capture_before == charge.created + 7 * 86400
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.payment_intents.capture_async(pi.id, {"amount_to_capture": 5001})
    assert exc.value.param == "amount_to_capture"
    captured = await client.v1.payment_intents.capture_async(pi.id, {"amount_to_capture": 3000})
    assert (captured.status, captured.amount_received, captured.amount_capturable) == (
        "succeeded", 3000, 0)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.payment_intents.capture_async(pi.id)
    assert exc.value.code == "payment_intent_unexpected_state"
    assert "could not be captured because it has a status of succeeded" in str(
        exc.value.user_message)


async def test_capture_below_minimum_is_refused(client: stripe.StripeClient) -> None:
    pi = await client.v1.payment_intents.create_async(
        {"amount": 5000, "currency": "usd", "payment_method": "pm_card_visa",
         "capture_method": "manual", "confirm": True})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.payment_intents.capture_async(pi.id, {"amount_to_capture": 10})
    assert exc.value.code == "amount_too_small"


async def test_cancel_releases_authorization(client: stripe.StripeClient) -> None:
    pi = await client.v1.payment_intents.create_async(
        {"amount": 5000, "currency": "usd", "payment_method": "pm_card_visa",
         "capture_method": "manual", "confirm": True})
    canceled = await client.v1.payment_intents.cancel_async(
        pi.id, {"cancellation_reason": "requested_by_customer"})
    assert canceled.status == "canceled"
    assert canceled.cancellation_reason == "requested_by_customer"
    assert canceled.amount_capturable == 0
    assert isinstance(pi.latest_charge, str)
    charge = await client.v1.charges.retrieve_async(pi.latest_charge)
    assert charge.refunded is True and charge.amount_refunded == 5000
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.payment_intents.cancel_async(pi.id)
    assert exc.value.code == "payment_intent_unexpected_state"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.payment_intents.capture_async(pi.id)
    assert exc.value.code == "payment_intent_unexpected_state"


async def test_cancel_succeeded_is_refused(client: stripe.StripeClient) -> None:
    pi = await client.v1.payment_intents.create_async(
        {"amount": 5000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.payment_intents.cancel_async(pi.id)
    assert exc.value.http_status == 400
    assert exc.value.code == "payment_intent_unexpected_state"


DECLINES = [
    ("4000000000000002", "pm_card_visa_chargeDeclined", "card_declined", "generic_decline",
     "Your card was declined."),
    ("4000000000009995", "pm_card_visa_chargeDeclinedInsufficientFunds", "card_declined",
     "insufficient_funds", "Your card has insufficient funds."),
    ("4000000000009987", "pm_card_visa_chargeDeclinedLostCard", "card_declined", "lost_card",
     "Your card was declined."),
    ("4000000000009979", "pm_card_visa_chargeDeclinedStolenCard", "card_declined", "stolen_card",
     "Your card was declined."),
    ("4000000000000069", "pm_card_chargeDeclinedExpiredCard", "expired_card", None,
     "Your card has expired."),
    ("4000000000000127", "pm_card_chargeDeclinedIncorrectCvc", "incorrect_cvc", None,
     "Your card's security code is incorrect."),
    ("4000000000000119", "pm_card_chargeDeclinedProcessingError", "processing_error", None,
     "An error occurred while processing your card. Try again in a little bit."),
    ("4000000000006975", "pm_card_visa_chargeDeclinedVelocityLimitExceeded", "card_declined",
     "card_velocity_exceeded", None),
    ("4100000000000019", "pm_card_radarBlock", "card_declined", "fraudulent",
     "Your card was declined."),
]


@pytest.mark.parametrize("via", ["raw", "alias"])
@pytest.mark.parametrize(("number", "alias", "code", "decline_code", "message"), DECLINES)
async def test_decline_cards_fail_at_confirm_time(
    client: stripe.StripeClient, via: str, number: str, alias: str, code: str,
    decline_code: str | None, message: str | None,
) -> None:
    if via == "raw":
        pm = (await client.v1.payment_methods.create_async(
            {"type": "card", "card": {"number": number, "exp_month": 12, "exp_year": 2034,
                                      "cvc": "123"}})).id
    else:
        pm = alias
    pi = await client.v1.payment_intents.create_async(
        {"amount": 1500, "currency": "usd", "payment_method": pm})
    with pytest.raises(stripe.CardError) as exc:
        await client.v1.payment_intents.confirm_async(pi.id)
    err = exc.value
    assert err.http_status == 402
    assert err.code == code
    assert err.error is not None and err.error.decline_code == decline_code
    if message:
        assert err.user_message == message
    assert err.error.payment_intent is not None
    assert err.error.payment_intent.id == pi.id
    assert err.error.payment_intent.status == "requires_payment_method"
    after = await client.v1.payment_intents.retrieve_async(pi.id, {"expand": ["latest_charge"]})
    assert after.status == "requires_payment_method"
    assert after.last_payment_error is not None
    assert after.last_payment_error.code == code
    assert after.last_payment_error.to_dict().get("decline_code") == decline_code
    assert isinstance(after.latest_charge, stripe.Charge)
    assert after.latest_charge.status == "failed"
    assert after.latest_charge.failure_code == code
    assert after.latest_charge.id == err.error.charge
    # The intent can be retried with another card.
    retried = await client.v1.payment_intents.confirm_async(
        pi.id, {"payment_method": "pm_card_visa"})
    assert retried.status == "succeeded" and retried.last_payment_error is None


async def test_decline_on_create_with_confirm_keeps_the_intent(
    client: stripe.StripeClient,
) -> None:
    with pytest.raises(stripe.CardError) as exc:
        await client.v1.payment_intents.create_async(
            {"amount": 1500, "currency": "usd", "payment_method": "pm_card_visa_chargeDeclined",
             "confirm": True})
    assert exc.value.error is not None and exc.value.error.payment_intent is not None
    listed = await client.v1.payment_intents.list_async()
    assert [p.id for p in listed.data] == [exc.value.error.payment_intent.id]


async def test_three_d_secure_on_and_off_session(client: stripe.StripeClient) -> None:
    pi = await client.v1.payment_intents.create_async(
        {"amount": 1500, "currency": "usd", "payment_method": "pm_card_authenticationRequired",
         "confirm": True})
    assert pi.status == "requires_action"
    assert pi.next_action is not None and pi.next_action.type == "use_stripe_sdk"
    cus, pm = await _customer_with(client, "pm_card_authenticationRequired")
    with pytest.raises(stripe.CardError) as exc:
        await client.v1.payment_intents.create_async(
            {"amount": 1500, "currency": "usd", "customer": cus, "payment_method": pm,
             "confirm": True, "off_session": True})
    assert exc.value.code == "authentication_required"
    assert exc.value.error is not None
    assert exc.value.error.decline_code == "authentication_required"
    cus2, pm2 = await _customer_with(client, "pm_card_authenticationRequiredSetupForOffSession")
    ok = await client.v1.payment_intents.create_async(
        {"amount": 1500, "currency": "usd", "customer": cus2, "payment_method": pm2,
         "confirm": True, "off_session": True})
    assert ok.status == "succeeded"


async def test_payment_method_of_another_customer_is_refused(
    client: stripe.StripeClient,
) -> None:
    _, pm = await _customer_with(client)
    other = await client.v1.customers.create_async()
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.payment_intents.create_async(
            {"amount": 1500, "currency": "usd", "customer": other.id, "payment_method": pm,
             "confirm": True})
    assert exc.value.param == "payment_method"


async def test_confirm_without_payment_method(client: stripe.StripeClient) -> None:
    pi = await client.v1.payment_intents.create_async({"amount": 1500, "currency": "usd"})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.payment_intents.confirm_async(pi.id)
    assert exc.value.code == "payment_intent_unexpected_state"


async def test_list_by_customer_and_expand_in_list(client: stripe.StripeClient) -> None:
    cus, pm = await _customer_with(client)
    mine = await client.v1.payment_intents.create_async(
        {"amount": 1500, "currency": "usd", "customer": cus, "payment_method": pm,
         "confirm": True})
    await client.v1.payment_intents.create_async({"amount": 1500, "currency": "usd"})
    listed = await client.v1.payment_intents.list_async(
        {"customer": cus, "expand": ["data.latest_charge", "data.customer"]})
    assert [p.id for p in listed.data] == [mine.id]
    assert isinstance(listed.data[0].latest_charge, stripe.Charge)
    assert isinstance(listed.data[0].customer, stripe.Customer)
    charges = await client.v1.charges.list_async({"payment_intent": mine.id})
    assert [c.id for c in charges.data] == [mine.latest_charge]
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.payment_intents.retrieve_async(mine.id, {"expand": ["amount"]})


async def test_payment_method_data_inline(client: stripe.StripeClient) -> None:
    pi = await client.v1.payment_intents.create_async(
        {"amount": 1500, "currency": "usd", "confirm": True,
         "payment_method_data": {"type": "card", "card": {"number": "5555555555554444",
                                                          "exp_month": 1, "exp_year": 2033}}})  # type: ignore[typeddict-item]
    assert pi.status == "succeeded"
    assert isinstance(pi.payment_method, str)
    pm = await client.v1.payment_methods.retrieve_async(pi.payment_method)
    assert pm.card and pm.card.brand == "mastercard"


async def test_other_account_cannot_touch_intent(make_client: ClientFactory) -> None:
    a, b = make_client(), make_client()
    pi = await a.v1.payment_intents.create_async({"amount": 1500, "currency": "usd"})
    for call in (b.v1.payment_intents.retrieve_async(pi.id),
                 b.v1.payment_intents.cancel_async(pi.id)):
        with pytest.raises(stripe.InvalidRequestError) as exc:
            await call
        assert exc.value.http_status == 404 and exc.value.code == "resource_missing"
