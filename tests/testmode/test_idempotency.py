"""Stripe's idempotency contract: replay, mismatch, in-flight 409, scoping, what is not stored,
retention, and N concurrent identical requests creating one object."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
import stripe
from aiohttp.test_utils import TestServer

from tests.testmode.conftest import ClientFactory, advance_clock


async def test_replay_returns_first_result_with_header(client: stripe.StripeClient) -> None:
    opts: stripe.RequestOptions = {"idempotency_key": "order-1"}
    params: stripe.PaymentIntentCreateParams = {
        "amount": 2000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True}
    first = await client.v1.payment_intents.create_async(params, opts)
    again = await client.v1.payment_intents.create_async(params, opts)
    assert again.id == first.id
    assert again.to_dict() == first.to_dict()
    assert first.last_response is not None and again.last_response is not None
    assert "Idempotent-Replayed" not in first.last_response.headers
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    assert len((await client.v1.payment_intents.list_async()).data) == 1


async def test_other_parameters_with_same_key_is_idempotency_error(
    client: stripe.StripeClient,
) -> None:
    opts: stripe.RequestOptions = {"idempotency_key": "k-2"}
    await client.v1.customers.create_async({"email": "a@b.co"}, opts)
    with pytest.raises(stripe.IdempotencyError) as exc:
        await client.v1.customers.create_async({"email": "c@d.co"}, opts)
    assert exc.value.http_status == 400
    assert "Try using a key other than 'k-2'" in str(exc.value.user_message)
    with pytest.raises(stripe.IdempotencyError):
        await client.v1.payment_intents.create_async({"amount": 900, "currency": "usd"}, opts)


async def test_keys_are_scoped_by_account(make_client: ClientFactory) -> None:
    opts: stripe.RequestOptions = {"idempotency_key": "shared"}
    a = await make_client().v1.customers.create_async({"name": "x"}, opts)
    b = await make_client().v1.customers.create_async({"name": "x"}, opts)
    assert a.id != b.id


async def test_validation_failures_are_not_stored(client: stripe.StripeClient) -> None:
    opts: stripe.RequestOptions = {"idempotency_key": "k-3"}
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.payment_intents.create_async({"amount": 10, "currency": "usd"}, opts)
    ok = await client.v1.payment_intents.create_async({"amount": 1000, "currency": "usd"}, opts)
    assert ok.amount == 1000


async def test_declines_are_stored_and_replayed(client: stripe.StripeClient) -> None:
    opts: stripe.RequestOptions = {"idempotency_key": "k-4"}
    params: stripe.PaymentIntentCreateParams = {
        "amount": 2000, "currency": "usd", "payment_method": "pm_card_visa_chargeDeclined",
        "confirm": True}
    with pytest.raises(stripe.CardError) as first:
        await client.v1.payment_intents.create_async(params, opts)
    with pytest.raises(stripe.CardError) as again:
        await client.v1.payment_intents.create_async(params, opts)
    assert again.value.json_body == first.value.json_body
    assert again.value.headers is not None
    assert again.value.headers.get("Idempotent-Replayed") == "true"
    assert len((await client.v1.charges.list_async()).data) == 1


async def test_keys_expire_after_24_hours(
    client: stripe.StripeClient, http: aiohttp.ClientSession, stripe_base_url: str
) -> None:
    opts: stripe.RequestOptions = {"idempotency_key": "k-5"}
    first = await client.v1.customers.create_async({"name": "x"}, opts)
    await advance_clock(http, stripe_base_url, 86399)
    assert (await client.v1.customers.create_async({"name": "x"}, opts)).id == first.id
    await advance_clock(http, stripe_base_url, 2)
    assert (await client.v1.customers.create_async({"name": "x"}, opts)).id != first.id


async def test_overlong_key_is_refused(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.customers.create_async({}, {"idempotency_key": "k" * 256})


async def test_concurrent_identical_requests_create_one_object(
    client: stripe.StripeClient,
) -> None:
    opts: stripe.RequestOptions = {"idempotency_key": "race"}
    params: stripe.PaymentIntentCreateParams = {
        "amount": 2000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True}
    results = await asyncio.gather(
        *(client.v1.payment_intents.create_async(params, opts) for _ in range(24)),
        return_exceptions=True)
    ok = [r for r in results if isinstance(r, stripe.PaymentIntent)]
    busy = [r for r in results if isinstance(r, stripe.APIError)]
    assert ok, results
    assert len(ok) + len(busy) == len(results)
    assert all(r.http_status == 409 for r in busy)
    assert {r.id for r in ok} == {ok[0].id}
    assert len((await client.v1.payment_intents.list_async()).data) == 1
    assert len((await client.v1.charges.list_async()).data) == 1


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode()
    lines = head.split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
    body = await reader.readexactly(int(headers["content-length"]))
    return status, headers, body


async def test_same_key_while_first_is_in_flight_is_409(
    testmode_server: TestServer, stripe_base_url: str, http: aiohttp.ClientSession, key: str
) -> None:
    """The first request sends its headers with ``Expect: 100-continue``; once the server says
    "100 Continue" the key is in flight until the body arrives. No sleeps: the 100 is the signal."""
    body = b"amount=2000&currency=usd"
    reader, writer = await asyncio.open_connection(testmode_server.host, testmode_server.port)
    try:
        writer.write(
            (f"POST /v1/payment_intents HTTP/1.1\r\nHost: 127.0.0.1\r\n"
             f"Authorization: Bearer {key}\r\nIdempotency-Key: slow\r\n"
             f"Content-Type: application/x-www-form-urlencoded\r\n"
             f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n").encode())
        await writer.drain()
        interim = await reader.readuntil(b"\r\n\r\n")
        assert interim.startswith(b"HTTP/1.1 100")
        headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": "slow"}
        form = {"amount": "2000", "currency": "usd"}
        async with http.post(f"{stripe_base_url}/v1/payment_intents", data=form,
                             headers=headers) as r:
            assert r.status == 409
            err = (await r.json())["error"]
            assert err["code"] == "idempotency_key_in_use"
        writer.write(body)
        await writer.drain()
        status, _, first = await _read_response(reader)
        assert status == 200
        async with http.post(f"{stripe_base_url}/v1/payment_intents", data=form,
                             headers=headers) as r:
            assert r.status == 200
            assert r.headers["Idempotent-Replayed"] == "true"
            assert (await r.json())["id"] == json.loads(first)["id"]
    finally:
        writer.close()
        await writer.wait_closed()


@pytest.mark.parametrize("raw_key", [b"\xff\xfe-not-utf8", "clé".encode(), b"\xed\xa0\x80"])
async def test_non_ascii_key_bytes_are_a_400_not_a_500(
    testmode_server: TestServer, key: str, raw_key: bytes
) -> None:
    """Invalid UTF-8 (or any non-ASCII) in Idempotency-Key: a 400 naming the header, and
    nothing stored; before, SQLite could not bind the key and the server answered 500."""
    body = b"amount=2000&currency=usd"
    reader, writer = await asyncio.open_connection(testmode_server.host, testmode_server.port)
    try:
        writer.write(
            f"POST /v1/payment_intents HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {key}\r\n".encode()
            + b"Idempotency-Key: " + raw_key + b"\r\n"
            + f"Content-Type: application/x-www-form-urlencoded\r\n"
              f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        await writer.drain()
        status, _, answer = await _read_response(reader)
    finally:
        writer.close()
        await writer.wait_closed()
    assert status == 400, answer
    error = json.loads(answer)["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == "Idempotency-Key"
    assert "ASCII" in error["message"]
