"""``amci testmode-listen`` as a real process: registers an endpoint, prints its secret, forwards
each delivery (still verifiable with that secret) and prints it; deletes the endpoint on exit."""

from __future__ import annotations

import asyncio
import json
import signal
import sys

import stripe

from tests.testmode.receiver import Receiver


async def test_listen_forwards_signed_events(client: stripe.StripeClient, stripe_base_url: str,
                                             key: str, make_client) -> None:  # type: ignore[no-untyped-def]
    receiver = Receiver()
    forward_to = await receiver.start()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "amci", "testmode-listen", "--api-base", stripe_base_url,
        "--api-key", key, "--forward-to", forward_to, "--events",
        "customer.created,customer.updated", stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        assert line.startswith("Ready! Your webhook signing secret is whsec_"), line
        secret = line.split()[6]
        c = make_client(key)
        (we,) = (await c.v1.webhook_endpoints.list_async()).data
        assert we.enabled_events == ["customer.created", "customer.updated"]
        cus = await c.v1.customers.create_async()
        got = await receiver.wait_for(1)
        ev = stripe.Webhook.construct_event(got[0].body, got[0].headers["Stripe-Signature"],
                                            secret)
        assert ev.type == "customer.created" and ev.data.object["id"] == cus.id
        assert json.loads(got[0].body)["id"] == ev.id
        printed = [(await asyncio.wait_for(proc.stdout.readline(), 10)).decode()
                   for _ in range(2)]
        assert printed[0].startswith(f"--> customer.created [{ev.id}]")
        assert printed[1].startswith("<-- [200] POST ")
    finally:
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
        await receiver.close()
    assert (await make_client(key).v1.webhook_endpoints.list_async()).data == []
