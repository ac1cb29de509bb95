"""AMCI replicas as real processes (``python -m amci serve --store postgresql://…``) on one
PostgreSQL database, in front of one Stripe test-mode server that records what reaches it.

- duplicates split across two replicas → one upstream create per key;
- ``kill -9`` of a replica with payments in flight, clients retrying on the other → every
  payment completes, none twice;
- a burst through three replicas → the upstream sees at most the limit in each second.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from amci.testmode.app import create_app as create_testmode_app
from amci.testmode.settings import TestmodeSettings

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk_test_51ReplicaSharedAccountKey00000000wxyz"
AUTH = {"Authorization": "Basic " + base64.b64encode(f"replica-test:{KEY}".encode()).decode()}
PAY = "/v1/stripe/payments"
CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}
START_DEADLINE_S = 30.0


@dataclass
class Upstream:
    """What the test-mode server received: (monotonic time, "METHOD path", status), the
    PaymentIntents it created, and an optional gate that holds PaymentIntent creates."""

    url: str = ""
    calls: list[tuple[float, str, int]] = field(default_factory=list)
    created: set[str] = field(default_factory=set)
    gate: asyncio.Event | None = None
    held: int = 0
    hold_threshold: int = 0
    threshold_reached: asyncio.Event = field(default_factory=asyncio.Event)

    def count(self, call: str) -> int:
        return sum(1 for _, c, _ in self.calls if c == call)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        arrived = time.monotonic()
        call = f"{request.method} {request.path}"
        if call == "POST /v1/payment_intents" and self.gate is not None:
            self.held += 1
            if self.held >= self.hold_threshold:
                self.threshold_reached.set()
            await self.gate.wait()
        response: web.StreamResponse = await handler(request)
        self.calls.append((arrived, call, response.status))
        if call == "POST /v1/payment_intents" and isinstance(response, web.Response):
            if response.status == 200 and response.headers.get("Idempotent-Replayed") != "true":
                assert response.text is not None
                self.created.add(response.text.split('"id":"', 1)[1].split('"', 1)[0])
        return response


@dataclass
class Replica:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


ReplicaFactory = Callable[..., Any]


@pytest.fixture
def upstream() -> Upstream:
    return Upstream()


@pytest.fixture
async def serve_upstream(aiohttp_server: Any, upstream: Upstream) -> Callable[..., Any]:
    """Start the test-mode server, with Stripe's per-account limit (or none), recording."""

    async def serve(rate_limit_per_second: float | None) -> None:
        app = create_testmode_app(
            TestmodeSettings(db_path=None, rate_limit_per_second=rate_limit_per_second))
        app.middlewares.insert(0, upstream.middleware)
        server = await aiohttp_server(app)
        upstream.url = str(server.make_url("")).rstrip("/")

    return serve


