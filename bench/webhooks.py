"""Benchmark: webhook deliveries of the test mode, and what they cost the API.

    make bench-webhooks        (or: .venv/bin/python -m bench.webhooks [--events N])

The test-mode server runs as its own process (SQLite file, rate limit off). 16 concurrent
workers create N customers (N = 10,000 by default; one POST each, each with an Idempotency-Key),
which records N ``customer.created`` events:
1. **baseline** — on an account without webhook endpoints;
2. **with endpoints** — on an account with one endpoint (``*``) pointing at a local receiver (an
   aiohttp server in this process that answers 200 and verifies every 100th signature with the
   same HMAC as ``stripe.Webhook``), so every event is delivered;
3. **baseline again** (the baseline is the mean of 1 and 3: the machine drifts).
Reported: the API's p50/p99 in each run, the p50 with endpoints relative to the baseline (target:
within 10 %), and deliveries per second (N / time from the first request until the N-th delivery
arrived), plus the drain rate after the load stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
from aiohttp import web

from bench.testmode import free_port, start, stop, wait_http

CONCURRENCY = 16


def key(tag: str) -> str:
    return f"sk_test_bench{tag}" + "x" * 16


class Receiver:
    def __init__(self) -> None:
        self.count = 0
        self.first = 0.0
        self.last = 0.0
        self.bad = 0
        self.secret = ""
        self.target = 0
        self.done = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.count += 1
        now = time.perf_counter()
        self.first = self.first or now
        self.last = now
        if self.count % 100 == 0:
            fields = dict(p.split("=", 1) for p in request.headers["Stripe-Signature"].split(","))
            expected = hmac.new(self.secret.encode(), f"{fields['t']}.".encode() + body,
                                hashlib.sha256).hexdigest()
            self.bad += not hmac.compare_digest(expected, fields["v1"])
        if self.target and self.count >= self.target:
            self.done.set()
        return web.Response(text="ok")


async def load(http: aiohttp.ClientSession, base: str, api_key: str, n: int) -> list[float]:
    """n customer creates from CONCURRENCY workers; returns the latencies (seconds)."""
    latencies: list[float] = []
    remaining = n
    headers = {"Authorization": f"Bearer {api_key}",
               "Content-Type": "application/x-www-form-urlencoded"}

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            t0 = time.perf_counter()
            async with http.post(f"{base}/v1/customers", data="email=bench%40example.com",
                                 headers={**headers, "Idempotency-Key": str(uuid.uuid4())}) as r:
                await r.read()
                if r.status != 200:
                    raise RuntimeError(f"HTTP {r.status}")
            latencies.append(time.perf_counter() - t0)

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return latencies


def ms(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] * 1000 if q < 100 else 0.0


async def main(n: int) -> int:
    out = print
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    hook_port = free_port()
    await web.TCPSite(runner, "127.0.0.1", hook_port).start()
    with tempfile.TemporaryDirectory(prefix="amci-bench-webhooks-") as tmp:
        cfg = Path(tmp) / "testmode.yaml"
        cfg.write_text("rate_limit_per_second: null\n")
        port = free_port()
        proc = await start([sys.executable, "-m", "amci", "stripe-testmode", "--host",
                            "127.0.0.1", "--port", str(port), "--db", str(Path(tmp) / "tm.db"),
                            "--config", str(cfg)], b"listening")
        base = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as http:
                await wait_http(base, http)
                await load(http, base, key("warm"), 500)  # warm-up, not measured
                baseline1 = await load(http, base, key("base1"), n)
                out(f"baseline (no endpoints): p50 {ms(baseline1, 50):.2f} ms,"
                    f" p99 {ms(baseline1, 99):.2f} ms, {n} events")

                hooked = key("hooked")
                async with http.post(f"{base}/v1/webhook_endpoints", headers={
                        "Authorization": f"Bearer {hooked}"}, data={
                        "url": f"http://127.0.0.1:{hook_port}/hook",
                        "enabled_events[0]": "*"}) as r:
                    receiver.secret = (await r.json())["secret"]
                receiver.target = n
                t0 = time.perf_counter()
                with_hooks = await load(http, base, hooked, n)
                load_end = time.perf_counter()
                delivered_during = receiver.count
                await asyncio.wait_for(receiver.done.wait(), timeout=600)
                elapsed = receiver.last - t0
                drain = max(receiver.last - load_end, 1e-9)
                out(f"with one endpoint: p50 {ms(with_hooks, 50):.2f} ms,"
                    f" p99 {ms(with_hooks, 99):.2f} ms; {receiver.count} deliveries in"
                    f" {elapsed:.1f} s = {receiver.count / elapsed:.0f} deliveries/s"
                    f" ({delivered_during} during the load; drain after it:"
                    f" {(receiver.count - delivered_during) / drain:.0f}/s);"
                    f" signatures checked {receiver.count // 100}, bad {receiver.bad}")

                baseline2 = await load(http, base, key("base2"), n)
                out(f"baseline again: p50 {ms(baseline2, 50):.2f} ms,"
                    f" p99 {ms(baseline2, 99):.2f} ms")
        finally:
            await stop(proc)
            await runner.cleanup()
    base_p50 = (ms(baseline1, 50) + ms(baseline2, 50)) / 2
    ratio = ms(with_hooks, 50) / base_p50
    out(f"API p50 with endpoints / without: {ratio:.2f} ({(ratio - 1) * 100:+.0f} %;"
        f" target within 10 %: {'met' if ratio <= 1.10 else 'NOT met'})")
    print(json.dumps({"events": n, "deliveries_per_second": round(receiver.count / elapsed),
                      "p50_ms_baseline": round(base_p50, 2),
                      "p50_ms_with_endpoints": round(ms(with_hooks, 50), 2),
                      "p50_ratio": round(ratio, 3), "bad_signatures": receiver.bad}))
    return 0 if receiver.bad == 0 else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    sys.exit(asyncio.run(main(parser.parse_args().events)))
