"""The shape check itself: Stripe's schemas catch a missing default field, a made-up field and a
wrong enum, and the test-mode fixtures feed every response through it."""

from __future__ import annotations

import copy
import json
from typing import Any

import stripe

from tests.testmode import shapes
from tests.testmode.shapes import ShapeRecorder


def test_schema_file_names_its_source() -> None:
    doc = json.loads(shapes.SCHEMAS.read_text())
    assert "spec3.yaml at commit 63a674638635c68de26b9f3add13e58198f4df44" in (
        doc["source"]["description"])
    assert "fixtures3.json at commit f6c2a48f" in doc["source"]["fixtures"]
    assert {"charge", "customer", "payment_intent", "payment_method", "refund", "setup_intent",
            "error"} <= set(doc["$defs"])


async def _charge(client: stripe.StripeClient) -> dict[str, Any]:
    pi = await client.v1.payment_intents.create_async(
        {"amount": 700, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True,
         "expand": ["latest_charge"]})
    assert isinstance(pi.latest_charge, stripe.Charge)
    return pi.latest_charge.to_dict(recursive=True)


async def test_a_real_charge_passes_and_broken_copies_fail(client: stripe.StripeClient) -> None:
    charge = await _charge(client)
    assert shapes.problems(charge) == []
    missing = copy.deepcopy(charge)
    del missing["receipt_number"]
    assert any("'receipt_number' is a required property" in p for p in shapes.problems(missing))
    no_card_field = copy.deepcopy(charge)
    del no_card_field["payment_method_details"]["card"]["network_token"]
    assert any("network_token" in p for p in shapes.problems(no_card_field))
    made_up = {**charge, "colour": "red"}
    assert any("colour" in p for p in shapes.problems(made_up))
    bad_enum = {**charge, "status": "approved"}
    assert any("approved" in p for p in shapes.problems(bad_enum))
    wrong_type = {**charge, "amount": "700"}
    assert shapes.problems(wrong_type)


def test_lists_errors_and_unknown_objects() -> None:
    assert shapes.problems({"object": "list", "data": [], "has_more": False, "url": "/v1/x"}) == []
    assert shapes.problems({"object": "list", "data": [], "has_more": False})
    assert shapes.problems({"object": "search_result", "data": [], "has_more": False,
                            "url": "/v1/customers/search", "next_page": None}) == []
    assert shapes.problems({"error": {"type": "invalid_request_error", "message": "x"}}) == []
    assert shapes.problems({"error": {"type": "made_up_error", "message": "x"}})
    assert shapes.problems({"object": "gizmo"})


async def test_the_fixture_checks_every_response(
    client: stripe.StripeClient, shapes: ShapeRecorder,
) -> None:
    before = shapes.checked
    await client.v1.customers.create_async({"email": "a@example.com"})
    await client.v1.customers.list_async()
    try:
        await client.v1.customers.retrieve_async("cus_missing")
    except stripe.InvalidRequestError:
        pass
    assert shapes.checked == before + 3
    assert shapes.failures == []
