"""The three servers (``amci serve``, ``amci stripe-testmode``, ``billing-client serve``) as real
processes, against clients that misbehave on the wire:

- a malformed header line makes aiohttp's server logger print the raw line (an Authorization
  header, a Stripe key): the process's own log output must not contain it;
- slow clients (one byte a second, never finishing their headers) are each dropped once the
  configured ``request_header_timeout_seconds`` has passed, while a normal request still answers
  at once; so is a keep-alive connection left idle after its response.
"""

from __future__ import annotations

import asyncio
import base64
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from .conftest import (
    Service,
    amci_service,
    billing_client_service,
    fernet_key,
    free_port,
    stripe_testmode_service,
)

EARLY = 0.01
HEADER_TIMEOUT_S = 1.5
SLOW_CLIENTS = 300
LOGIN = "hostile-login-7f3a"
KEY = "sk_test_HostileClientKey0123456789wxyz"
BASIC = base64.b64encode(f"{LOGIN}:{KEY}".encode()).decode()
PAN = "4000056655665556"


def _start(kind: str, tmp: Path) -> Service:
    port = free_port()
    log = tmp / f"{kind}.log"
    if kind == "amci":
        return amci_service(port, log, {
            "AMCI_STORE__DB_PATH": str(tmp / "amci.sqlite3"),
            "AMCI_TESTMODE__DB_PATH": str(tmp / "amci-testmode.sqlite3"),
            "AMCI_SERVER__REQUEST_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT_S),
        }).start()
    if kind == "testmode":
        config = tmp / "testmode.yaml"
        config.write_text(f"request_header_timeout_seconds: {HEADER_TIMEOUT_S}\n")
        return stripe_testmode_service(
            port, log, "--db", str(tmp / "testmode.sqlite3"), "--config", str(config)
        ).start()
    config = tmp / "billing_client.yaml"
    config.write_text(
        f"crypto: {{encryption_key: '{fernet_key()}'}}\n"
        f"storage: {{db_path: '{tmp / 'bc.sqlite3'}'}}\n"
        f"server: {{request_header_timeout_seconds: {HEADER_TIMEOUT_S}}}\n"
        "reconcile: {interval_seconds: 0}\n"
    )
    return billing_client_service(port, free_port(), str(config), log).start()


