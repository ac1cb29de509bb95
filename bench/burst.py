"""Benchmark: a burst for one Stripe account through three AMCI replicas on one PostgreSQL —
what reaches Stripe per one-second window, against the account's limit, for each headroom.

    .venv/bin/python -m bench.burst [--headrooms 0.90 0.95] [--runs 2] [--seconds 10]

Processes: the Stripe test-mode server with Stripe's test-mode limit of 25 requests/s per
account (docs.stripe.com/rate-limits), recording the arrival time and status of every call
(its own 429s come from its token bucket); three replicas (``python -m amci serve --store
postgresql://…``, ``rate_limit: {test_per_second: 25, endpoint_per_second: 25, headroom: H}``);
a throwaway PostgreSQL cluster; this process, 45 clients paying by saved-card token as fast as
AMCI lets them (15 per replica), for ``--seconds``.

Stripe does not publish how it counts its per-second limit (UNVERIFIED: token bucket, fixed
or sliding window), so the arrivals are read three ways:
  fixed    consecutive one-second windows from the first call (the last, partial one left out)
  sliding  the most calls in any one-second interval [t, t + 1) starting at a call
  429s     the test-mode server's token bucket (capacity 25), and the calls a strict sliding
           window (more than the limit in the second before a call) would have refused
"Within 5 % of the limit, 0 upstream 429s" here: the burst's mean upstream rate is at least
95 % of the limit, no one-second window (fixed or sliding) holds more than the limit, and no
429 either way.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench import postgres
from bench.relay import free_port, wait_up
from bench.replicas import AUTH, amci_config, save_card, start_amci, stop

LIMIT = 25  # Stripe's test-mode requests per second per account (docs.stripe.com/rate-limits)
REPLICAS = 3
CLIENTS_PER_REPLICA = 15


def role_upstream(port: int) -> None:
    """The test-mode server with Stripe's limit, recording (monotonic time, call, status)."""
    from aiohttp import web

    from amci.testmode.app import create_app
    from amci.testmode.settings import TestmodeSettings
    from bench.relay import _serve

    calls: list[tuple[float, str, int]] = []

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.startswith("/_bench/"):
            if request.method == "DELETE":
                calls.clear()
            return web.json_response(calls)
        arrived = time.monotonic()
        response: web.StreamResponse = await handler(request)
        calls.append((arrived, f"{request.method} {request.path}", response.status))
        return response

    app = create_app(TestmodeSettings(db_path=None, rate_limit_per_second=float(LIMIT)))
    app.middlewares.insert(0, record)
    _serve(app, port)


@dataclass
class Run:
    headroom: float
    calls: list[tuple[float, str, int]]
    payments: int
    amci_429: int

    @property
    def times(self) -> list[float]:
        return sorted(t for t, _, _ in self.calls)

    def fixed_windows(self) -> list[int]:
        times = self.times
        full = int(times[-1] - times[0])  # whole seconds; the last, partial window left out
        counts = [0] * full
        for t in times:
            index = int(t - times[0])
            if index < full:
                counts[index] += 1
        return counts

    def sliding_max(self) -> int:
        times = self.times
        return max(bisect.bisect_left(times, t + 1.0) - i for i, t in enumerate(times))

    def sliding_refusals(self) -> int:
        """Calls with more than the limit in (t - 1, t], themselves included."""
        times = self.times
        return sum(1 for i, t in enumerate(times)
                   if i + 1 - bisect.bisect_right(times, t - 1.0) > LIMIT)

    @property
    def upstream_429(self) -> int:
        return sum(1 for _, _, status in self.calls if status == 429)

    @property
    def rate(self) -> float:
        times = self.times
        return (len(times) - 1) / (times[-1] - times[0])


