"""End-to-end harness: the services as separate processes on ephemeral loopback ports, as a user
would start them (``python -m amci …``, ``python -m billing_client serve …``), with temp SQLite
files and temp configs. Polling /healthz with a deadline is used for process start-up only."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
START_DEADLINE_S = 30.0
STRIPE_KEY = "sk_test_e2eBillingClientWalkthroughwxyz"
LOGIN = "portaone-e2e"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]


def call(
    method: str,
    url: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 15.0,
) -> Reply:
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"e2e calls stay on loopback, not {url}")
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(  # noqa: S310 - loopback http only (checked above)
        url,
        data=data,
        method=method,
        headers={
            **({"Content-Type": "application/json"} if data is not None else {}),
            **(headers or {}),
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - loopback
            raw, status, hdrs = resp.read(), resp.status, dict(resp.headers)
    except urllib.error.HTTPError as exc:
        raw, status, hdrs = exc.read(), exc.code, dict(exc.headers)
    text = raw.decode()
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        parsed = text
    return Reply(status, parsed, hdrs)


@dataclass
class Service:
    """One service process; restartable on the same port with the same files."""

    name: str
    argv: list[str]
    port: int
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Service:
        assert self.proc is None or self.proc.poll() is not None
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(ROOT), **self.env},
        )
        log.close()
        deadline = time.monotonic() + START_DEADLINE_S
        while time.monotonic() < deadline:  # process start-up only
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"{self.name} exited ({self.proc.returncode}):\n"
                    + self.log_path.read_text()[-3000:]
                )
            try:
                if call("GET", self.url + self.health_path(), timeout=1).status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise AssertionError(
            f"{self.name} not healthy in {START_DEADLINE_S} s:\n"
            + self.log_path.read_text()[-3000:]
        )

    def health_path(self) -> str:
        return "/_testmode/clock" if self.name == "stripe-testmode" else "/healthz"

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def restart(self) -> None:
        self.stop()
        self.start()


@dataclass
class Stack:
    testmode: Service
    amci: Service
    bc: Service
    tmp: Path

    token: str

    def api(self, method: str, path: str, body: Any = None, **headers: str) -> Reply:
        return call(
            method,
            self.bc.url + path,
            body,
            {
                "Authorization": f"Bearer {self.token}",
                **{k.replace("_", "-"): v for k, v in headers.items()},
            },
        )

    def stripe_payment_intents(self) -> list[dict[str, Any]]:
        r = call(
            "GET",
            self.testmode.url + "/v1/payment_intents?limit=100",
            headers={"Authorization": f"Bearer {STRIPE_KEY}"},
        )
        assert r.status == 200, r.body
        return list(r.body["data"])

    def amci_payment(self, payment_id: str) -> Reply:
        import base64

        token = base64.b64encode(f"{LOGIN}:{STRIPE_KEY}".encode()).decode()
        return call(
            "GET",
            f"{self.amci.url}/v1/stripe/payments/{payment_id}",
            headers={"Authorization": f"Basic {token}"},
        )


def stripe_testmode_service(port: int, log_path: Path, *options: str) -> Service:
    """``amci stripe-testmode`` on ``port``; ``options``: --db, --config."""
    argv = [sys.executable, "-m", "amci", "stripe-testmode", "--host", "127.0.0.1",
            "--port", str(port), *options]
    return Service("stripe-testmode", argv, port, log_path)


def amci_service(port: int, log_path: Path, env: dict[str, str]) -> Service:
    """``amci serve`` with the shipped config, as a user starts it; ``env`` moves its files."""
    argv = [sys.executable, "-m", "amci", "serve", "--config", "config/amci.yaml",
            "--host", "127.0.0.1", "--port", str(port)]
    return Service("amci", argv, port, log_path, env=env)


def billing_client_service(
    port: int, amci_port: int, config: str, log_path: Path, env: dict[str, str] | None = None
) -> Service:
    """``billing_client serve`` with ``config``, pointed at the AMCI on ``amci_port``."""
    argv = [sys.executable, "-m", "billing_client", "serve", "--config", config,
            "--host", "127.0.0.1", "--port", str(port), "--amci", f"http://127.0.0.1:{amci_port}"]
    return Service("billing-client", argv, port, log_path, env=env or {})


def create_token(config: str, name: str, env: dict[str, str] | None = None) -> str:
    """``billing_client create-token``, as an operator runs it; returns what it printed."""
    done = subprocess.run(
        [sys.executable, "-m", "billing_client", "create-token", "--name", name,
         "--config", config],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """Stripe test mode, AMCI (shipped config, temp files) and the billing client (temp config),
    three processes. The test-mode server runs on its own so the test can look at what Stripe's
    side holds; AMCI points at it with AMCI_UPSTREAM__TEST_API_BASE."""
    tm_port, amci_port, bc_port = free_port(), free_port(), free_port()
    testmode = stripe_testmode_service(
        tm_port, tmp_path / "testmode.log", "--db", str(tmp_path / "testmode.sqlite3")
    )
    amci = amci_service(
        amci_port,
        tmp_path / "amci.log",
        {
            "AMCI_STORE__DB_PATH": str(tmp_path / "amci.sqlite3"),
            "AMCI_UPSTREAM__TEST_API_BASE": f"http://127.0.0.1:{tm_port}",
            "AMCI_RATE_LIMIT__ENABLED": "false",
        },
    )
    config = tmp_path / "billing_client.yaml"
    config.write_text(
        f"crypto: {{encryption_key: '{fernet_key()}'}}\n"
        f"storage: {{db_path: '{tmp_path / 'bc.sqlite3'}'}}\n"
        "amci: {timeout_seconds: 5}\n"
        # The walkthrough retries pending transactions itself, deterministically: no background
        # reconciler passes racing it (tests/billing_client/test_reconcile.py covers those).
        "reconcile: {interval_seconds: 0}\n"
    )
    bc = billing_client_service(bc_port, amci_port, str(config), tmp_path / "billing_client.log")
    services = [testmode, amci, bc]
    try:
        token = create_token(str(config), "e2e")
        for s in services:
            s.start()
        yield Stack(testmode, amci, bc, tmp_path, token)
    finally:
        for s in reversed(services):
            s.stop()
