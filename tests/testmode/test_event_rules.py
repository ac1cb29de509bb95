"""The event rules, table-driven: one write of an object → its event types."""

from __future__ import annotations

from typing import Any

import pytest

from amci.testmode.event_rules import events_for, matches, previous_attributes

PI = {"id": "pi_1", "status": "requires_confirmation", "last_payment_error": None}
CH = {"id": "ch_1", "status": "succeeded", "captured": False, "amount_refunded": 0,
      "description": None, "metadata": {}}
RE = {"id": "re_1", "status": "succeeded", "metadata": {}}
DP = {"id": "dp_1", "status": "needs_response", "balance_transactions": [{"amount": -100}],
      "evidence": {}}

CASES: list[tuple[str, dict[str, Any] | None, dict[str, Any], dict[str, Any], list[str]]] = [
    ("payment_intent", None, PI, {}, ["payment_intent.created"]),
    ("payment_intent", PI, {**PI, "status": "succeeded"}, {}, ["payment_intent.succeeded"]),
    ("payment_intent", PI, {**PI, "status": "requires_capture"}, {},
     ["payment_intent.amount_capturable_updated"]),
    ("payment_intent", PI, {**PI, "status": "requires_payment_method",
                            "last_payment_error": {"code": "card_declined"}}, {},
     ["payment_intent.payment_failed"]),
    ("payment_intent", PI, {**PI, "status": "requires_payment_method"}, {}, []),
    ("payment_intent", PI, {**PI, "metadata": {"a": "1"}}, {}, []),
    ("charge", None, CH, {}, ["charge.succeeded"]),
    ("charge", None, {**CH, "status": "failed"}, {}, ["charge.failed"]),
    ("charge", CH, {**CH, "captured": True}, {}, ["charge.captured"]),
    ("charge", CH, {**CH, "amount_refunded": 5}, {}, ["charge.refunded"]),
    ("charge", CH, {**CH, "amount_refunded": 5}, {"expired": True}, ["charge.expired"]),
    ("charge", CH, {**CH, "metadata": {"a": "1"}}, {}, ["charge.updated"]),
    ("refund", None, RE, {}, ["refund.created"]),
    ("refund", None, RE, {"silent": True}, []),
    ("refund", RE, {**RE, "status": "failed"}, {},
     ["refund.updated", "refund.failed", "charge.refund.updated"]),
    ("customer", None, {"id": "cus_1"}, {}, ["customer.created"]),
    ("customer", {"id": "cus_1"}, {"id": "cus_1"}, {"deleted": True}, ["customer.deleted"]),
    ("payment_method", {"id": "pm_1", "customer": None}, {"id": "pm_1", "customer": "cus_1"},
     {}, ["payment_method.attached"]),
    ("payment_method", {"id": "pm_1", "customer": "cus_1"}, {"id": "pm_1", "customer": None},
     {}, ["payment_method.detached"]),
    ("payment_method", None, {"id": "pm_1", "customer": None}, {}, []),
    ("setup_intent", {"status": "requires_action", "last_setup_error": None},
     {"status": "succeeded", "last_setup_error": None}, {}, ["setup_intent.succeeded"]),
    ("dispute", None, DP, {}, ["charge.dispute.created", "charge.dispute.funds_withdrawn"]),
    ("dispute", DP, {**DP, "status": "under_review", "evidence": {"x": "y"}}, {},
     ["charge.dispute.updated"]),
    ("dispute", DP, {**DP, "status": "won", "balance_transactions": [
        {"amount": -100}, {"amount": 100}]}, {},
     ["charge.dispute.closed", "charge.dispute.funds_reinstated"]),
    ("setup_attempt", None, {"id": "setatt_1"}, {}, []),
]


@pytest.mark.parametrize(("kind", "before", "after", "internal", "expected"), CASES)
def test_rules(kind: str, before: dict[str, Any] | None, after: dict[str, Any],
               internal: dict[str, Any], expected: list[str]) -> None:
    assert [e.type for e in events_for(kind, before, after, {}, internal)] == expected


def test_previous_attributes_and_selection() -> None:
    assert previous_attributes({"a": 1, "m": {"k": "v"}, "l": [1]},
                               {"a": 2, "m": {"k": "v", "n": "w"}, "l": [1, 2]}) == {
        "a": 1, "m": {"n": None}, "l": [1]}
    assert matches(["*"], "charge.succeeded") and matches(["charge.succeeded"], "charge.succeeded")
    assert not matches(["charge.failed"], "charge.succeeded")