@pytest.fixture
async def replicas(pg_url: str, upstream: Upstream, serve_upstream: Callable[..., Any],
                   tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    started: list[Replica] = []

    async def start(n: int, rate_limit: str, upstream_limit: float | None = None
                    ) -> list[Replica]:
        await serve_upstream(upstream_limit)
        fingerprint = hashlib.sha256(KEY.encode()).hexdigest()
        config = tmp_path / "amci.yaml"
        config.write_text(
            f"upstream: {{test_api_base: '{upstream.url}', max_network_retries: 1, "
            "timeout_seconds: 10}\n"
            f"rate_limit: {rate_limit}\n"
            "log_level: WARNING\n"
            "subscriptions:\n"
            "  - {id: acme, active: true, stripe_integration_activated: true,\n"
            f"     key_fingerprints: ['{fingerprint}']}}\n"
        )
        batch = []
        for i in range(n):
            port = _free_port()
            log = tmp_path / f"replica-{len(started) + i}.log"
            with log.open("wb") as out:
                proc = subprocess.Popen(  # noqa: ASYNC220 - starting the processes under test
                    [sys.executable, "-m", "amci", "serve", "--config", str(config),
                     "--port", str(port), "--store", pg_url],
                    cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT,
                    env={**os.environ, "PYTHONPATH": str(ROOT)})
            batch.append(Replica(proc, f"http://127.0.0.1:{port}", log))
        started.extend(batch)
        deadline = time.monotonic() + START_DEADLINE_S
        async with aiohttp.ClientSession() as session:
            for replica in batch:
                while True:  # process start-up only
                    assert replica.proc.poll() is None, replica.log.read_text()[-3000:]
                    try:
                        async with session.get(f"{replica.url}/healthz") as resp:
                            if resp.status == 200:
                                break
                    except aiohttp.ClientConnectionError:
                        pass
                    assert time.monotonic() < deadline, replica.log.read_text()[-3000:]
                    await asyncio.sleep(0.05)
        return batch

    yield start
    for replica in started:
        if replica.proc.poll() is None:
            replica.proc.send_signal(signal.SIGTERM)
    for replica in started:
        try:
            replica.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            replica.proc.kill()
            replica.proc.wait()


async def _pay(session: aiohttp.ClientSession, base: str, body: dict[str, Any],
               key: str | None) -> tuple[int, Any, bool]:
    headers = {**AUTH, **({"Idempotency-Key": key} if key else {})}
    async with session.post(f"{base}{PAY}", json=body, headers=headers) as resp:
        return resp.status, await resp.json(), resp.headers.get("Idempotent-Replayed") == "true"


async def test_duplicates_split_across_two_replicas_make_one_upstream_create(
    replicas: ReplicaFactory, upstream: Upstream
) -> None:
    a, b = await replicas(2, "{enabled: false}")
    keys = [f"dup-{i}" for i in range(4)]
    async with aiohttp.ClientSession() as session:
        for key in keys:
            body = {"amount": "12.34", "currency": "USD", "card": CARD, "reference": key}
            results = await asyncio.gather(*(
                _pay(session, (a, b)[i % 2].url, body, key) for i in range(10)))
            assert {s for s, _, _ in results} <= {201, 409} and any(s == 201 for s, _, _ in results)
            assert len({d["id"] for s, d, _ in results if s == 201}) == 1
            for status, data, _ in results:
                if status == 409:
                    assert data["error"]["code"] == "idempotency_key_in_use"
            # Done: a retry on either replica replays the one payment.
            paid = next(d["id"] for s, d, _ in results if s == 201)
            for replica in (a, b):
                status, data, replayed = await _pay(session, replica.url, body, key)
                assert (status, data["id"], replayed) == (201, paid, True)
    assert upstream.count("POST /v1/payment_intents") == len(keys)
    assert upstream.count("POST /v1/payment_methods") == len(keys)
    assert len(upstream.created) == len(keys)


async def test_kill_9_of_a_replica_mid_load_loses_nothing_and_charges_once(
    replicas: ReplicaFactory, upstream: Upstream
) -> None:
    doomed, survivor = await replicas(2, "{enabled: false}")
    n = 12
    upstream.gate, upstream.hold_threshold = asyncio.Event(), n // 2
    outcomes: dict[str, tuple[int, str]] = {}

    async def client(session: aiohttp.ClientSession, i: int) -> None:
        """A billing system: same Idempotency-Key on every try; the other replica after a
        failure, with backoff (what a client of Stripe does: docs.stripe.com/error-low-level)."""
        key = f"kill-{i}"
        body = {"amount": f"{10 + i}.00", "currency": "USD", "card": CARD, "reference": key}
        base, delay, deadline = doomed.url, 0.05, time.monotonic() + 40
        while True:
            try:
                status, data, _ = await _pay(session, base, body, key)
                if status in (201, 402):
                    outcomes[key] = (status, data.get("id") or data["error"]["payment"])
                    return
                assert status in (409, 429, 502, 503), (status, data)
            except aiohttp.ClientError:
                pass
            assert time.monotonic() < deadline, f"{key} never completed"
            base = survivor.url
            await asyncio.sleep(delay)  # the client's retry backoff
            delay = min(delay * 2, 0.5)

    async with aiohttp.ClientSession() as session:
        tasks = [asyncio.create_task(client(session, i)) for i in range(n)]
        await asyncio.wait_for(upstream.threshold_reached.wait(), 30)
        # Half the creates have reached Stripe and wait for its answer; the rest are anywhere.
        os.kill(doomed.proc.pid, signal.SIGKILL)
        doomed.proc.wait()
        upstream.gate.set()  # Stripe completes what the dead replica sent; nobody hears it
        await asyncio.gather(*tasks)

    assert len(outcomes) == n  # 0 lost
    paid = {payment for _, payment in outcomes.values()}
    assert {status for status, _ in outcomes.values()} == {201}
    assert len(paid) == n  # one payment per client request…
    assert upstream.created == paid  # …and every PaymentIntent Stripe made is one of them
    assert upstream.held >= n // 2


async def test_a_burst_through_three_replicas_stays_within_the_account_limit(
    replicas: ReplicaFactory, upstream: Upstream
) -> None:
    limit = 10
    rs = await replicas(3, f"{{enabled: true, test_per_second: {limit}, "
                           f"endpoint_per_second: {limit}, max_wait_seconds: 10}}",
                        upstream_limit=limit)
    n = 36
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{rs[0].url}/v1/stripe/cards", headers=AUTH, json={
            "card": CARD, "customer": {"email": "burst@example.com"}}) as resp:
            assert resp.status == 201, await resp.text()
            token = (await resp.json())["token"]
        results = await asyncio.gather(*(
            _pay(session, rs[i % 3].url, {"amount": "1.00", "currency": "USD", "token": token},
                 None) for i in range(n)))
    assert [s for s, _, _ in results] == [201] * n
    times = sorted(t for t, _, _ in upstream.calls)
    assert all(status != 429 for _, _, status in upstream.calls)  # Stripe's bucket never empty
    # Consecutive one-second windows from the first call that reached the upstream: none
    # holds more than the limit.
    windows = Counter(int(t - times[0]) for t in times)
    assert max(windows.values()) <= limit, sorted(windows.items())
    # Every upstream call books from the one account budget (a payment is a create and a
    # confirm): the replicas share it (0.9 of it is what they book), not a third each.
    rate = (len(times) - 1) / (times[-1] - times[0])
    assert rate >= 0.6 * limit, rate
