"""The production topology on loopback: PostgreSQL, two AMCI replicas behind HAProxy (the
Debian package, running config/haproxy.cfg), the billing client on PostgreSQL in front, the
Stripe test-mode server behind — every part its own process. A replica is killed with -9
between payments; the billing system never notices, and Stripe ends up with exactly the
payments the billing client shows."""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PostgresCluster

from .conftest import (
    LOGIN,
    ROOT,
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

# The committed HAProxy configuration (the one docker-compose.yml runs), its addresses moved to
# loopback through the environment variables it reads.
HAPROXY_CFG = ROOT / "config" / "haproxy.cfg"


@dataclass
class Topology:
    testmode: Service
    replicas: list[Service]
    balancer: Service
    bc: Service
    token: str

    def api(self, method: str, path: str, body: object = None) -> tuple[int, Any]:
        r = call(method, self.bc.url + path, body, {"Authorization": f"Bearer {self.token}"})
        return r.status, r.body

    def served(self, replica: Service) -> float:
        """Payment requests this replica answered (its own /metrics)."""
        text = call("GET", replica.url + "/metrics").body
        assert isinstance(text, str)
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("amci_http_requests_total{")
                   and 'route="/v1/stripe/payments"' in line)


@pytest.fixture
def topology(
    tmp_path: Path, pg_url: str, postgres_cluster: PostgresCluster
) -> Iterator[Topology]:
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    assert os.path.exists(haproxy), "HAProxy is missing: `make test` installs it"
    tm_port, a_port, b_port, lb_port, bc_port = (free_port() for _ in range(5))
    testmode = stripe_testmode_service(tm_port, tmp_path / "testmode.log",
                                       "--db", str(tmp_path / "testmode.sqlite3"))
    env = {"AMCI_STORE__URL": pg_url,
           "AMCI_UPSTREAM__TEST_API_BASE": f"http://127.0.0.1:{tm_port}"}
    replicas = [amci_service(port, tmp_path / f"amci-{name}.log", env)
                for name, port in (("a", a_port), ("b", b_port))]
    balancer = Service("haproxy", [haproxy, "-db", "-f", str(HAPROXY_CFG)], lb_port,
                       tmp_path / "haproxy.log",
                       env={"AMCI_LB_BIND": f"127.0.0.1:{lb_port}",
                            "AMCI_REPLICA_A": f"127.0.0.1:{a_port}",
                            "AMCI_REPLICA_B": f"127.0.0.1:{b_port}"})
    config = tmp_path / "billing_client.yaml"
    config.write_text(
        f"crypto: {{encryption_key: '{fernet_key()}'}}\n"
        "amci: {timeout_seconds: 10}\n"
        "reconcile: {interval_seconds: 0}\n"
    )
    # The billing client on its own database of the same server (as in docker-compose.yml).
    bc_env = {"BILLING_CLIENT_STORE__URL": postgres_cluster.create_database()}
    bc = billing_client_service(bc_port, lb_port, str(config), tmp_path / "bc.log", bc_env)
    services = [testmode, *replicas, balancer, bc]
    try:
        token = create_token(str(config), "topology", bc_env)
        # Start-up in parallel (each waits for its own health); HAProxy once the replicas are.
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(Service.start, [testmode, *replicas, bc]))
        balancer.start()
        yield Topology(testmode, replicas, balancer, bc, token)
    finally:
        for service in reversed(services):
            service.stop()


def test_two_replicas_behind_haproxy_survive_a_kill_9(topology: Topology) -> None:
    api = topology.api
    status, ps = api("POST", "/api/payment-systems", {
        "name": "Stripe", "processor": "Stripe", "login": LOGIN, "password": STRIPE_KEY,
        "test_mode": True})
    assert status == 201, ps
    assert api("PATCH", f"/api/payment-systems/{ps['id']}",
               {"enabled_methods": ["VISA"]})[0] == 200
    assert api("PUT", "/api/currencies/USD", {"payment_system": ps["id"]})[0] == 200
    status, cust = api("POST", "/api/customers", {"name": "John Doe", "currency": "USD",
                                                  "email": "john@example.com"})
    assert status == 201, cust
    status, card = api("POST", f"/api/customers/{cust['id']}/cards", {"card": VISA})
    assert status == 201, card

    paid = []
    for amount in ("10.00", "11.00", "12.00", "13.00"):  # round robin: both replicas pay
        status, sale = api("POST", f"/api/customers/{cust['id']}/payments",
                           {"amount": amount, "card_id": card["id"]})
        assert status == 201 and sale["status"] == "succeeded", sale
        paid.append(sale["amci"]["payment"])
    a, b = topology.replicas
    # The card was saved through one replica and paid through both: one shared store.
    assert topology.served(a) >= 1 and topology.served(b) >= 1

    assert a.proc is not None
    os.kill(a.proc.pid, signal.SIGKILL)
    a.proc.wait()
    for amount in ("20.00", "21.00", "22.00", "23.00"):
        status, sale = api("POST", f"/api/customers/{cust['id']}/payments",
                           {"amount": amount, "card_id": card["id"]})
        assert status == 201 and sale["status"] == "succeeded", sale
        paid.append(sale["amci"]["payment"])

    # Stripe holds exactly the eight payments the billing client shows, once each.
    r = call("GET", topology.testmode.url + "/v1/payment_intents?limit=100",
             headers={"Authorization": f"Bearer {STRIPE_KEY}"})
    assert r.status == 200, r.body
    assert sorted(pi["id"] for pi in r.body["data"]) == sorted(paid)
    assert len(set(paid)) == 8
    status, txs = api("GET", f"/api/customers/{cust['id']}/transactions")
    assert [t["status"] for t in txs["data"]] == ["succeeded"] * 8
