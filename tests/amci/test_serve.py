"""`amci serve` as a real process with the shipped config (embedded test mode), env overrides."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.e2e
async def test_serve_with_shipped_config(tmp_path: Path, unused_tcp_port: int) -> None:
    env = {
        **os.environ,
        "AMCI_STORE__DB_PATH": str(tmp_path / "amci.sqlite3"),
        "AMCI_TESTMODE__DB_PATH": str(tmp_path / "tm.sqlite3"),
        "AMCI_LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen(  # noqa: ASYNC220 - starting the process under test, once
        [sys.executable, "-m", "amci", "serve", "--config", str(ROOT / "config" / "amci.yaml"),
         "--port", str(unused_tcp_port)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{unused_tcp_port}"
    try:
        async with aiohttp.ClientSession() as session:
            deadline = time.monotonic() + 20
            while True:  # process start-up only
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                try:
                    async with session.get(f"{base}/healthz") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    pass
                assert time.monotonic() < deadline, "amci serve did not start"
                await asyncio.sleep(0.05)
            auth = {"Authorization": "Basic "
                    + base64.b64encode(b"demo-login:sk_test_anything_goes").decode()}
            async with session.post(f"{base}/v1/stripe/payments", headers=auth, json={
                "amount": "0.46", "currency": "CHF",
                "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034}},
            ) as resp:
                body = await resp.json()
                assert resp.status == 201, body
            async with session.post(f"{base}/v1/stripe/payments", headers=auth, json={
                "amount": "0.45", "currency": "CHF",
                "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034}},
            ) as resp:
                body = await resp.json()
                assert body["error"]["message"] == "Your payment must be no less than 0.46 CHF"
            async with session.get(f"{base}/readyz") as resp:
                assert resp.status == 200
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert (tmp_path / "amci.sqlite3").exists()
    assert b"sk_test_anything_goes" not in out + err


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        (["serve", "--config", "missing.yaml"], {}, "amci serve: missing.yaml: no such file"),
        (["serve", "--config", str(ROOT / "config" / "amci.yaml")], {"AMCI_LOG_LEVEL": "LOUD"},
         "log_level: expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'LOUD' "
         "(from AMCI_LOG_LEVEL)"),
        (["serve", "--config", str(ROOT / "config" / "amci.yaml")],
         {"AMCI_UPSTREAM__TEST_API_BAS": "http://127.0.0.1:1"},
         "unknown setting upstream.test_api_bas (from AMCI_UPSTREAM__TEST_API_BAS)"),
        (["serve", "--config", str(ROOT / "config" / "amci.yaml"), "--port", "70000"], {},
         "server.port"),
        (["stripe-testmode", "--config", "missing.yaml"], {},
         "amci stripe-testmode: missing.yaml: cannot read"),
        (["stripe-testmode", "--config", "typo.yaml"], {},
         "amci stripe-testmode: typo.yaml: unknown setting rate_limit_per_secnd"),
    ],
)
def test_bad_configuration_exits_with_one_line(
    tmp_path: Path, argv: list[str], env: dict[str, str], expected: str
) -> None:
    (tmp_path / "typo.yaml").write_text("stripe_testmode:\n  rate_limit_per_secnd: 5\n")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AMCI_")}
    proc = subprocess.run(
        [sys.executable, "-m", "amci", *argv], cwd=tmp_path, env={**clean, **env},
        capture_output=True, text=True, timeout=30, check=False,
    )
    assert proc.returncode != 0
    assert expected in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert proc.stdout == ""
