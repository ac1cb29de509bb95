"""Stripe events → AMCI notifications (table-driven), and AMCI-Signature: signed with every
active secret, verified with either during a rotation, refused when stale, tampered or forged.
The billing client's verifier (its own copy: it never imports amci) agrees with AMCI's signer."""

from __future__ import annotations

from typing import Any

import pytest

from amci import notifications as n
from httpkit import signature as signatures


def ev(etype: str, **obj: Any) -> dict[str, Any]:
    return {"id": "evt_1", "type": etype, "data": {"object": {"id": "x_1", **obj}}}


CASES: list[tuple[dict[str, Any], tuple[str, str, str] | None]] = [
    (ev("payment_intent.succeeded", id="pi_1", status="succeeded"),
     ("payment.succeeded", "pi_1", "pi_1|payment.succeeded|succeeded")),
    (ev("payment_intent.amount_capturable_updated", id="pi_1", status="requires_capture"),
     ("payment.authorized", "pi_1", "pi_1|payment.authorized|requires_capture")),
    (ev("payment_intent.payment_failed", id="pi_1", status="requires_payment_method",
        last_payment_error={"charge": "ch_9"}),
     ("payment.failed", "pi_1", "pi_1|payment.failed|ch_9")),
    # Expiry: Stripe's two events for one change collapse on one key.
    (ev("payment_intent.canceled", id="pi_1", status="canceled", cancellation_reason="automatic"),
     ("authorization.expired", "pi_1", "pi_1|authorization.expired|expired")),
    (ev("charge.expired", id="ch_1", status="failed", payment_intent="pi_1"),
     ("authorization.expired", "pi_1", "pi_1|authorization.expired|expired")),
    (ev("payment_intent.canceled", id="pi_1", status="canceled",
        cancellation_reason="requested_by_customer"),
     ("payment.canceled", "pi_1", "pi_1|payment.canceled|canceled")),
    (ev("charge.captured", id="ch_1", status="succeeded", payment_intent="pi_1"),
     ("capture.succeeded", "pi_1", "ch_1|capture.succeeded|captured")),
    # A failed refund: refund.failed, refund.updated and charge.refund.updated (a Refund) agree.
    (ev("refund.failed", id="re_1", status="failed", payment_intent="pi_1"),
     ("refund.failed", "pi_1", "re_1|refund.failed|failed")),
    (ev("charge.refund.updated", id="re_1", object="refund", status="failed",
        payment_intent="pi_1"), ("refund.failed", "pi_1", "re_1|refund.failed|failed")),
    (ev("refund.created", id="re_1", status="succeeded", payment_intent="pi_1"),
     ("refund.succeeded", "pi_1", "re_1|refund.succeeded|succeeded")),
    (ev("charge.dispute.created", id="dp_1", status="needs_response", payment_intent="pi_1"),
     ("dispute.opened", "pi_1", "dp_1|dispute.opened|needs_response")),
    (ev("charge.dispute.closed", id="dp_1", status="lost", payment_intent="pi_1"),
     ("dispute.closed", "pi_1", "dp_1|dispute.closed|lost")),
    (ev("payment_method.detached", id="pm_1", customer=None),
     ("card.detached", "pm_1", "pm_1|card.detached|detached")),
    # Nothing the billing system needs.
    (ev("payment_intent.created", id="pi_1", status="requires_confirmation"), None),
    (ev("charge.succeeded", id="ch_1", status="succeeded", payment_intent="pi_1"), None),
    (ev("customer.created", id="cus_1"), None),
    (ev("refund.created", id="re_1", status="succeeded"), None),  # no payment: nobody to tell
    ({"id": "evt_1", "type": "payment_intent.succeeded", "data": None}, None),
]


@pytest.mark.parametrize(("event", "expected"), CASES)
def test_notice_of(event: dict[str, Any], expected: tuple[str, str, str] | None) -> None:
    got = n.notice_of(event)
    if expected is None:
        assert got is None
        return
    assert got is not None
    assert (got.type, got.subject, got.dedupe) == expected
    assert got.type in n.TYPES


def test_signature_round_trip_rotation_and_refusals() -> None:
    body = b'{"id":"ntf_1"}'
    header = n.sign(body, ["new-secret", "old-secret"], 1000)
    assert header.startswith("t=1000,v1=") and header.count("v1=") == 2
    for verify in (n.verify, signatures.verify):
        assert verify(header, body, ["old-secret"], 1000)
        assert verify(header, body, ["new-secret"], 1299)
        assert not verify(header, body, ["new-secret"], 1301)  # older than 300 s
        assert not verify(header, body + b" ", ["new-secret"], 1000)  # tampered
        assert not verify(header, body, ["another"], 1000)
        assert not verify(header.replace("v1=", "v0="), body, ["new-secret"], 1000)
        assert not verify(None, body, ["new-secret"], 1000)
        assert not verify(header, body, [], 1000)
        assert not verify("t=abc,v1=00", body, ["new-secret"], 1000)
    assert signatures.sign(body, ["s"], 5) == n.sign(body, ["s"], 5)
