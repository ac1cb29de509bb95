"""Two billing-client processes on one PostgreSQL database: their reconcilers and concurrent
duplicate requests on both send each transaction to AMCI exactly once.

Counted where it can't be fooled: AMCI's own request counter (a second send of a transaction
would reach AMCI under the same key, as a replay or a 409) and the payments Stripe's side
holds (the test-mode server)."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from .conftest import (
    LOGIN,
    STRIPE_KEY,
    Service,
    amci_service,
    billing_client_service,
    call,
    create_token,
    fernet_key,
    free_port,
    stripe_testmode_service,
)

pytestmark = pytest.mark.e2e

VISA = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}
PENDING = 8  # payments made while AMCI is down, then completed by whoever gets there first
RACED = 6  # fresh requests, each sent to both processes at once under one Idempotency-Key


@dataclass
class Pair:
    testmode: Service
    amci: Service
    processes: list[Service]
    token: str
    pg_url: str

    def api(self, n: int, method: str, path: str, body: object = None,
            key: str | None = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        r = call(method, self.processes[n].url + path, body, headers, timeout=30)
        return r.status, r.body

    def amci_metric(self, name: str, *labels: str) -> float:
        text = call("GET", self.amci.url + "/metrics").body
        assert isinstance(text, str)
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith(name + "{") and all(label in line for label in labels))


@pytest.fixture
def pair(tmp_path: Path, pg_url: str) -> Iterator[Pair]:
    tm_port, amci_port, *bc_ports = (free_port() for _ in range(4))
    # No Stripe rate limit upstream: this test is about who sends, not how fast (a 429 would
    # leave a transaction pending, for the reconcilers, and that is tested elsewhere).
    tm_config = tmp_path / "testmode.yaml"
    tm_config.write_text("rate_limit_per_second: null\n")
    testmode = stripe_testmode_service(tm_port, tmp_path / "testmode.log",
                                       "--db", str(tmp_path / "testmode.sqlite3"),
                                       "--config", str(tm_config))
    amci = amci_service(amci_port, tmp_path / "amci.log", {
        "AMCI_STORE__DB_PATH": str(tmp_path / "amci.sqlite3"),
        "AMCI_UPSTREAM__TEST_API_BASE": f"http://127.0.0.1:{tm_port}",
        "AMCI_RATE_LIMIT__ENABLED": "false",
    })
    config = tmp_path / "billing_client.yaml"
    config.write_text(
        f"crypto: {{encryption_key: '{fernet_key()}'}}\n"
        "amci: {timeout_seconds: 10}\n"
        # Both reconcilers pass often, so they race each other and the requests.
        "reconcile: {interval_seconds: 0.1}\n"
    )
    env = {"BILLING_CLIENT_STORE__URL": pg_url}
    processes = [billing_client_service(port, amci_port, str(config), tmp_path / f"bc{i}.log",
                                        env)
                 for i, port in enumerate(bc_ports)]
    services = [testmode, amci, *processes]
    try:
        token = create_token(str(config), "processes", env)
        with ThreadPoolExecutor(3) as pool:
            list(pool.map(Service.start, [testmode, *processes]))
        yield Pair(testmode, amci, processes, token, pg_url)
    finally:
        for service in reversed(services):
            service.stop()


def _make_due(pg_url: str) -> None:
    """The pending rows' backoff (15-30 s after a failed attempt) elapsed."""

    async def run() -> None:
        conn = await asyncpg.connect(pg_url)
        try:
            await conn.execute(
                "UPDATE transactions SET next_attempt_at = NULL WHERE status = 'pending'")
        finally:
            await conn.close()

    asyncio.run(run())


def test_two_processes_send_each_transaction_once(pair: Pair) -> None:
    api = pair.api
    status, ps = api(0, "POST", "/api/payment-systems", {
        "name": "Stripe", "processor": "Stripe", "login": LOGIN, "password": STRIPE_KEY,
        "test_mode": True})
    assert status == 201, ps
    # full_card_except_cvv: the card is kept (encrypted) here, so the reconcilers can resend
    # its payments; saving it needs no AMCI.
    assert api(1, "PATCH", f"/api/payment-systems/{ps['id']}", {
        "enabled_methods": ["VISA"], "data_protection": "full_card_except_cvv"})[0] == 200
    assert api(0, "PUT", "/api/currencies/USD", {"payment_system": ps["id"]})[0] == 200
    status, cust = api(1, "POST", "/api/customers", {"name": "John Doe", "currency": "USD",
                                                     "email": "john@example.com"})
    assert status == 201, cust
    status, card = api(0, "POST", f"/api/customers/{cust['id']}/cards", {"card": VISA})
    assert status == 201, card
    pay = f"/api/customers/{cust['id']}/payments"

    # AMCI is down: every payment stays pending (under its own stored key).
    requests = {f"pending-{i}": {"amount": f"{10 + i}.00", "card_id": card["id"]}
                for i in range(PENDING)}
    for n, (key, body) in zip(itertools.cycle((0, 1)), requests.items(), strict=False):
        status, sale = api(n, "POST", pay, body, key)
        assert (status, sale["error"]["code"]) == (502, "transaction_pending"), sale

    pair.amci.start()
    _make_due(pair.pg_url)
    # Both reconcilers now race for the due rows, while the client retries every request on
    # both processes at once.
    with ThreadPoolExecutor(8) as pool:
        retries = list(pool.map(lambda job: api(job[0], "POST", pay, requests[job[1]], job[1]),
                                [(n, key) for key in requests for n in (0, 1)]))
    for status, body in retries:
        # The outcome (201), or 409 while the other process is sending it.
        assert status in (201, 409), (status, body)
        assert status == 409 or body["status"] == "succeeded", body

    # Fresh requests, each sent to both processes at the same moment under one key.
    raced = {f"raced-{i}": {"amount": f"{30 + i}.00", "card_id": card["id"]}
             for i in range(RACED)}
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda job: api(job[0], "POST", pay, raced[job[1]], job[1]),
                                [(n, key) for key in raced for n in (0, 1)]))
    for status, body in answers:
        assert status in (201, 409), (status, body)

    deadline = time.monotonic() + 30
    while True:  # the reconcilers finish whatever a 409 left to them
        status, txs = api(0, "GET", f"/api/customers/{cust['id']}/transactions")
        assert status == 200, txs
        if all(t["status"] != "pending" for t in txs["data"]) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert len(txs["data"]) == PENDING + RACED  # one transaction per Idempotency-Key
    assert {t["status"] for t in txs["data"]} == {"succeeded"}

    # Each transaction reached AMCI exactly once: no replay, no in-flight refusal there.
    sent = pair.amci_metric("amci_http_requests_total", 'route="/v1/stripe/payments"',
                            'method="POST"')
    assert sent == PENDING + RACED
    assert pair.amci_metric("amci_idempotent_replays_total") == 0
    assert pair.amci_metric("amci_idempotency_conflicts_total") == 0
    # And Stripe's side holds exactly those payments.
    r = call("GET", pair.testmode.url + "/v1/payment_intents?limit=100",
             headers={"Authorization": f"Bearer {STRIPE_KEY}"})
    assert r.status == 200, r.body
    assert sorted(pi["id"] for pi in r.body["data"]) == sorted(
        t["amci"]["payment"] for t in txs["data"])
