"""The documented clock test helper and the 7-day authorization expiry it drives."""

from __future__ import annotations

import aiohttp
import pytest
import stripe

from tests.testmode.conftest import advance_clock


async def test_clock_get_and_advance(http: aiohttp.ClientSession, stripe_base_url: str) -> None:
    async with http.get(f"{stripe_base_url}/_testmode/clock") as r:
        body = await r.json()
    assert body["object"] == "testmode_clock" and isinstance(body["now"], int)
    async with http.post(f"{stripe_base_url}/_testmode/clock/advance", json={"seconds": 3600}) as r:
        assert r.status == 200
        later = (await r.json())["now"]
    assert later - body["now"] >= 3600


@pytest.mark.parametrize(
    "payload", [{"seconds": "-1"}, {"seconds": "abc"}, {}, {"seconds": "1", "other": "2"},
                {"seconds": "999999999999"}])
async def test_clock_advance_refuses_bad_input(http: aiohttp.ClientSession, stripe_base_url: str,
                                               payload: dict[str, str]) -> None:
    async with http.post(f"{stripe_base_url}/_testmode/clock/advance", data=payload) as r:
        assert r.status == 400
        assert (await r.json())["error"]["type"] == "invalid_request_error"


async def test_manual_capture_expires_after_seven_days(
    client: stripe.StripeClient, http: aiohttp.ClientSession, stripe_base_url: str
) -> None:
    pi = await client.v1.payment_intents.create_async(
        {"amount": 3000, "currency": "usd", "payment_method": "pm_card_visa",
         "capture_method": "manual", "confirm": True})
    await advance_clock(http, stripe_base_url, 7 * 86400 - 60)
    assert (await client.v1.payment_intents.retrieve_async(pi.id)).status == "requires_capture"
    await advance_clock(http, stripe_base_url, 120)
    expired = await client.v1.payment_intents.retrieve_async(pi.id)
    assert expired.status == "canceled"
    assert expired.cancellation_reason == "automatic"
    assert expired.amount_capturable == 0
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.payment_intents.capture_async(pi.id)
    assert exc.value.http_status == 400
    assert exc.value.code == "payment_intent_unexpected_state"
    assert exc.value.user_message == (
        "This PaymentIntent could not be captured because it has a status of canceled. Only a"
        " PaymentIntent with one of the following statuses may be captured: requires_capture.")
    charge = await client.v1.charges.retrieve_async(str(pi.latest_charge))
    assert charge.captured is False and charge.refunded is True


async def test_expiry_applies_on_capture_without_prior_read(
    client: stripe.StripeClient, http: aiohttp.ClientSession, stripe_base_url: str
) -> None:
    pi = await client.v1.payment_intents.create_async(
        {"amount": 3000, "currency": "usd", "payment_method": "pm_card_visa",
         "capture_method": "manual", "confirm": True})
    await advance_clock(http, stripe_base_url, 8 * 86400)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.payment_intents.capture_async(pi.id)
    assert exc.value.code == "payment_intent_unexpected_state"
    listed = await client.v1.payment_intents.list_async()
    assert listed.data[0].status == "canceled"
