"""Never a 500 for input (issue 7): each reproducer below answered 500 before the contract and
the bounded reader (``api/wire.py``, ``middleware.py``), or was silently accepted. Each now gets
a 400 in the envelope naming what is wrong, and the service carries on."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from ..conftest import VISA, setup_stripe, stripe_payment_intents, url

Client = TestClient[Any, Any]


async def refused(r: Any, param: str | None, code: str = "parameter_invalid") -> dict[str, Any]:
    assert r.status == 400, await r.text()
    err = dict((await r.json())["error"])
    assert (err.get("param"), err["code"]) == (param, code), err
    assert err["type"] == "invalid_request_error" and r.headers["X-Request-Id"]
    return err


async def raw_request(bc: Client, head: bytes, body: bytes = b"") -> bytes:
    """One request written byte for byte (bytes no HTTP client library would send)."""
    server = bc.server
    assert server.port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(head + b"\r\n\r\n" + body)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    return answer


async def test_json_nested_60000_deep(bc: Client) -> None:
    deep = b"[" * 60000 + b"]" * 60000
    headers = {"Content-Type": "application/json"}
    err = await refused(await bc.post("/api/customers", data=deep, headers=headers), None)
    assert "nested too deeply" in err["message"]
    # Brackets inside strings are text, not nesting.
    text = {"name": "[" * 100 + "{" * 100, "currency": "USD"}
    assert (await bc.post("/api/customers", json=text)).status == 201


async def test_a_body_over_256_kib(bc: Client) -> None:
    big = {"name": "J" * 300_000, "currency": "USD"}
    r = await bc.post("/api/customers", json=big)
    assert r.status == 413 and (await r.json())["error"]["type"] == "invalid_request_error"


async def test_numbers_beyond_the_int_conversion_limit(bc: Client) -> None:
    ids = await setup_stripe(bc)
    pay = f"/api/customers/{ids['customer']}/payments"
    await refused(
        await bc.post(pay, json={"amount": "9" * 5000, "card": VISA}), "amount", "amount_invalid"
    )
    card = {**VISA, "exp_month": "1" * 5000}
    await refused(await bc.post(pay, json={"amount": "1.00", "card": card}), "card.exp_month")
    literal = (
        b'{"amount": "1.00", "card": {"number": "4242424242424242", "exp_year": 2034, "exp_month": '
        + b"1" * 5000
        + b"}}"
    )
    r = await bc.post(pay, data=literal, headers={"Content-Type": "application/json"})
    await refused(r, None)
    body = {"payment_system": ids["ps"], "minimum_payment": "5" * 5000}
    await refused(
        await bc.put("/api/currencies/USD", json=body), "minimum_payment", "amount_invalid"
    )


async def test_lone_surrogates(bc: Client) -> None:
    headers = {"Content-Type": "application/json"}
    body = b'{"name": "\\ud800", "currency": "USD"}'
    await refused(await bc.post("/api/customers", data=body, headers=headers), "name")
    nested = b'{"name": "J", "currency": "USD", "email": "a\\udfff@example.com"}'
    await refused(await bc.post("/api/customers", data=nested, headers=headers), "email")
    key = b'{"name": "J", "currency": "USD", "\\ud800": 1}'
    await refused(await bc.post("/api/customers", data=key, headers=headers), "body")
    # A proper pair is one character, and fine.
    pair = b'{"name": "J \\ud83d\\ude00", "currency": "USD"}'
    r = await bc.post("/api/customers", data=pair, headers=headers)
    assert r.status == 201 and (await r.json())["name"] == "J 😀"


async def test_idempotency_key_of_invalid_utf8_bytes(bc: Client, testmode: TestServer) -> None:
    ids = await setup_stripe(bc)
    body = json.dumps({"amount": "10.00", "card": VISA}).encode()
    head = (
        f"POST /api/customers/{ids['customer']}/payments HTTP/1.1\r\nHost: x\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n"
        "Idempotency-Key: "
    ).encode() + b"\xff\xfe-order-1"
    answer = await raw_request(bc, head, body)
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    error = json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]
    assert error["param"] == "Idempotency-Key"
    assert await stripe_payment_intents(url(testmode)) == []  # nothing charged


async def test_header_values_must_be_ascii(bc: Client) -> None:
    head = "GET /api/customers HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Note: é".encode()
    answer = await raw_request(bc, head)
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]["param"] == "X-Note"
    assert (await bc.get("/api/customers")).status == 200


async def test_arabic_indic_digits_are_not_an_amount(bc: Client, testmode: TestServer) -> None:
    ids = await setup_stripe(bc)
    pay = f"/api/customers/{ids['customer']}/payments"
    r = await bc.post(pay, json={"amount": "١٠.٠٠", "card": VISA})
    await refused(r, "amount", "amount_invalid")
    body = {"payment_system": ids["ps"], "minimum_payment": "٠.٥"}
    await refused(
        await bc.put("/api/currencies/USD", json=body), "minimum_payment", "amount_invalid"
    )
    assert await stripe_payment_intents(url(testmode)) == []


async def test_a_misspelled_field_is_refused_not_ignored(bc: Client, testmode: TestServer) -> None:
    ids = await setup_stripe(bc)
    body = {"amount": "10.00", "card": VISA, "tpye": "authorization"}
    err = await refused(
        await bc.post(f"/api/customers/{ids['customer']}/payments", json=body), "tpye"
    )
    assert err["message"] == "Received unknown parameter: tpye."
    assert await stripe_payment_intents(url(testmode)) == []  # not charged as a sale
