"""Idempotency end to end: replays, conflicts, the race, a restart, Stripe-side dedupe."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from amci.app import create_app
from amci.settings import StoreSettings

Stack = Any
PAY = "/v1/stripe/payments"


def body(stack: Stack, **over: Any) -> dict[str, Any]:
    return {"amount": "12.34", "currency": "USD", "card": stack.card(), "reference": "inv-7",
            **over}


async def test_retry_returns_the_first_result(stack: Stack) -> None:
    s1, first, h1 = await stack.post(PAY, body(stack), idem="key-1")
    s2, second, h2 = await stack.post(PAY, body(stack), idem="key-1")
    assert (s1, s2) == (201, 201)
    assert first == second
    assert "Idempotent-Replayed" not in h1 and h2["Idempotent-Replayed"] == "true"
    assert stack.upstream.exact("POST", "/v1/payment_intents") == 1
    assert await stack.metric("amci_idempotent_replays_total", route=PAY) == 1
    # Scoped to the key's account: another key may use the same Idempotency-Key.
    s3, third, _ = await stack.post(PAY, body(stack), idem="key-1", key=stack.KEY_OTHER)
    assert s3 == 201 and third["id"] != first["id"]


async def test_same_key_other_parameters_is_refused(stack: Stack) -> None:
    s1, _, _ = await stack.post(PAY, body(stack), idem="key-2")
    s2, err, _ = await stack.post(PAY, body(stack, amount="12.35"), idem="key-2")
    assert s1 == 201 and s2 == 400
    assert (err["error"]["type"], err["error"]["code"]) == ("idempotency_error",
                                                            "idempotency_key_reused")
    assert "key-2" not in err["error"]["message"]
    # Another route with the same key is "other parameters" too.
    s3, err3, _ = await stack.post(f"{PAY}/pi_x/refunds", {}, idem="key-2")
    assert s3 == 400 and err3["error"]["type"] == "idempotency_error"
    assert stack.upstream.exact("POST", "/v1/payment_intents") == 1


async def test_a_decline_is_replayed_too(stack: Stack) -> None:
    declined = body(stack, card=stack.card("4000000000000002"))
    s1, e1, _ = await stack.post(PAY, declined, idem="key-3")
    s2, e2, h2 = await stack.post(PAY, declined, idem="key-3")
    assert (s1, s2) == (402, 402) and e1 == e2 and h2["Idempotent-Replayed"] == "true"
    assert stack.upstream.exact("POST", "/v1/payment_intents") == 1


async def test_bad_idempotency_key(stack: Stack) -> None:
    status, err, _ = await stack.post(PAY, body(stack), idem="x" * 256)
    assert status == 400 and err["error"]["param"] == "Idempotency-Key"


async def test_concurrent_duplicates_make_one_upstream_call(stack: Stack) -> None:
    n = 8
    results = await asyncio.gather(*(stack.post(PAY, body(stack), idem="race-1")
                                     for _ in range(n)))
    statuses = sorted(status for status, _, _ in results)
    ids = {data["id"] for status, data, _ in results if status == 201}
    assert set(statuses) <= {201, 409} and 201 in statuses, statuses
    assert len(ids) == 1
    for status, data, _ in results:
        if status == 409:
            assert data["error"]["code"] == "idempotency_key_in_use"
    assert stack.upstream.exact("POST", "/v1/payment_intents") == 1
    assert stack.upstream.count("POST", "/v1/payment_methods") == 1
    # Once done, a retry replays the one payment.
    status, again, headers = await stack.post(PAY, body(stack), idem="race-1")
    assert status == 201 and again["id"] in ids and headers["Idempotent-Replayed"] == "true"


async def test_restart_returns_the_first_result(make_stack: Any, aiohttp_client: Any) -> None:
    stack = await make_stack()
    s1, first, _ = await stack.post(PAY, body(stack), idem="restart-1")
    assert s1 == 201
    await stack.amci.close()  # AMCI stops; its SQLite file stays

    again = await aiohttp_client(create_app(stack.settings))  # same settings, same file
    resp = await again.post(PAY, json=body(stack), headers={**stack.basic(),
                                                            "Idempotency-Key": "restart-1"})
    assert resp.status == 201
    assert await resp.json() == first
    assert resp.headers["Idempotent-Replayed"] == "true"
    assert stack.upstream.exact("POST", "/v1/payment_intents") == 1


async def test_stripe_dedupes_the_derived_key(make_stack: Any, aiohttp_client: Any,
                                              tmp_path: Path) -> None:
    """Even if AMCI's records were lost, the retry reaches Stripe with the same derived key and
    Stripe (here: the test-mode server) answers with the first payment."""
    stack = await make_stack()
    s1, first, _ = await stack.post(PAY, body(stack), idem="lost-1")
    lost = stack.settings.model_copy(
        update={"store": StoreSettings(db_path=str(tmp_path / "fresh.sqlite3"))}
    )
    fresh = await aiohttp_client(create_app(lost))
    resp = await fresh.post(PAY, json=body(stack), headers={**stack.basic(),
                                                            "Idempotency-Key": "lost-1"})
    second = await resp.json()
    assert (s1, resp.status) == (201, 201)
    assert second["id"] == first["id"]
    # Two requests reached the test-mode server, one payment exists.
    assert stack.upstream.exact("POST", "/v1/payment_intents") == 2


async def test_capture_and_refund_replays(stack: Stack) -> None:
    s, auth, _ = await stack.post(PAY, body(stack, capture=False), idem="a-1")
    assert s == 201
    c1 = await stack.post(f"{PAY}/{auth['id']}/capture", {"amount": "10.00"}, idem="c-1")
    c2 = await stack.post(f"{PAY}/{auth['id']}/capture", {"amount": "10.00"}, idem="c-1")
    assert c1[0] == c2[0] == 200 and c1[1] == c2[1]
    r1 = await stack.post(f"{PAY}/{auth['id']}/refunds", {"amount": "1.00"}, idem="r-1")
    r2 = await stack.post(f"{PAY}/{auth['id']}/refunds", {"amount": "1.00"}, idem="r-1")
    assert r1[0] == r2[0] == 201 and r1[1]["id"] == r2[1]["id"]
    assert stack.upstream.count("POST", "/v1/refunds") == 1
    status, fresh = await stack.get(f"{PAY}/{auth['id']}")
    assert status == 200
    assert fresh["amount_refunded"] == "1.00" and fresh["amount_received"] == "10.00"
