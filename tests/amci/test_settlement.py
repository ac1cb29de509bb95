"""Indeterminate answers settled by looking, never by guessing (``amci.settlement``), against
the test mode's faults: a 500 before the confirmation ran, a 500 after it committed, and Stripe
out of reach after the create (``202 processing``, then the same Idempotency-Key settles it).
One PaymentIntent and at most one charge each time."""

from __future__ import annotations

from typing import Any

import aiohttp

PAY = "/v1/stripe/payments"


async def _stripe(stack: Any, verb: str, url: str, form: dict[str, Any] | None = None) -> Any:
    async with aiohttp.ClientSession() as http, http.request(
        verb, f"{stack.testmode_url}{url}", data={k: str(v) for k, v in (form or {}).items()},
        headers={"Authorization": f"Bearer {stack.KEY}"},
    ) as r:
        assert r.status == 200, await r.text()
        return await r.json()


async def _intents(stack: Any, reference: str) -> list[dict[str, Any]]:
    listed = await _stripe(stack, "GET", "/v1/payment_intents?limit=100")
    return [pi for pi in listed["data"] if pi["metadata"].get("reference") == reference]


def _body(stack: Any, reference: str) -> dict[str, Any]:
    return {"amount": "10.00", "currency": "USD", "card": stack.card(), "reference": reference}


async def test_a_500_before_the_confirmation_ran_is_confirmed_again(stack: Any) -> None:
    await _stripe(stack, "POST", "/_testmode/faults", dict(kind="api_error", method="POST",
                  path="/v1/payment_intents/*/confirm"))
    status, pay, _ = await stack.post(PAY, _body(stack, "inv-500"), idem="s-1")
    assert status == 201 and pay["status"] == "succeeded", pay
    [pi] = await _intents(stack, "inv-500")
    assert pi["status"] == "succeeded"
    # The second confirmation, under a new key, ran (the first was answered by the fault before
    # it reached the test mode's handlers, and its 500 is what its key now replays).
    assert stack.upstream.count("POST", f"/v1/payment_intents/{pi['id']}/confirm") == 1


async def test_a_500_after_the_change_committed_is_read_not_repeated(stack: Any) -> None:
    await _stripe(stack, "POST", "/_testmode/faults", dict(kind="api_error_after_commit",
                  method="POST", path="/v1/payment_intents/*/confirm"))
    status, pay, _ = await stack.post(PAY, _body(stack, "inv-commit"), idem="s-2")
    assert status == 201 and pay["status"] == "succeeded", pay
    [pi] = await _intents(stack, "inv-commit")
    assert stack.upstream.count("POST", f"/v1/payment_intents/{pi['id']}/confirm") == 1
    charges = await _stripe(stack, "GET", f"/v1/charges?payment_intent={pi['id']}")
    assert len(charges["data"]) == 1


async def test_out_of_reach_answers_202_processing_then_the_same_key_settles(
    stack: Any,
) -> None:
    # The confirmation loses its connection (it never ran), and the look at the payment after
    # it gets a 500.
    await _stripe(stack, "POST", "/_testmode/faults", dict(
        kind="disconnect", method="POST", path="/v1/payment_intents/*/confirm"))
    await _stripe(stack, "POST", "/_testmode/faults", dict(
        kind="api_error", method="GET", path="/v1/payment_intents/pi_*"))
    status, pay, headers = await stack.post(PAY, _body(stack, "inv-202"), idem="s-3")
    assert status == 202 and pay["status"] == "processing", pay
    assert "Idempotent-Replayed" not in headers
    found_status, found = await stack.get(f"{PAY}?reference=inv-202")
    assert found_status == 200 and found["id"] == pay["id"]
    # Nothing was kept under the key: the retry runs again and settles it.
    status, again, _ = await stack.post(PAY, _body(stack, "inv-202"), idem="s-3")
    assert status == 201 and again["status"] == "succeeded" and again["id"] == pay["id"], again
    assert [pi["status"] for pi in await _intents(stack, "inv-202")] == ["succeeded"]
    assert await stack.metric("amci_payments_total", operation="sale",
                              outcome="processing") == 1
