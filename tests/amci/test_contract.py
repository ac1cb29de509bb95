"""Table-driven tests for amci.contract.parse: bounds before parsing, Unicode, the models' fields,
types and unknown-field refusals, each naming the field. Pure: no HTTP."""

from __future__ import annotations

import json
from typing import Any

import pytest

from amci import contract
from amci.errors import InvalidRequest

CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034}
PAY: dict[str, Any] = {"amount": "10.00", "currency": "USD", "card": CARD}


def nested(depth: int) -> bytes:
    """A valid payment whose metadata-free body nests ``depth`` levels deep (1 = the object)."""
    inner = b"{}" if depth >= 2 else b""
    for _ in range(depth - 2):
        inner = b'{"a":' + inner + b"}"
    body = b'{"amount":"1.00","currency":"USD"'
    return body + (b',"x":' + inner if inner else b"") + b"}"


@pytest.mark.parametrize(
    ("raw", "code", "param"),
    [
        (b"{nope", "parameter_invalid", None),
        (b"[]", "parameter_invalid", None),
        (b"null", "parameter_invalid", None),
        (b"\xff\xfe", "parameter_invalid", None),
        (nested(33), "parameter_invalid", None),  # refused by the pre-scan, before json.loads
        (b'{"description": "[[[[' + b"[" * 100 + b'"}', "parameter_missing", "amount"),
        (b'{"amount": 1' + b"0" * 12 + b"}", "parameter_invalid", None),  # 13 digits
        (b'{"amount":"1.00","currency":"USD","description":"\\udfff"}', "parameter_invalid",
         "description"),
        (b'{"amount":"1.00","currency":"USD","card":{"holder":"\\ud83d"}}', "parameter_invalid",
         "card.holder"),
        (b'{"amount":"1.00","currency":"USD","enabled_brands":["visa","\\ud800"]}',
         "parameter_invalid", "enabled_brands[1]"),
    ],
)
def test_bounds_and_unicode(raw: bytes, code: str, param: str | None) -> None:
    with pytest.raises(InvalidRequest) as err:
        contract.parse(contract.PaymentRequest, raw)
    assert (err.value.code, err.value.param, err.value.status) == (code, param, 400)


def test_depth_32_is_fine_and_a_surrogate_pair_is_valid_unicode() -> None:
    with pytest.raises(InvalidRequest) as err:  # parsed: then refused for the unknown field
        contract.parse(contract.PaymentRequest, nested(32))
    assert err.value.code == "parameter_unknown" and err.value.param == "x"
    ok = contract.parse(contract.PaymentRequest, json.dumps(
        {**PAY, "description": "\U0001f600 \u0661"}).encode())  # ensure_ascii: a valid pair
    assert ok.description == "\U0001f600 \u0661"
    assert contract.parse(contract.RefundRequest, b"") == contract.RefundRequest()
    assert contract.parse(contract.CaptureRequest, b"  ") == contract.CaptureRequest()


@pytest.mark.parametrize(
    ("change", "code", "param"),
    [
        ({"captrue": False}, "parameter_unknown", "captrue"),
        ({"card": {"nubmer": "4242424242424242", "exp_month": 12, "exp_year": 2034}},
         "parameter_unknown", "card.nubmer"),
        ({"customer": {"email": "a@b.co", "phone": "1"}}, "parameter_unknown", "customer.phone"),
        ({"amount": None}, "parameter_invalid", "amount"),
        ({"amount": 10}, "parameter_invalid", "amount"),
        ({"amount": "10,00"}, "parameter_invalid", "amount"),
        ({"amount": "-1.00"}, "parameter_invalid", "amount"),
        ({"amount": "١٠.٠٠"}, "parameter_invalid", "amount"),
        ({"amount": "1" * 33}, "parameter_invalid", "amount"),
        ({"currency": "U" * 17}, "parameter_invalid", "currency"),
        ({"capture": "false"}, "parameter_invalid", "capture"),
        ({"capture": 0}, "parameter_invalid", "capture"),
        ({"token": "pm_1/../x"}, "parameter_invalid", "token"),
        ({"card": "4242"}, "parameter_invalid", "card"),
        ({"card": {**CARD, "exp_month": "12"}}, "parameter_invalid", "card.exp_month"),
        ({"card": {**CARD, "exp_year": 2034.0}}, "parameter_invalid", "card.exp_year"),
        ({"card": {**CARD, "cvc": 123}}, "parameter_invalid", "card.cvc"),
        ({"card": {"exp_month": 12, "exp_year": 2034}}, "parameter_missing", "card.number"),
        ({"description": "x" * 1001}, "parameter_invalid", "description"),
        ({"reference": {"a": 1}}, "parameter_invalid", "reference"),
        ({"customer": {"name": "x" * 257}}, "parameter_invalid", "customer.name"),
        ({"metadata": {"k": 1}}, "parameter_invalid", "metadata.k"),
        ({"metadata": {"k" * 41: "v"}}, "parameter_invalid", "metadata." + "k" * 41),
        ({"metadata": {"k": "v" * 501}}, "parameter_invalid", "metadata.k"),
        ({"metadata": {"customer_reference": "x"}}, "parameter_invalid",
         "metadata.customer_reference"),
        ({"metadata": {f"k{i}": "v" for i in range(49)}}, "parameter_invalid", "metadata"),
        ({"metadata": []}, "parameter_invalid", "metadata"),
        ({"enabled_brands": []}, "parameter_invalid", "enabled_brands"),
        ({"enabled_brands": ["visa", "jcb"]}, "parameter_invalid", "enabled_brands[1]"),
    ],
)
def test_payment_request_refusals(change: dict[str, Any], code: str, param: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        contract.validate(contract.PaymentRequest, {**PAY, **change})
    assert (err.value.code, err.value.param) == (code, param), err.value.message
    if code == "parameter_unknown":
        assert err.value.message == f"Received unknown parameter: {param}"


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ({"reason": {"a": 1}}, "parameter_invalid", "reason"),
        ({"reason": ["duplicate"]}, "parameter_invalid", "reason"),
        ({"reason": "changed_mind"}, "parameter_invalid", "reason"),
        ({"amount": 2}, "parameter_invalid", "amount"),
        ({"amount": "2.00", "metadata": {}}, "parameter_unknown", "metadata"),
    ],
)
def test_refund_request_refusals(body: dict[str, Any], code: str, param: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        contract.validate(contract.RefundRequest, body)
    assert (err.value.code, err.value.param) == (code, param)


def test_accepted_payment_is_typed() -> None:
    req = contract.validate(contract.PaymentRequest, {
        **PAY, "capture": False, "enabled_brands": ["VISA", "American Express", " mastercard "],
        "metadata": {"order": "42"}, "customer": None})
    assert req.capture is False and req.card is not None and req.card.exp_month == 12
    assert req.enabled_brands == ["visa", "amex", "mastercard"]
    assert req.metadata == {"order": "42"} and req.customer is None
    refund = contract.validate(contract.RefundRequest, {"reason": "requested_by_customer"})
    assert refund.reason == "requested_by_customer" and refund.amount is None
