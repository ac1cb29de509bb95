"""Benchmark: AMCI on PostgreSQL vs SQLite, one replica and two — same run, same load.

    .venv/bin/python -m bench.replicas [--payments 1000] [--concurrency 8] [--rounds 2]

Processes (each its own PID): one Stripe test-mode server (rate limit off, in-memory store);
AMCI replicas started as a user starts them (``python -m amci serve --config … --store …``,
INFO logs, rate limiter off — this measures the store, not Stripe's limit); a throwaway
PostgreSQL cluster with its durable defaults (``bench.postgres``); this process, the load
generator.

Scenarios, one payment = a sale by saved-card token (POST /v1/stripe/payments with a fresh
Idempotency-Key: claim, upstream create, result and payment record written):
  sqlite-1   one AMCI on a SQLite file (the default; one process per file)
  pg-1       one AMCI on PostgreSQL
  pg-2       two AMCI replicas on one PostgreSQL database, the load alternating between them

Reported: payments/s, p50/p99 latency, AMCI CPU per payment (all replicas together) and the
PostgreSQL server's CPU per payment (its postmaster and backends). Rounds are interleaved so
machine noise hits every scenario alike.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench import postgres
from bench.relay import KEY, LOGIN, cpu_seconds, drive, free_port, spawn, wait_up

AUTH = {"Authorization": "Basic " + base64.b64encode(f"{LOGIN}:{KEY}".encode()).decode()}
CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}


def amci_config(workdir: Path, upstream: str, rate_limit: str = "{enabled: false}") -> Path:
    config = workdir / "amci.yaml"
    config.write_text(
        f"upstream: {{test_api_base: '{upstream}', max_network_retries: 2}}\n"
        f"rate_limit: {rate_limit}\n"
        "log_level: INFO\n"
        "subscriptions:\n"
        "  - {id: bench, active: true, stripe_integration_activated: true,\n"
        "     allow_any_test_key: true}\n"
    )
    return config


def start_amci(config: Path, store: str, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "amci", "serve", "--config", str(config), "--host", "127.0.0.1",
         "--port", str(port), "--store", store],
        cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    return proc, f"http://127.0.0.1:{port}"


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class Scenario:
    name: str
    urls: list[str]
    pids: list[int]
    on_postgres: bool
    token: str = ""
    payments: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    amci_cpu: float = 0.0
    db_cpu: float = 0.0

    def pct(self, q: float) -> float:
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000


async def save_card(session: aiohttp.ClientSession, base: str) -> str:
    async with session.post(f"{base}/v1/stripe/cards", headers=AUTH, json={
            "card": CARD, "customer": {"email": "bench@example.com", "name": "Bench"}}) as r:
        saved: dict[str, Any] = await r.json()
        assert r.status == 201, saved
        return str(saved["token"])


def payer(session: aiohttp.ClientSession, scenario: Scenario) -> Callable[[int], Awaitable[None]]:
    body = json.dumps({"amount": "10.00", "currency": "USD", "token": scenario.token,
                       "description": "bench", "reference": "bench"}).encode()
    urls = itertools.cycle(scenario.urls)

    async def one(i: int) -> None:
        headers = {**AUTH, "Idempotency-Key": uuid.uuid4().hex,
                   "Content-Type": "application/json"}
        async with session.post(f"{next(urls)}/v1/stripe/payments", data=body,
                                headers=headers) as r:
            await r.read()
            assert r.status == 201, r.status
    return one


def _cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += cpu_seconds(pid)
        except OSError:  # a backend that exited meanwhile
            pass
    return total


async def run(payments: int, concurrency: int, rounds: int) -> list[Scenario]:
    workdir = Path(tempfile.mkdtemp(prefix="amci-bench-replicas-"))
    tm_port = free_port()
    testmode = spawn("testmode", str(tm_port))
    procs: list[subprocess.Popen[bytes]] = []
    with postgres.cluster() as pg:
        try:
            upstream = f"http://127.0.0.1:{tm_port}"
            await wait_up(upstream + "/v1/payment_intents", testmode)
            config = amci_config(workdir, upstream)
            layouts = [("sqlite-1", [f"sqlite:///{workdir / 'amci.sqlite3'}"]),
                       ("pg-1", [pg.create_database()])]
            shared = pg.create_database()
            layouts.append(("pg-2", [shared, shared]))
            scenarios = []
            for name, stores in layouts:
                started = [start_amci(config, store, workdir) for store in stores]
                procs += [p for p, _ in started]
                for proc, url in started:
                    await wait_up(url + "/healthz", proc)
                scenarios.append(Scenario(name, [u for _, u in started],
                                          [p.pid for p, _ in started],
                                          stores[0].startswith("postgresql")))
            connector = aiohttp.TCPConnector(limit=concurrency * 2)
            async with aiohttp.ClientSession(connector=connector) as session:
                for s in scenarios:
                    s.token = await save_card(session, s.urls[0])
                    await drive(100, concurrency, payer(session, s))  # warm-up
                for _ in range(rounds):
                    for s in scenarios:
                        db_pids = pg.server_pids() if s.on_postgres else []
                        amci0, db0 = _cpu(s.pids), _cpu(db_pids)
                        secs, lats = await drive(payments, concurrency, payer(session, s))
                        s.amci_cpu += _cpu(s.pids) - amci0
                        s.db_cpu += _cpu(db_pids) - db0
                        s.payments += payments
                        s.seconds += secs
                        s.latencies += lats
            return scenarios
        finally:
            stop([*procs, testmode])


def report(scenarios: list[Scenario], concurrency: int) -> str:
    lines = [
        f"payments by token, concurrency {concurrency}, {scenarios[0].payments} payments per "
        "scenario",
        f"{'scenario':<9} {'pay/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'AMCI CPU ms/pay':>16} "
        f"{'PG CPU ms/pay':>14}",
    ]
    for s in scenarios:
        db = f"{s.db_cpu / s.payments * 1000:.3f}" if s.on_postgres else "-"
        lines.append(
            f"{s.name:<9} {s.payments / s.seconds:>8.1f} {s.pct(0.5):>8.2f} {s.pct(0.99):>8.2f} "
            f"{s.amci_cpu / s.payments * 1000:>16.3f} {db:>14}"
        )
    lines += ["", "AMCI CPU: all replicas of the scenario together; PG CPU: the PostgreSQL "
              "server's processes (SQLite works inside AMCI's process)."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    scenarios = asyncio.run(run(args.payments, args.concurrency, args.rounds))
    print(report(scenarios, args.concurrency))


if __name__ == "__main__":
    main()
