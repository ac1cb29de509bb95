"""``capture_before`` on manual-capture charges with the documented windows, and expiry at it
(docs.stripe.com/payments/place-a-hold-on-a-payment-method), driven by the clock helper."""

from __future__ import annotations

import aiohttp
import pytest
import stripe

from amci.testmode import Clock, TestmodeSettings, create_app
from tests.testmode.conftest import ClientFactory, advance_clock
from tests.testmode.shapes import ShapeRecorder


async def _held(client: stripe.StripeClient, pm: str, *, off_session: bool) -> tuple[
        stripe.PaymentIntent, stripe.Charge]:
    params: stripe.PaymentIntentCreateParams = {
        "amount": 5000, "currency": "usd", "payment_method": pm, "capture_method": "manual",
        "confirm": True, "expand": ["latest_charge"]}
    if off_session:
        cus = await client.v1.customers.create_async()
        attached = await client.v1.payment_methods.attach_async(pm, {"customer": cus.id})
        params.update(customer=cus.id, payment_method=attached.id, off_session=True)
    pi = await client.v1.payment_intents.create_async(params)
    assert pi.status == "requires_capture"
    assert isinstance(pi.latest_charge, stripe.Charge)
    return pi, pi.latest_charge


@pytest.mark.parametrize(
    ("pm", "off_session", "window"),
    [("pm_card_visa", False, 7 * 86400),
     ("pm_card_visa", True, 4 * 86400 + 18 * 3600),
     ("pm_card_mastercard", True, 7 * 86400),
     ("pm_card_amex", True, 7 * 86400)],
)
async def test_capture_before_window(client: stripe.StripeClient, pm: str, off_session: bool,
                                     window: int) -> None:
    _, charge = await _held(client, pm, off_session=off_session)
    assert charge.payment_method_details and charge.payment_method_details.card
    assert charge.payment_method_details.card.capture_before == charge.created + window


async def test_expiry_at_capture_before(
    aiohttp_server, make_client: ClientFactory, http: aiohttp.ClientSession,  # type: ignore[no-untyped-def]
    shapes: ShapeRecorder,
) -> None:
    """A Visa merchant-initiated hold expires at 4 days 18 hours, not 7 days: exactly at
    ``capture_before`` (a frozen clock, so the boundary is exact)."""
    app = create_app(TestmodeSettings(rate_limit_per_second=None), clock=Clock(frozen=True))
    server = await aiohttp_server(shapes.attach(app))
    stripe_base_url = str(server.make_url("")).rstrip("/")
    client = make_client(base_url=stripe_base_url)
    pi, charge = await _held(client, "pm_card_visa", off_session=True)
    assert charge.payment_method_details and charge.payment_method_details.card
    capture_before = charge.payment_method_details.card.capture_before
    assert capture_before is not None
    now = await advance_clock(http, stripe_base_url, 0)
    await advance_clock(http, stripe_base_url, capture_before - now - 1)
    assert (await client.v1.payment_intents.retrieve_async(pi.id)).status == "requires_capture"
    await advance_clock(http, stripe_base_url, 1)
    expired = await client.v1.payment_intents.retrieve_async(pi.id)
    assert (expired.status, expired.cancellation_reason, expired.canceled_at) == (
        "canceled", "automatic", capture_before)
    released = await client.v1.charges.retrieve_async(charge.id)
    assert (released.status, released.captured, released.refunded, released.amount_refunded) == (
        "succeeded", False, True, 5000)
    refunds = await client.v1.refunds.list_async({"payment_intent": pi.id})
    assert [(r.reason, r.amount, r.status, r.created) for r in refunds.data] == [
        ("expired_uncaptured_charge", 5000, "succeeded", capture_before)]
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.payment_intents.capture_async(pi.id)
    assert exc.value.code == "payment_intent_unexpected_state"
