"""Webhook endpoints and signed deliveries, verified by the official SDK's construct_event; retries
on the clock; a restart between failure and retry; expiry events with no other request."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest
import stripe
from aiohttp.test_utils import TestServer

from amci.testmode import TestmodeSettings, create_app, signature
from amci.testmode.clock import Clock
from tests.testmode.conftest import advance_clock, new_key
from tests.testmode.receiver import Receiver
from tests.testmode.shapes import ShapeRecorder, problems

DAY = 86400


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.start()
    yield r
    await r.close()


async def _endpoint(client: stripe.StripeClient, url: str,
                    events: list[str] | None = None) -> stripe.WebhookEndpoint:
    return await client.v1.webhook_endpoints.create_async(
        {"url": url, "enabled_events": events or ["*"]})  # type: ignore[typeddict-item]


async def test_endpoint_api(client: stripe.StripeClient) -> None:
    we = await _endpoint(client, "https://hooks.example/stripe", ["charge.succeeded"])
    assert we.secret is not None and we.secret.startswith("whsec_")
    assert we.status == "enabled" and we.api_version is None
    got = await client.v1.webhook_endpoints.retrieve_async(we.id)
    assert "secret" not in got  # "Only returned at creation"
    off = await client.v1.webhook_endpoints.update_async(
        we.id, {"disabled": True, "enabled_events": ["*"]})
    assert (off.status, off.enabled_events) == ("disabled", ["*"])
    assert [e.id for e in (await client.v1.webhook_endpoints.list_async()).data] == [we.id]
    gone = await client.v1.webhook_endpoints.delete_async(we.id)
    assert gone.deleted is True
    for bad in ({"url": "ftp://x", "enabled_events": ["*"]},
                {"url": "https://x.example", "enabled_events": ["not an event"]}):
        with pytest.raises(stripe.InvalidRequestError):
            await client.v1.webhook_endpoints.create_async(bad)  # type: ignore[arg-type]


async def test_every_delivery_verifies_and_forgeries_do_not(
    client: stripe.StripeClient, receiver: Receiver, shapes: ShapeRecorder,
) -> None:
    url = receiver.url
    we = await _endpoint(client, url)
    pi = await client.v1.payment_intents.create_async(
        {"amount": 1000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True})
    got = await receiver.wait_for(3)
    assert we.secret is not None
    seen = []
    for r in got:
        ev = stripe.Webhook.construct_event(r.body, r.headers["Stripe-Signature"], we.secret)
        seen.append(ev.type)
        assert problems(json.loads(r.body)) == []
        assert problems(json.loads(r.body)["data"]["object"]) == []
        assert r.headers["User-Agent"].startswith("Stripe/1.0")
        assert ",v0=" in r.headers["Stripe-Signature"]
    assert sorted(seen) == sorted(
        ["payment_intent.created", "charge.succeeded", "payment_intent.succeeded"])
    ids = {e.id for e in (await client.v1.events.list_async()).data}
    assert {json.loads(r.body)["id"] for r in got} == ids
    assert json.loads(got[-1].body)["data"]["object"]["id"] in (pi.id, pi.latest_charge)
    body, header = got[0].body, got[0].headers["Stripe-Signature"]
    forgeries = [
        (body.replace(b'"livemode":false', b'"livemode":true'), header),  # tampered
        (body, signature.header(body, we.secret, int(time.time()) - 301)),  # stale
        (body, header.replace(",", ", ")),  # wrongly spaced
        (body, signature.header(body, "whsec_other", int(time.time()))),  # wrong secret
    ]
    for payload, sig in forgeries:
        with pytest.raises(stripe.SignatureVerificationError):
            stripe.Webhook.construct_event(payload, sig, we.secret)
    # Our signer and the SDK agree on a fresh signature (the stale one failed only on time).
    stripe.Webhook.construct_event(body, signature.header(body, we.secret, int(time.time())),
                                   we.secret)
    # Delivered: nothing pending.
    assert all(e.pending_webhooks == 0 for e in (await client.v1.events.list_async()).data)


async def test_the_secret_is_never_logged(
    client: stripe.StripeClient, receiver: Receiver, caplog: pytest.LogCaptureFixture,
    http: aiohttp.ClientSession, stripe_base_url: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    receiver.statuses = [500]
    we = await _endpoint(client, receiver.url, ["customer.created"])
    await client.v1.customers.create_async()
    await receiver.wait_for(1)
    await advance_clock(http, stripe_base_url, 600)
    assert len(receiver.received) == 2
    # The server's lines (ours and aiohttp's); the stripe SDK's own DEBUG lines are the client's.
    server_lines = [r.getMessage() for r in caplog.records if not r.name.startswith("stripe")]
    assert we.secret is not None
    assert any("webhook" in line for line in server_lines)  # the failed delivery was logged
    assert not [line for line in server_lines if "whsec_" in line]


async def test_only_selected_events_and_enabled_endpoints(
    client: stripe.StripeClient, receiver: Receiver, http: aiohttp.ClientSession,
    stripe_base_url: str,
) -> None:
    url = receiver.url
    off = await _endpoint(client, url)
    await client.v1.webhook_endpoints.update_async(off.id, {"disabled": True})
    await _endpoint(client, url, ["customer.updated"])
    cus = await client.v1.customers.create_async()
    await client.v1.customers.update_async(cus.id, {"name": "Ada"})
    got = await receiver.wait_for(1)
    await advance_clock(http, stripe_base_url, 0)  # drains anything due
    assert [json.loads(r.body)["type"] for r in got] == ["customer.updated"]


async def test_a_receiver_failing_twice_gets_the_third_attempt_after_the_clock_advances(
    client: stripe.StripeClient, receiver: Receiver, http: aiohttp.ClientSession,
    stripe_base_url: str,
) -> None:
    receiver.statuses = [500, 302]  # a redirect is a failure too
    url = receiver.url
    we = await _endpoint(client, url, ["customer.created"])
    await client.v1.customers.create_async()
    await receiver.wait_for(1)
    ev = (await client.v1.events.list_async()).data[0]
    assert ev.pending_webhooks == 1
    await advance_clock(http, stripe_base_url, 599)
    assert len(receiver.received) == 1  # not due yet
    await advance_clock(http, stripe_base_url, 1)  # retry 1 (10 min): answered 302
    assert len(receiver.received) == 2
    await advance_clock(http, stripe_base_url, 3600)  # retry 2 (1 h): 200
    assert len(receiver.received) == 3
    assert we.secret is not None
    bodies = [stripe.Webhook.construct_event(r.body, r.headers["Stripe-Signature"], we.secret)
              for r in receiver.received]
    assert {b.id for b in bodies} == {ev.id}
    assert (await client.v1.events.retrieve_async(ev.id)).pending_webhooks == 0
    await advance_clock(http, stripe_base_url, 5 * 3600)
    assert len(receiver.received) == 3  # delivered: no more attempts


async def test_a_restart_between_failure_and_retry_still_delivers(
    tmp_path: Path, aiohttp_server: Callable[..., TestServer], receiver: Receiver,
    http: aiohttp.ClientSession, shapes: ShapeRecorder,
) -> None:
    settings = TestmodeSettings(rate_limit_per_second=None, db_path=str(tmp_path / "tm.db"))
    key = new_key()
    receiver.statuses = [503]
    url = receiver.url
    server = await aiohttp_server(shapes.attach(create_app(settings)))
    base = str(server.make_url("")).rstrip("/")
    c = stripe.StripeClient(key, http_client=stripe.AIOHTTPClient(session=http),
                            base_addresses={"api": base}, max_network_retries=0)
    we = await _endpoint(c, url, ["customer.created"])
    await c.v1.customers.create_async()
    await receiver.wait_for(1)
    await advance_clock(http, base, 300)
    await server.close()  # the retry is due in 5 more minutes of clock time

    server = await aiohttp_server(shapes.attach(create_app(settings)))
    base = str(server.make_url("")).rstrip("/")
    await advance_clock(http, base, 300)  # the clock resumed where it was: now due
    got = await receiver.wait_for(2)
    assert we.secret is not None
    assert stripe.Webhook.construct_event(
        got[1].body, got[1].headers["Stripe-Signature"], we.secret).type == "customer.created"


async def test_an_authorization_expires_on_a_clock_advance_alone(
    aiohttp_server: Callable[..., TestServer], receiver: Receiver, http: aiohttp.ClientSession,
    shapes: ShapeRecorder,
) -> None:
    server = await aiohttp_server(shapes.attach(create_app(
        TestmodeSettings(rate_limit_per_second=None), clock=Clock(frozen=True))))
    base = str(server.make_url("")).rstrip("/")
    c = stripe.StripeClient(new_key(), http_client=stripe.AIOHTTPClient(session=http),
                            base_addresses={"api": base}, max_network_retries=0)
    url = receiver.url
    await _endpoint(c, url, ["charge.expired", "payment_intent.canceled"])
    pi = await c.v1.payment_intents.create_async(
        {"amount": 1000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True,
         "capture_method": "manual"})
    await advance_clock(http, base, 7 * DAY - 1)
    assert receiver.received == []
    await advance_clock(http, base, 1)  # no other request: the advance runs the timer
    got = await receiver.wait_for(2)
    events = {json.loads(r.body)["type"]: json.loads(r.body) for r in got}
    assert set(events) == {"charge.expired", "payment_intent.canceled"}
    assert events["payment_intent.canceled"]["data"]["object"]["cancellation_reason"] == \
        "automatic"
    assert events["charge.expired"]["data"]["object"]["amount_refunded"] == 1000
    assert events["charge.expired"]["request"] == {"id": None, "idempotency_key": None}
    assert (await c.v1.payment_intents.retrieve_async(pi.id)).status == "canceled"
