"""Benchmark: payments through AMCI vs the official SDK straight to the test-mode server, with a
minimal aiohttp pass-through proxy as the floor — same run, same concurrency.

    .venv/bin/python -m bench.relay [--payments 600] [--concurrency 8] [--rounds 2]

Processes (each its own PID, so each server's CPU is isolated and read from /proc/<pid>/stat):
  testmode  the Stripe test-mode server (rate limit off, in-memory store)
  amci      the AMCI proxy pointed at it (rate limiter off, SQLite store in a temp dir, INFO
            JSON logs to /dev/null — production-like work per request)
  floor     a minimal aiohttp pass-through proxy in front of the test-mode server
and this process, the load generator.

Scenarios, one payment = a sale by saved-card token (what a billing system does on renewals):
  direct    stripe SDK → testmode                   (PaymentIntent create, confirm, off_session)
  floor     stripe SDK → floor proxy → testmode     (the same SDK call through one plain hop)
  amci      HTTP client → AMCI → stripe SDK → testmode  (POST /v1/stripe/payments with a token)

Reported: throughput, p50/p99 latency, CPU per payment of the middle process (AMCI, floor, sdk) and
added p50 latency vs direct. Targets: AMCI CPU/payment ≤ 1.5 × the floor's (issue 3) and ≤ 1.5 ×
the bare SDK relay's (issue 13); AMCI's p50 added latency ≤ 2 ms at concurrency 8.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

KEY = "sk_test_bench_0000000000000000000000000"
LOGIN = "bench-login"
TICK = os.sysconf("SC_CLK_TCK")


# --- server roles (run in child processes) --------------------------------------------------------


def _serve(app: Any, port: int) -> None:
    from aiohttp import web

    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def role_testmode(port: int) -> None:
    from amci.testmode.app import create_app
    from amci.testmode.settings import TestmodeSettings

    _serve(create_app(TestmodeSettings(db_path=None, rate_limit_per_second=None)), port)


def role_amci(port: int, upstream: str, workdir: str) -> None:
    import logging

    from amci.app import create_app
    from amci.logs import JsonFormatter
    from amci.settings import (
        EmbeddedTestmodeSettings,
        RateLimitSettings,
        Settings,
        StoreSettings,
        SubscriptionSettings,
        UpstreamSettings,
    )

    handler = logging.FileHandler(os.devnull)
    handler.setFormatter(JsonFormatter())
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.INFO)
    settings = Settings(
        store=StoreSettings(db_path=str(Path(workdir) / "amci.sqlite3")),
        # "embedded": AMCI's default, the test-mode server inside the AMCI process.
        upstream=UpstreamSettings(test_api_base=None if upstream == "embedded" else upstream,
                                  max_network_retries=2),
        testmode=EmbeddedTestmodeSettings(db_path=None, rate_limit_per_second=None),
        rate_limit=RateLimitSettings(enabled=False),
        subscriptions=(SubscriptionSettings(id="bench", stripe_integration_activated=True,
                                            allow_any_test_key=True),),
    )
    profile = os.environ.get("BENCH_PROFILE")
    if profile and upstream == "embedded":
        profile += ".embedded"  # the second AMCI process must not overwrite the first's profile
    if profile:  # BENCH_PROFILE=/tmp/amci.prof: where AMCI's CPU goes (pstats file)
        import cProfile

        # CPU time, not wall time: what the benchmark's CPU figure counts (a commit's fsync
        # wait or an idle event loop would otherwise dominate).
        with cProfile.Profile(time.process_time) as prof:
            try:
                _serve(create_app(settings), port)
            finally:
                prof.dump_stats(profile)
    else:
        _serve(create_app(settings), port)


def role_sdkhop(port: int, upstream: str) -> None:
    """A reference, not a target: the least an SDK relay can do. JSON in (the Stripe parameters
    themselves), ``StripeClient.raw_request_async`` (the call AMCI's relay makes), Stripe's body
    out — no auth, policy, store, idempotency, metrics or logs. Its CPU minus the floor's is
    what the stripe SDK itself costs per call."""
    import stripe
    from aiohttp import web

    client_key = web.AppKey("client", stripe.StripeClient)

    async def ctx(app: web.Application) -> Any:
        session = aiohttp.ClientSession()
        app[client_key] = stripe.StripeClient(
            "sk_test_placeholder", base_addresses={"api": upstream}, max_network_retries=2,
            http_client=stripe.AIOHTTPClient(session=session),
        )
        yield
        await session.close()

    async def relay(request: web.Request) -> web.Response:
        params = json.loads(await request.read())
        try:
            resp = await request.app[client_key].raw_request_async(
                "post", "/v1/payment_intents", api_key=KEY,
                idempotency_key=request.headers["Idempotency-Key"], **params)
        except stripe.StripeError as exc:
            return web.Response(status=exc.http_status or 502, text=str(exc.json_body))
        return web.Response(status=resp.code, text=resp.body, content_type="application/json")

    app = web.Application()
    app.cleanup_ctx.append(ctx)
    app.router.add_post("/v1/payment_intents", relay)
    _serve(app, port)


def role_floor(port: int, upstream: str) -> None:
    """The floor: forward method, path, query, headers and body; answer status and body."""
    from aiohttp import web

    hop = {"host", "content-length", "transfer-encoding", "connection"}
    session_key = web.AppKey("session", aiohttp.ClientSession)

    async def ctx(app: web.Application) -> Any:
        app[session_key] = aiohttp.ClientSession()
        yield
        await app[session_key].close()

    async def forward(request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in hop}
        async with request.app[session_key].request(
            request.method, upstream + request.path_qs, headers=headers, data=body
        ) as resp:
            payload = await resp.read()
            out = {k: v for k, v in resp.headers.items() if k.lower() not in hop}
            return web.Response(status=resp.status, body=payload, headers=out)

    app = web.Application()
    app.cleanup_ctx.append(ctx)
    app.router.add_route("*", "/{tail:.*}", forward)
    _serve(app, port)


# --- the load generator ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def spawn(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bench.relay", "--role", *args],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )


async def wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    async with aiohttp.ClientSession() as s:
        while True:  # process start-up only
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise SystemExit(f"server died: {err}")
            try:
                async with s.get(url) as r:
                    if r.status < 500:
                        return
            except aiohttp.ClientConnectionError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"{url} did not come up")
            await asyncio.sleep(0.05)


@dataclass
class Result:
    name: str
    payments: int
    seconds: float
    latencies: list[float]
    cpu: float | None  # seconds of the middle process

    @property
    def throughput(self) -> float:
        return self.payments / self.seconds

    def pct(self, q: float) -> float:
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000

    @property
    def cpu_ms(self) -> float | None:
        return None if self.cpu is None else self.cpu / self.payments * 1000


async def drive(
    n: int, concurrency: int, one: Callable[[int], Awaitable[None]]
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            t0 = time.perf_counter()
            await one(i)
            latencies.append(time.perf_counter() - t0)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start, latencies


async def run(payments: int, concurrency: int, rounds: int) -> list[Result]:
    import stripe

    ports = {name: free_port() for name in ("testmode", "amci", "floor", "sdk", "embedded")}
    url = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    workdir = tempfile.mkdtemp(prefix="amci-bench-")
    procs = {
        "testmode": spawn("testmode", str(ports["testmode"])),
        "amci": spawn("amci", str(ports["amci"]), url["testmode"], workdir),
        "floor": spawn("floor", str(ports["floor"]), url["testmode"]),
        "sdk": spawn("sdkhop", str(ports["sdk"]), url["testmode"]),
        "embedded": spawn("amci", str(ports["embedded"]), "embedded",
                          tempfile.mkdtemp(prefix="amci-bench-")),
    }
    try:
        for name, proc in procs.items():
            amci_like = name in ("amci", "embedded")
            await wait_up(url[name] + ("/healthz" if amci_like else "/v1/payment_intents"), proc)
        connector = aiohttp.TCPConnector(limit=concurrency * 2)
        async with aiohttp.ClientSession(connector=connector) as session:
            auth = {"Authorization": "Basic "
                    + base64.b64encode(f"{LOGIN}:{KEY}".encode()).decode()}

            async def save(base: str) -> dict[str, Any]:
                """One saved card, through AMCI (so AMCI knows the token's customer)."""
                async with session.post(f"{base}/v1/stripe/cards", headers=auth, json={
                    "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034,
                             "cvc": "123"},
                    "customer": {"email": "bench@example.com", "name": "Bench"}}) as r:
                    saved: dict[str, Any] = await r.json()
                    assert r.status == 201, saved
                    return saved

            saved = await save(url["amci"])

            def sdk(base: str) -> Any:
                return stripe.StripeClient(
                    KEY, base_addresses={"api": base}, max_network_retries=2,
                    http_client=stripe.AIOHTTPClient(session=session),
                )

            pi_params = {"amount": 1000, "currency": "usd", "customer": saved["customer"],
                         "payment_method": saved["token"], "confirm": True, "off_session": True,
                         "capture_method": "automatic", "payment_method_types": ["card"],
                         "description": "bench", "metadata": {"reference": "bench"}}

            def via_sdk(client: Any) -> Callable[[int], Awaitable[None]]:
                async def one(i: int) -> None:
                    pi = await client.v1.payment_intents.create_async(
                        pi_params, {"idempotency_key": uuid.uuid4().hex})
                    assert pi.status == "succeeded"
                return one

            def via_hop(base: str) -> Callable[[int], Awaitable[None]]:
                body = json.dumps(pi_params).encode()

                async def one(i: int) -> None:
                    headers = {"Idempotency-Key": uuid.uuid4().hex,
                               "Content-Type": "application/json"}
                    async with session.post(f"{base}/v1/payment_intents", data=body,
                                            headers=headers) as r:
                        await r.read()
                        assert r.status == 200, r.status
                return one

            def via_amci(base: str, token: str) -> Callable[[int], Awaitable[None]]:
                body = json.dumps({"amount": "10.00", "currency": "USD", "token": token,
                                   "description": "bench", "reference": "bench"}).encode()

                async def one(i: int) -> None:
                    headers = {**auth, "Idempotency-Key": uuid.uuid4().hex,
                               "Content-Type": "application/json"}
                    async with session.post(f"{base}/v1/stripe/payments", data=body,
                                            headers=headers) as r:
                        await r.read()
                        assert r.status == 201, r.status
                return one

            scenarios: dict[str, tuple[Callable[[int], Awaitable[None]], int | None]] = {
                "direct": (via_sdk(sdk(url["testmode"])), None),
                "floor": (via_sdk(sdk(url["floor"])), procs["floor"].pid),
                "sdk": (via_hop(url["sdk"]), procs["sdk"].pid),
                "amci": (via_amci(url["amci"], saved["token"]), procs["amci"].pid),
                # AMCI as shipped: test mode embedded, so its CPU includes the test-mode work.
                "embedded": (via_amci(url["embedded"], (await save(url["embedded"]))["token"]),
                             procs["embedded"].pid),
            }
            for fn, _ in scenarios.values():  # warm-up: connections, caches, JIT-less paths
                await drive(60, concurrency, fn)
            results: dict[str, Result] = {}
            for _ in range(rounds):  # interleaved rounds even out machine noise
                for name, (fn, pid) in scenarios.items():
                    cpu0 = cpu_seconds(pid) if pid else 0.0
                    secs, lats = await drive(payments, concurrency, fn)
                    cpu = cpu_seconds(pid) - cpu0 if pid else None
                    prev = results.get(name)
                    if prev is None:
                        results[name] = Result(name, payments, secs, lats, cpu)
                    else:
                        prev.payments += payments
                        prev.seconds += secs
                        prev.latencies += lats
                        if cpu is not None and prev.cpu is not None:
                            prev.cpu += cpu
            return list(results.values())
    finally:
        for proc in procs.values():
            proc.send_signal(signal.SIGINT)
        for proc in procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def report(results: list[Result], concurrency: int) -> str:
    by = {r.name: r for r in results}
    direct = by["direct"]
    lines = [
        f"payments by token, concurrency {concurrency}, {direct.payments} payments per scenario",
        f"{'scenario':<8} {'pay/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'+p50 ms':>8} "
        f"{'CPU ms/pay':>11}",
    ]
    for r in results:
        added = r.pct(0.5) - direct.pct(0.5)
        cpu = "-" if r.cpu_ms is None else f"{r.cpu_ms:.3f}"
        lines.append(
            f"{r.name:<8} {r.throughput:>8.1f} {r.pct(0.5):>8.2f} {r.pct(0.99):>8.2f} "
            f"{(added if r is not direct else 0.0):>8.2f} {cpu:>11}"
        )
    amci, floor, sdk = by["amci"], by["floor"], by["sdk"]
    assert amci.cpu_ms is not None and floor.cpu_ms is not None and sdk.cpu_ms is not None
    ratio = amci.cpu_ms / floor.cpu_ms
    sdk_ratio = amci.cpu_ms / sdk.cpu_ms
    added = amci.pct(0.5) - direct.pct(0.5)
    lines += [
        "",
        "floor, amci: CPU of that proxy process only; embedded: AMCI with the test-mode server "
        "inside it (CPU of both).",
        f"AMCI CPU per payment / floor's: {ratio:.2f}x (target <= 1.5x) "
        f"{'MET' if ratio <= 1.5 else 'MISSED'}",
        f"AMCI CPU per payment / bare SDK relay's (sdk): {sdk_ratio:.2f}x (target <= 1.5x) "
        f"{'MET' if sdk_ratio <= 1.5 else 'MISSED'}",
        f"AMCI p50 added latency vs direct: {added:.2f} ms (target <= 2 ms) "
        f"{'MET' if added <= 2.0 else 'MISSED'}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.relay", description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--role", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role:
        role, *rest = args.role
        roles: dict[str, Callable[..., None]] = {
            "testmode": role_testmode, "amci": role_amci, "floor": role_floor,
            "sdkhop": role_sdkhop,
        }
        roles[role](int(rest[0]), *rest[1:])
        return 0
    results = asyncio.run(run(args.payments, args.concurrency, args.rounds))
    print(report(results, args.concurrency))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
