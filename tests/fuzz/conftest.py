"""Fuzzing fixtures: the real services as separate processes on loopback — Stripe test mode, AMCI
with its shipped config pointed at it, the billing client pointed at AMCI — and a bearer API token
for the billing client, made as an operator does. The engine is ``engine.py``, the hostile input
classes ``hostile.py``, realistic values ``realistic.py``.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
START_DEADLINE_S = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Service:
    name: str
    argv: list[str]
    port: int
    log_path: Path
    health: str
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONPATH": str(ROOT), **self.env},
            )
        deadline = time.monotonic() + START_DEADLINE_S
        while time.monotonic() < deadline:  # process start-up only
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited ({self.proc.returncode}):\n"
                                     + self.log_path.read_text()[-3000:])
            with contextlib.suppress(requests.RequestException):
                if requests.get(self.url + self.health, timeout=1).status_code == 200:
                    return
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"{self.name} not healthy in {START_DEADLINE_S} s:\n"
                             + self.log_path.read_text()[-3000:])

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def tracebacks(self) -> list[str]:
        """The last line of every traceback in the service's log (what a 500 was)."""
        text = self.log_path.read_text(errors="replace").replace("\\n", "\n")  # JSON logs
        found = re.findall(r"Traceback \(most recent call last\):.*?\n(\w[\w.]*(?:Error|Exception)"
                           r"[^\n]*)", text, flags=re.S)
        return list(dict.fromkeys(line.rstrip('"}')[:200] for line in found))


@dataclass
class Services:
    testmode: Service
    amci: Service
    bc: Service
    bc_token: str  # a bearer API token for the billing client's /api


@pytest.fixture(scope="session")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """Stripe test mode (no rate limit: the fuzzer is not testing Stripe's), AMCI with its shipped
    config (the demo subscription takes any sk_test_ key) pointed at it, and the billing client
    pointed at AMCI; temp SQLite files, no background reconciler (nothing here goes pending)."""
    tmp = tmp_path_factory.mktemp("fuzz")
    tm_port, amci_port, bc_port = free_port(), free_port(), free_port()
    (tmp / "testmode.yaml").write_text("rate_limit_per_second: null\n")
    testmode = Service(
        "stripe-testmode",
        [sys.executable, "-m", "amci", "stripe-testmode", "--host", "127.0.0.1",
         "--port", str(tm_port), "--db", ":memory:", "--config", str(tmp / "testmode.yaml")],
        tm_port, tmp / "testmode.log", "/_testmode/clock",
    )
    amci = Service(
        "amci",
        [sys.executable, "-m", "amci", "serve", "--config", "config/amci.yaml",
         "--host", "127.0.0.1", "--port", str(amci_port)],
        amci_port, tmp / "amci.log", "/healthz",
        env={
            "AMCI_STORE__DB_PATH": str(tmp / "amci.sqlite3"),
            "AMCI_UPSTREAM__TEST_API_BASE": testmode.url,
            "AMCI_UPSTREAM__MAX_NETWORK_RETRIES": "0",
            "AMCI_RATE_LIMIT__ENABLED": "false",
            "AMCI_LOG_LEVEL": "WARNING",
        },
    )
    from cryptography.fernet import Fernet

    (tmp / "billing_client.yaml").write_text(
        f"crypto: {{encryption_key: '{Fernet.generate_key().decode()}'}}\n"
        f"storage: {{db_path: '{tmp / 'bc.sqlite3'}'}}\n"
        "amci: {timeout_seconds: 10}\n"
        "reconcile: {interval_seconds: 0}\n"
        "log_level: WARNING\n"
    )
    bc = Service(
        "billing-client",
        [sys.executable, "-m", "billing_client", "serve", "--config",
         str(tmp / "billing_client.yaml"), "--host", "127.0.0.1", "--port", str(bc_port),
         "--amci", amci.url],
        bc_port, tmp / "billing_client.log", "/healthz",
    )
    made = subprocess.run(  # as an operator does: `billing-client create-token`, same config
        [sys.executable, "-m", "billing_client", "create-token", "--name", "fuzz", "--config",
         str(tmp / "billing_client.yaml")],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[-1]
    started: list[Service] = []
    try:
        for s in (testmode, amci, bc):
            s.start()
            started.append(s)
        yield Services(testmode, amci, bc, token)
    finally:
        for s in reversed(started):
            s.stop()
