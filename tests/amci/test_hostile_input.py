"""Hostile and malformed input: always a clear 4xx in Stripe's envelope, never a 500, never a
charge the caller did not ask for (issue 7's reproducers, each one a 500 or a wrong charge
before the typed contract)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

Stack = Any
PAY = "/v1/stripe/payments"
CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}


async def _raw(stack: Stack, path: str, body: bytes,
               headers: dict[str, str] | None = None) -> tuple[int, Any]:
    resp = await stack.amci.post(path, data=body, headers={
        **stack.basic(), "Content-Type": "application/json", **(headers or {})})
    return resp.status, await resp.json()


def _error(status: int, body: Any, code: str, param: str | None) -> None:
    assert status == 400, body
    assert body["error"]["type"] == "invalid_request_error", body
    assert (body["error"]["code"], body["error"].get("param")) == (code, param), body


async def test_misspelled_capture_is_refused_not_charged(stack: Stack) -> None:
    status, body, _ = await stack.post(PAY, {"amount": "10.00", "currency": "USD",
                                             "captrue": False, "card": CARD})
    _error(status, body, "parameter_unknown", "captrue")
    assert stack.upstream.calls == []


async def test_misspelled_nested_field_is_refused(stack: Stack) -> None:
    status, body, _ = await stack.post("/v1/stripe/cards", {
        "card": {"nubmer": "4242424242424242", "exp_month": 12, "exp_year": 2034},
        "customer": {"email": "a@b.co"}})
    _error(status, body, "parameter_unknown", "card.nubmer")
    assert stack.upstream.calls == []


async def test_deep_nesting(stack: Stack) -> None:
    # Within the 64 KiB body limit: Python's json module recurses once per level.
    for raw in (b"[" * 60_000, b"[" * 30_000 + b"]" * 30_000,
                b'{"metadata":' * 4_000 + b"{}" + b"}" * 4_000, b'{"a":' * 33 + b"1" + b"}" * 33):
        status, body = await _raw(stack, PAY, raw)
        _error(status, body, "parameter_invalid", None)
    assert stack.upstream.calls == []


async def test_body_too_large(stack: Stack) -> None:
    status, body = await _raw(stack, PAY, b'{"description":"' + b"x" * 70_000 + b'"}')
    assert status == 413 and body["error"]["code"] == "parameter_invalid", body


async def test_huge_amount_string(stack: Stack) -> None:
    # Longer than the contract's 32 characters: refused as malformed, never converted.
    status, body, _ = await stack.post(PAY, {"amount": "9" * 5000, "currency": "USD",
                                             "card": CARD})
    _error(status, body, "parameter_invalid", "amount")
    # Within 32 characters but more digits than Stripe's eight: refused before int().
    status, body, _ = await stack.post(PAY, {"amount": "9" * 30, "currency": "USD",
                                             "card": CARD})
    _error(status, body, "amount_too_large", "amount")
    # JSON numbers too: a 5,000-digit integer is refused by the parser's bound.
    status, body = await _raw(stack, PAY, b'{"amount": ' + b"9" * 5000 + b"}")
    _error(status, body, "parameter_invalid", None)
    assert stack.upstream.calls == []


async def test_non_ascii_digits_are_not_money(stack: Stack) -> None:
    status, body, _ = await stack.post(PAY, {"amount": "١٠.٠٠", "currency": "USD",
                                             "card": CARD})
    _error(status, body, "parameter_invalid", "amount")
    assert stack.upstream.calls == []


@pytest.mark.parametrize("field", ["description", "reference", "customer.name", "metadata.k"])
async def test_lone_surrogate(stack: Stack, field: str) -> None:
    top, _, sub = field.partition(".")
    value = b'"a\\ud800b"'
    inner = b"{\"" + sub.encode() + b"\":" + value + b"}" if sub else value
    raw = (b'{"amount":"10.00","currency":"USD","card":{"number":"4242424242424242",'
           b'"exp_month":12,"exp_year":2034},"' + top.encode() + b'":' + inner + b"}")
    status, body = await _raw(stack, PAY, raw)
    _error(status, body, "parameter_invalid", field)
    assert stack.upstream.calls == []


async def test_refund_reason_object(stack: Stack) -> None:
    status, pay, _ = await stack.post(PAY, {"amount": "10.00", "currency": "USD", "card": CARD})
    assert status == 201
    status, body, _ = await stack.post(f"{PAY}/{pay['id']}/refunds", {"reason": {"a": 1}})
    _error(status, body, "parameter_invalid", "reason")


async def _raw_http(stack: Stack, head: bytes, body: bytes) -> bytes:
    host, port = stack.amci.server.host, stack.amci.server.port
    reader, writer = await asyncio.open_connection(host, port)
    auth = stack.basic()["Authorization"].encode()
    writer.write(b"POST " + PAY.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                 b"Authorization: " + auth + b"\r\nContent-Type: application/json\r\n"
                 + head + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    await writer.drain()
    data = await reader.read()
    writer.close()
    return data


@pytest.mark.parametrize(
    ("header", "value"),
    [
        (b"Idempotency-Key", "ключ-1".encode()),
        (b"Idempotency-Key", b"\xff\xfe-key"),
        (b"Idempotency-Key", b"k" * 256),
        (b"X-Request-Id", "запрос-000001".encode()),
        (b"X-Request-Id", b"\xff\xfe-request-id"),
        (b"X-Request-Id", b"r" * 300),
    ],
)
async def test_header_values_must_be_ascii_and_short(stack: Stack, header: bytes,
                                                     value: bytes) -> None:
    import json

    body = json.dumps({"amount": "10.00", "currency": "USD", "card": CARD}).encode()
    answer = await _raw_http(stack, header + b": " + value + b"\r\n", body)
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.split()[1] == b"400", answer[:300]
    payload = json.loads(rest.split(b"\r\n\r\n", 1)[1])
    assert payload["error"]["code"] == "parameter_invalid", payload
    assert payload["error"]["param"] == header.decode(), payload
    assert stack.upstream.calls == []
