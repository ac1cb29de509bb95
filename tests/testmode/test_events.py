"""Events per flow (the committed table tests/testmode/data/event-sequences.json), the Events
API, and their shape: through the official SDK against the real server."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import stripe

from tests.testmode.authpage import COMPLETE, FAIL, next_action_url, press
from tests.testmode.conftest import advance_clock

SEQUENCES = json.loads((Path(__file__).with_name("data") / "event-sequences.json").read_text())
DAY = 86400


@dataclass
class Env:
    http: aiohttp.ClientSession
    base: str

    async def advance(self, seconds: int) -> int:
        return await advance_clock(self.http, self.base, seconds)


async def event_types(client: stripe.StripeClient) -> list[str]:
    """Every event of the client's account, oldest first."""
    types: list[str] = []
    async for ev in (await client.v1.events.list_async({"limit": 100})).auto_paging_iter():
        types.append(ev.type)
    return types[::-1]


async def _pay(client: stripe.StripeClient, pm: str, **extra: object) -> stripe.PaymentIntent:
    return await client.v1.payment_intents.create_async(
        {"amount": 4200, "currency": "usd", "payment_method": pm, "confirm": True,
         **extra})  # type: ignore[typeddict-item]


Flow = Callable[[stripe.StripeClient, Env], Awaitable[None]]


async def card_automatic_capture(c: stripe.StripeClient, env: Env) -> None:
    await _pay(c, "pm_card_visa")


async def card_declined(c: stripe.StripeClient, env: Env) -> None:
    with pytest.raises(stripe.CardError):
        await _pay(c, "pm_card_chargeDeclined")


async def three_d_secure_required(c: stripe.StripeClient, env: Env) -> None:
    pi = await _pay(c, "pm_card_authenticationRequired", return_url="https://shop.example/done")
    assert pi.status == "requires_action"


async def three_d_secure_completed(c: stripe.StripeClient, env: Env) -> None:
    pi = await _pay(c, "pm_card_authenticationRequired", return_url="https://shop.example/done")
    await press(env.http, next_action_url(pi), COMPLETE, follow=False)
    assert (await c.v1.payment_intents.retrieve_async(pi.id)).status == "succeeded"


async def three_d_secure_failed(c: stripe.StripeClient, env: Env) -> None:
    pi = await _pay(c, "pm_card_authenticationRequired", return_url="https://shop.example/done")
    await press(env.http, next_action_url(pi), FAIL, follow=False)
    pi = await c.v1.payment_intents.retrieve_async(pi.id)
    assert pi.status == "requires_payment_method"


async def manual_capture_then_capture(c: stripe.StripeClient, env: Env) -> None:
    pi = await _pay(c, "pm_card_visa", capture_method="manual")
    await c.v1.payment_intents.capture_async(pi.id)


async def manual_capture_then_cancel(c: stripe.StripeClient, env: Env) -> None:
    pi = await _pay(c, "pm_card_visa", capture_method="manual")
    await c.v1.payment_intents.cancel_async(pi.id)


async def authorization_expiry(c: stripe.StripeClient, env: Env) -> None:
    await _pay(c, "pm_card_visa", capture_method="manual")
    await env.advance(7 * DAY + 1)


async def refund(c: stripe.StripeClient, env: Env) -> None:
    pi = await _pay(c, "pm_card_visa")
    await c.v1.refunds.create_async({"payment_intent": pi.id})


async def refund_failure(c: stripe.StripeClient, env: Env) -> None:
    pi = await _pay(c, "pm_card_refundFail")
    re = await c.v1.refunds.create_async({"payment_intent": pi.id})
    assert re.status == "succeeded"
    await env.advance(60)
    re = await c.v1.refunds.retrieve_async(re.id)
    assert (re.status, re.failure_reason) == ("failed", "expired_or_canceled_card")


async def setup_intent_with_customer(c: stripe.StripeClient, env: Env) -> None:
    cus = await c.v1.customers.create_async()
    si = await c.v1.setup_intents.create_async(
        {"customer": cus.id, "payment_method": "pm_card_visa", "confirm": True})
    assert si.status == "succeeded"


async def setup_intent_three_d_secure(c: stripe.StripeClient, env: Env) -> None:
    cus = await c.v1.customers.create_async()
    si = await c.v1.setup_intents.create_async(
        {"customer": cus.id, "payment_method": "pm_card_authenticationRequired",
         "confirm": True, "return_url": "https://shop.example/done"})
    assert si.status == "requires_action"
    await press(env.http, next_action_url(si), COMPLETE, follow=False)
    assert (await c.v1.setup_intents.retrieve_async(si.id)).status == "succeeded"


async def customer_lifecycle(c: stripe.StripeClient, env: Env) -> None:
    cus = await c.v1.customers.create_async({"email": "a@example.com"})
    await c.v1.customers.update_async(cus.id, {"name": "Ada"})
    pm = await c.v1.payment_methods.attach_async("pm_card_visa", {"customer": cus.id})
    await c.v1.payment_methods.detach_async(pm.id)
    await c.v1.customers.delete_async(cus.id)


async def _dispute(c: stripe.StripeClient, env: Env,
                   card: str) -> stripe.Dispute:
    await _pay(c, card)
    await env.advance(0)
    disputes = (await c.v1.disputes.list_async()).data
    assert len(disputes) == 1
    return disputes[0]


