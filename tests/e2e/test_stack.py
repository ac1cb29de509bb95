"""`make run` is `python -m amci.stack`: both services from the shipped configs, printed URLs,
a payment through each, and Ctrl-C stopping both cleanly."""

from __future__ import annotations

import base64
import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from .conftest import ROOT, call, free_port

READY_DEADLINE_S = 40.0


def _read_until_ready(proc: subprocess.Popen[str]) -> str:
    """Start-up only: read the launcher's output until it says both services are up."""
    assert proc.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + READY_DEADLINE_S
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if "Ctrl-C stops both" in line:
            return "".join(seen)
    proc.kill()
    raise AssertionError("launcher never became ready:\n" + "".join(seen))


def test_make_run_starts_both_services_and_ctrl_c_stops_them(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "config", tmp_path / "config")
    amci_port, bc_port = free_port(), free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "amci.stack",
         "--amci-port", str(amci_port), "--billing-client-port", str(bc_port)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        banner = _read_until_ready(proc)
        assert f"http://127.0.0.1:{amci_port}" in banner
        assert f"http://127.0.0.1:{bc_port}" in banner

        # The printed curl line works as printed (same credentials, same body) and is idempotent.
        curl = re.search(r"-u (\S+):(\S+) ", banner)
        assert curl is not None
        body = re.search(r"-d '(.+)'", banner)
        assert body is not None
        auth = base64.b64encode(f"{curl[1]}:{curl[2]}".encode()).decode()
        headers = {"Authorization": f"Basic {auth}", "Idempotency-Key": "stack-test-1"}
        first = call("POST", f"http://127.0.0.1:{amci_port}/v1/stripe/payments",
                     json.loads(body[1]), headers)
        assert first.status == 201, first.body
        assert first.body["status"] == "succeeded"
        again = call("POST", f"http://127.0.0.1:{amci_port}/v1/stripe/payments",
                     json.loads(body[1]), headers)
        assert again.body["id"] == first.body["id"]
        assert again.headers.get("Idempotent-Replayed") == "true"

        # The billing client came up with the demo payment system, assigned to USD.
        usd = call("GET", f"http://127.0.0.1:{bc_port}/api/currencies/USD")
        assert usd.status == 200, usd.body
        assert (tmp_path / "var" / "amci.sqlite3").exists()
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    # Both children are gone: nothing listens on their ports (SO_REUSEADDR only forgives
    # TIME_WAIT connections, not a live listener).
    for port in (amci_port, bc_port):
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