@pytest.fixture(scope="module", params=["amci", "testmode", "billing-client"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Service]:
    service = _start(request.param, tmp_path_factory.mktemp(request.param))
    try:
        yield service
    finally:
        service.stop()


async def _raw_exchange(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()


# Each line is malformed (a control character, a space before the colon, a folded line), so
# aiohttp's parser refuses it and its "aiohttp.server" logger quotes the offending bytes.
MALFORMED = [
    f"Authorization: Basic {BASIC}\x01",
    f"Authorization : Basic {BASIC}",
    f"Authorization: Bearer {KEY}\x7f",
    f"X-Card: {PAN}\x01",
    f"X-Stripe-Key {KEY}",
]


async def test_malformed_header_lines_leave_no_secret_in_the_logs(server: Service) -> None:
    before = server.log_path.stat().st_size
    for line in MALFORMED:
        reply = await _raw_exchange(
            server.port, f"POST /v1/payment_intents HTTP/1.1\r\nHost: x\r\n{line}\r\n\r\n".encode()
        )
        # Refused, and the refusal doesn't quote the bytes back either.
        assert reply.startswith(b"HTTP/1.1 400") or reply.startswith(b"HTTP/1.0 400"), reply
        assert KEY.encode() not in reply and BASIC.encode() not in reply, reply
    # The 400 is written after aiohttp logged the error: the lines are in the file now.
    written = server.log_path.read_bytes()[before:].decode()
    assert written.count("Error handling request") >= len(MALFORMED), written
    for secret in (KEY, KEY[len("sk_test_"):], BASIC, LOGIN, PAN):
        assert secret not in written, f"{secret!r} leaked into the {server.name} log:\n{written}"


class _Opened:
    """Counts connected slow clients; ``all`` is set once every one of them is connected."""

    def __init__(self, expected: int) -> None:
        self.expected, self.count, self.all = expected, 0, asyncio.Event()

    def one(self) -> None:
        self.count += 1
        if self.count == self.expected:
            self.all.set()


async def _slow_client(port: int, limit_s: float, opened_: _Opened) -> tuple[float, float]:
    """Send a request one byte a second, never finishing the headers. Returns the seconds until
    the server closed the connection (reading EOF), counted from before connecting (the server's
    clock can't start earlier) and from the connection's establishment (it can't start later);
    ``inf`` if it was still open at limit + 4 s."""
    loop = asyncio.get_running_loop()
    connecting = loop.time()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    opened = loop.time()
    opened_.one()

    def closed() -> tuple[float, float]:
        now = loop.time()
        return now - connecting, now - opened

    payload = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 64
    try:
        for byte in payload:
            if loop.time() - opened > limit_s + 4:
                return float("inf"), float("inf")
            try:
                writer.write(bytes([byte]))
                await writer.drain()
                # One byte a second; an EOF (the server closing) ends the wait at once.
                data = await asyncio.wait_for(reader.read(1), 1.0)
            except TimeoutError:
                continue
            except ConnectionError:
                return closed()
            assert data == b"", f"the server answered a request it never got: {data!r}"
            return closed()
        return float("inf"), float("inf")
    finally:
        writer.close()


async def _idle_after_response(server: Service) -> tuple[float, float]:
    """One request on a keep-alive connection, then silence: the seconds until the server closed
    the connection, from sending the request (the server's clock can't start earlier) and from
    reading the response (it can't start later)."""
    loop = asyncio.get_running_loop()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        sent = loop.time()
        writer.write(f"GET {server.health_path()} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length")))
        await reader.readexactly(length)
        answered = loop.time()
        rest = await asyncio.wait_for(reader.read(), HEADER_TIMEOUT_S + 4)
        assert rest == b""
        return loop.time() - sent, loop.time() - answered
    finally:
        writer.close()


async def test_slow_clients_are_dropped_while_normal_requests_answer(server: Service) -> None:
    health = server.url + server.health_path()
    # A keep-alive connection idle after its response is bounded the same way.
    idle = asyncio.create_task(_idle_after_response(server))
    opened = _Opened(SLOW_CLIENTS)
    clients = [
        asyncio.create_task(_slow_client(server.port, HEADER_TIMEOUT_S, opened))
        for _ in range(SLOW_CLIENTS)
    ]
    async with aiohttp.ClientSession() as session:
        # While all of them hold their connections: a normal request answers in under a second.
        await asyncio.wait_for(opened.all.wait(), HEADER_TIMEOUT_S)
        latencies = []
        for _ in range(3):
            started = time.monotonic()
            async with session.get(health, timeout=aiohttp.ClientTimeout(total=5)) as resp:
                assert resp.status == 200
            latencies.append(time.monotonic() - started)
        assert max(latencies) < 1.0, latencies
        timings = await asyncio.gather(*clients)
    # (Connections beyond the listen backlog wait for the client's SYN retry, about 1 s: the
    # server's clock starts when it accepts them.)
    since_connecting = sorted(t[0] for t in timings)
    since_open = sorted(t[1] for t in timings)
    assert since_open[-1] != float("inf"), "a slow client was never dropped"
    # Each is dropped after the configured limit, not before, and within a bounded delay after.
    # (EARLY: event loops may fire a timer up to ~1 ms early — uvloop, installed by `make run`,
    # does — and the client's clock starts a little after the server's.)
    assert since_connecting[0] >= HEADER_TIMEOUT_S - EARLY, since_connecting[:5]
    assert since_open[-1] <= HEADER_TIMEOUT_S + 1.0, since_open[-5:]
    assert statistics.median(since_open) <= HEADER_TIMEOUT_S + 0.3, since_open
    since_sent, since_answered = await idle
    assert since_sent >= HEADER_TIMEOUT_S - EARLY and since_answered <= HEADER_TIMEOUT_S + 1.0
