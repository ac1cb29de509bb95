"""Metrics with bounded labels, JSON logs with request ids, and no secrets anywhere."""

from __future__ import annotations

import io
import json
import re
from typing import Any

Stack = Any
PAY = "/v1/stripe/payments"
PAN = "378282246310005"  # Amex: a 4-digit CVC that is easy to grep for
CVC = "7319"


async def test_metrics(stack: Stack) -> None:
    saved = await stack.save_card()
    s, pay, _ = await stack.post(PAY, {"amount": "10.00", "currency": "EUR",
                                       "token": saved["token"]}, idem="m-1")
    assert s == 201
    await stack.post(PAY, {"amount": "10.00", "currency": "EUR", "token": saved["token"]},
                     idem="m-1")
    await stack.post(PAY, {"amount": "0.10", "currency": "USD", "card": stack.card()})
    await stack.post(PAY, {"amount": "10.00", "currency": "USD",
                           "card": stack.card("4000000000009995")})
    await stack.post(f"{PAY}/{pay['id']}/void", {})
    m = stack.metric
    assert await m("amci_payments_total", operation="sale", outcome="succeeded", mode="test",
                   currency="EUR") == 1
    assert await m("amci_payments_total", operation="sale", outcome="declined",
                   currency="USD") == 1
    assert await m("amci_payments_total", operation="sale", outcome="refused",
                   currency="USD") == 1
    assert await m("amci_payments_total", operation="save_card", outcome="succeeded") == 1
    assert await m("amci_payments_total", operation="void", outcome="refused") == 1
    assert await m("amci_policy_refusals_total", reason="amount_too_small") == 1
    assert await m("amci_idempotent_replays_total", route=PAY) == 1
    # The first sale and its replay.
    assert await m("amci_http_requests_total", route=PAY, method="POST", status="201") == 2
    assert await m("amci_http_requests_total", route=PAY, method="POST", status="402") == 1
    assert await m("amci_http_request_duration_seconds_count", route=PAY, method="POST") == 4
    # Created unconfirmed, then confirmed (amci.settlement): the decline is the confirmation's.
    assert await m("amci_upstream_requests_total", endpoint="POST /v1/payment_intents",
                   status="200") == 2
    assert await m("amci_upstream_requests_total",
                   endpoint="POST /v1/payment_intents/{id}/confirm", status="402") == 1
    assert await m("amci_upstream_request_duration_seconds_count",
                   endpoint="POST /v1/customers") == 1
    text = await (await stack.amci.get("/metrics")).text()
    for forbidden in (pay["id"], saved["token"], saved["customer"], "john@example.com",
                      stack.KEY, stack.KEY[-4:], "10.00", stack.LOGIN):
        assert forbidden not in text, forbidden


async def test_no_secrets_in_logs_or_responses(stack: Stack, captured_logs: io.StringIO) -> None:
    amex = {"number": PAN, "exp_month": 12, "exp_year": 2034, "cvc": CVC, "holder": "J Doe"}
    bodies: list[str] = []

    async def call(method: str, path: str, body: Any = None, **kw: Any) -> Any:
        if isinstance(body, bytes):
            resp = await stack.amci.request(method, path, data=body, **kw)
        else:
            resp = await stack.amci.request(method, path, json=body, **kw)
        bodies.append(await resp.text())
        return resp

    auth = {"headers": {**stack.basic(), "X-Request-Id": "req-test-0001"}}
    await call("POST", "/v1/stripe/cards", {"card": amex, "customer": {
        "email": "john@example.com", "name": "John Doe", "reference": "cust-42"}}, **auth)
    token = json.loads(bodies[-1])["token"]
    await call("POST", PAY, {"amount": "10.00", "currency": "USD", "card": amex}, **auth)
    await call("POST", PAY, {"amount": "10.00", "currency": "USD", "token": token}, **auth)
    await call("POST", PAY, {"amount": "10.00", "currency": "USD",
                             "card": {**amex, "number": "4000000000000002", "cvc": "731"}},
               **auth)
    await call("POST", PAY, {"amount": "10.00", "currency": "USD",
                             "card": {**amex, "number": PAN[:-1] + "9"}}, **auth)  # bad Luhn
    await call("POST", PAY, {"amount": "10.00", "currency": "USD", "card": {**amex, "cvc": "1"}},
               **auth)
    await call("POST", PAY, {}, headers=stack.basic(login="abc"))
    await call("POST", PAY, {}, headers=stack.basic("sk_test_51SomeoneElsesKeyNotConfigured99"))
    await call("POST", PAY, {}, headers=stack.basic("pk_test_51PublishableKeyNotSecret0000"))
    await call("POST", PAY, b"{broken", **auth)

    logs = captured_logs.getvalue()
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    requests = [entry for entry in lines if entry.get("event") == "request"]
    assert len(requests) >= 10  # the logs were really captured
    assert any(r.get("request_id") == "req-test-0001" for r in requests)
    assert all(r.get("request_id") for r in requests)
    assert any(r.get("key") == "sk_test_…wxyz" for r in requests)  # masked form only
    everything = logs + "\n".join(bodies)
    for secret in (PAN, PAN[:-1] + "9", "4000000000000002", stack.KEY, stack.KEY[8:-4],
                   "sk_test_51SomeoneElsesKeyNotConfigured99", stack.LOGIN):
        assert secret not in everything, secret
    for cvc in (CVC, "731"):
        assert not re.search(rf"(?<![0-9A-Za-z.]){cvc}(?![0-9A-Za-z])", everything), cvc
    assert "john@example.com" not in logs