async def burst(urls: list[str], upstream: str, seconds: float, headroom: float) -> Run:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200)) as session:
        token = await save_card(session, urls[0])
        body = json.dumps({"amount": "1.00", "currency": "USD", "token": token}).encode()
        async with session.delete(f"{upstream}/_bench/calls") as r:
            assert r.status == 200
        statuses: list[int] = []
        stop_at = time.monotonic() + seconds

        async def client(url: str) -> None:
            while time.monotonic() < stop_at:
                headers = {**AUTH, "Idempotency-Key": uuid.uuid4().hex,
                           "Content-Type": "application/json"}
                async with session.post(f"{url}/v1/stripe/payments", data=body,
                                        headers=headers) as r:
                    await r.read()
                    statuses.append(r.status)

        await asyncio.gather(*(client(url) for url in urls for _ in range(CLIENTS_PER_REPLICA)))
        async with session.get(f"{upstream}/_bench/calls") as r:
            calls = [(float(t), str(c), int(s)) for t, c, s in await r.json()]
    unexpected = {s for s in statuses if s not in (201, 429)}
    assert not unexpected, unexpected
    return Run(headroom, calls, statuses.count(201), statuses.count(429))


def spawn_upstream(port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bench.burst", "--role-upstream", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


async def run(headrooms: list[float], runs: int, seconds: float) -> list[Run]:
    workdir = Path(tempfile.mkdtemp(prefix="amci-bench-burst-"))
    port = free_port()
    upstream_proc = spawn_upstream(port)
    upstream = f"http://127.0.0.1:{port}"
    results = []
    with postgres.cluster() as pg:
        try:
            await wait_up(upstream + "/_bench/calls", upstream_proc)
            for _ in range(runs):  # interleaved, so machine noise hits each headroom alike
                for headroom in headrooms:
                    config = amci_config(
                        workdir, upstream,
                        f"{{enabled: true, test_per_second: {LIMIT}, endpoint_per_second: "
                        f"{LIMIT}, headroom: {headroom}, max_wait_seconds: 10}}")
                    store = pg.create_database()
                    started = [start_amci(config, store, workdir) for _ in range(REPLICAS)]
                    try:
                        for proc, url in started:
                            await wait_up(url + "/healthz", proc)
                        results.append(await burst([u for _, u in started], upstream, seconds,
                                                   headroom))
                    finally:
                        stop([p for p, _ in started])
        finally:
            stop([upstream_proc])
    return results


def report(results: list[Run], seconds: float) -> str:
    lines = [
        f"one account, {REPLICAS} replicas, {REPLICAS * CLIENTS_PER_REPLICA} clients for "
        f"{seconds:.0f} s; Stripe's test-mode limit {LIMIT}/s",
        f"{'headroom':>8} {'payments':>8} {'calls/s':>8} {'fixed windows (min-max)':>24} "
        f"{'sliding max':>11} {'429 bucket':>10} {'429 sliding':>11} {'AMCI 429':>8}  verdict",
    ]
    for r in results:
        windows = r.fixed_windows()
        low, high = min(windows), max(windows)
        over = high > LIMIT or r.sliding_max() > LIMIT or r.upstream_429 or r.sliding_refusals()
        within = r.rate >= 0.95 * LIMIT and not over
        verdict = "within 5 %, 0 429s" if within else (
            "over the limit" if over else f"{100 * (1 - r.rate / LIMIT):.1f} % under the limit")
        lines.append(
            f"{r.headroom:>8.2f} {r.payments:>8} {r.rate:>8.2f} "
            f"{f'{low}-{high} ({100 * low / LIMIT:.0f}-{100 * high / LIMIT:.0f} %)':>24} "
            f"{r.sliding_max():>11} {r.upstream_429:>10} {r.sliding_refusals():>11} "
            f"{r.amci_429:>8}  {verdict}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--headrooms", type=float, nargs="+", default=[0.90, 0.95])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--role-upstream", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role_upstream:
        role_upstream(args.role_upstream)
        return
    results = asyncio.run(run(args.headrooms, args.runs, args.seconds))
    print(report(results, args.seconds))


if __name__ == "__main__":
    main()
