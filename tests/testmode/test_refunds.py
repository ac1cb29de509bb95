"""Refunds: full, partial, repeated partials, never more than captured."""

from __future__ import annotations

import pytest
import stripe


async def _paid(client: stripe.StripeClient, amount: int = 5000) -> stripe.PaymentIntent:
    return await client.v1.payment_intents.create_async(
        {"amount": amount, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True})


async def test_repeated_partials_up_to_the_captured_amount(client: stripe.StripeClient) -> None:
    pi = await _paid(client)
    r1 = await client.v1.refunds.create_async({"payment_intent": pi.id, "amount": 2000})
    assert (r1.object, r1.status, r1.amount, r1.payment_intent) == ("refund", "succeeded", 2000,
                                                                     pi.id)
    assert r1.id.startswith("re_") and r1.charge == pi.latest_charge
    r2 = await client.v1.refunds.create_async(
        {"charge": str(pi.latest_charge), "amount": 2500, "reason": "requested_by_customer"})
    assert r2.reason == "requested_by_customer"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.refunds.create_async({"payment_intent": pi.id, "amount": 501})
    assert exc.value.param == "amount"
    assert exc.value.user_message == (
        "Refund amount ($5.01) is greater than unrefunded amount on charge ($5.00)")
    rest = await client.v1.refunds.create_async({"payment_intent": pi.id})
    assert rest.amount == 500
    charge = await client.v1.charges.retrieve_async(str(pi.latest_charge))
    assert (charge.amount_refunded, charge.refunded) == (5000, True)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.refunds.create_async({"payment_intent": pi.id})
    assert exc.value.code == "charge_already_refunded"
    listed = await client.v1.refunds.list_async({"payment_intent": pi.id})
    assert [r.id for r in listed.data] == [rest.id, r2.id, r1.id]
    assert (await client.v1.refunds.retrieve_async(r1.id)).amount == 2000


async def test_refund_after_partial_capture_is_bounded_by_captured(
    client: stripe.StripeClient,
) -> None:
    pi = await client.v1.payment_intents.create_async(
        {"amount": 5000, "currency": "usd", "payment_method": "pm_card_visa",
         "capture_method": "manual", "confirm": True})
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.refunds.create_async({"payment_intent": pi.id})
    await client.v1.payment_intents.capture_async(pi.id, {"amount_to_capture": 1000})
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.refunds.create_async({"payment_intent": pi.id, "amount": 1001})
    full = await client.v1.refunds.create_async({"payment_intent": pi.id})
    assert full.amount == 1000


async def test_refund_needs_a_target_and_a_successful_charge(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.refunds.create_async()
    assert exc.value.code == "parameter_missing"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.refunds.create_async({"charge": "ch_missing"})
    assert exc.value.code == "resource_missing" and exc.value.param == "charge"
    pending = await client.v1.payment_intents.create_async({"amount": 1000, "currency": "usd"})
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.refunds.create_async({"payment_intent": pending.id})


async def test_refund_amount_must_respect_three_decimals(client: stripe.StripeClient) -> None:
    pi = await client.v1.payment_intents.create_async(
        {"amount": 5000, "currency": "kwd", "payment_method": "pm_card_visa", "confirm": True})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.refunds.create_async({"payment_intent": pi.id, "amount": 15})
    assert exc.value.param == "amount"
    ok = await client.v1.refunds.create_async({"payment_intent": pi.id, "amount": 10})
    assert ok.amount == 10