async def dispute_chargeback_won(c: stripe.StripeClient, env: Env) -> None:
    dp = await _dispute(c, env, "pm_card_createDispute")
    assert dp.status == "needs_response" and dp.is_charge_refundable is False
    assert [(t["amount"], t["fee"], t["net"]) for t in dp.balance_transactions] == [
        (-4200, 1500, -5700)]
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await c.v1.refunds.create_async({"charge": dp.charge})  # type: ignore[typeddict-item]
    assert exc.value.code == "charge_disputed"
    dp = await c.v1.disputes.update_async(
        dp.id, {"evidence": {"uncategorized_text": "winning_evidence"}})
    assert dp.status == "under_review"
    await env.advance(60)
    dp = await c.v1.disputes.retrieve_async(dp.id)
    assert dp.status == "won"
    assert [t["net"] for t in dp.balance_transactions] == [-5700, 4200]


async def dispute_chargeback_lost(c: stripe.StripeClient, env: Env) -> None:
    dp = await _dispute(c, env, "pm_card_createDisputeProductNotReceived")
    assert dp.reason == "product_not_received"
    await c.v1.disputes.update_async(
        dp.id, {"evidence": {"uncategorized_text": "losing_evidence"}})
    await env.advance(60)
    assert (await c.v1.disputes.retrieve_async(dp.id)).status == "lost"


async def dispute_inquiry_accepted(c: stripe.StripeClient, env: Env) -> None:
    dp = await _dispute(c, env, "pm_card_createDisputeInquiry")
    assert dp.status == "warning_needs_response" and dp.balance_transactions == []
    assert dp.payment_method_details is not None
    assert dp.payment_method_details.card is not None
    assert dp.payment_method_details.card.case_type == "inquiry"
    dp = await c.v1.disputes.close_async(dp.id)
    assert dp.status == "warning_closed"


FLOWS: dict[str, Flow] = {f.__name__: f for f in (
    card_automatic_capture, card_declined, three_d_secure_required, three_d_secure_completed,
    three_d_secure_failed, manual_capture_then_capture,
    manual_capture_then_cancel, authorization_expiry, refund, refund_failure,
    setup_intent_with_customer, setup_intent_three_d_secure, customer_lifecycle,
    dispute_chargeback_won,
    dispute_chargeback_lost, dispute_inquiry_accepted)}


def test_the_table_covers_every_flow() -> None:
    assert set(FLOWS) == set(SEQUENCES) - {"_comment"}


@pytest.mark.parametrize("flow", sorted(FLOWS))
async def test_flow_produces_exactly_the_tables_events(
    flow: str, client: stripe.StripeClient, http: aiohttp.ClientSession, stripe_base_url: str,
) -> None:
    await FLOWS[flow](client, Env(http, stripe_base_url))
    assert await event_types(client) == SEQUENCES[flow]


async def test_event_shape_request_and_previous_attributes(
    client: stripe.StripeClient, make_client: Callable[..., stripe.StripeClient],
    http: aiohttp.ClientSession, stripe_base_url: str,
) -> None:
    cus = await client.v1.customers.create_async({"name": "Ada"}, {"idempotency_key": "k-1"})
    await client.v1.customers.update_async(cus.id, {"name": "Grace", "metadata": {"a": "1"}})
    updated, created = (await client.v1.events.list_async()).data
    assert created.type == "customer.created" and created.id.startswith("evt_")
    assert created.request is not None and created.request.idempotency_key == "k-1"
    assert created.request.id is not None and created.request.id.startswith("req_")
    assert created.livemode is False and created.api_version
    assert created.data.object["name"] == "Ada"  # as of that moment
    assert updated.data.object["name"] == "Grace"
    assert updated.data.previous_attributes is not None
    assert updated.data.previous_attributes.to_dict() == {"name": "Ada", "metadata": {"a": None}}
    again = await client.v1.events.retrieve_async(created.id)
    assert again.id == created.id
    # Filters: type, a group, types[], created; and per account.
    assert [e.type for e in (await client.v1.events.list_async(
        {"type": "customer.*"})).data] == ["customer.updated", "customer.created"]
    assert len((await client.v1.events.list_async({"types": ["customer.created"]})).data) == 1
    assert (await client.v1.events.list_async(
        {"created": {"gt": created.created + 10}})).data == []
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.events.list_async({"type": "customer.created",
                                           "types": ["customer.updated"]})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await make_client().v1.events.retrieve_async(created.id)
    assert exc.value.http_status == 404
    # Automatic events have no request; 30-day retention.
    pi = await _pay(client, "pm_card_visa", capture_method="manual")
    await advance_clock(http, stripe_base_url, 7 * DAY + 1)
    expired = (await client.v1.events.list_async({"type": "charge.expired"})).data[0]
    assert expired.request is not None and expired.request.id is None
    assert expired.data.object["payment_intent"] == pi.id
    await advance_clock(http, stripe_base_url, 31 * DAY)
    assert (await client.v1.events.list_async()).data == []
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.events.retrieve_async(created.id)


def test_the_docs_show_the_table() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "testmode.md").read_text()
    for flow, types in SEQUENCES.items():
        if flow != "_comment":
            assert f"| `{flow}` | {', '.join(f'`{t}`' for t in types)} |" in docs, flow
