"""Process life, run path: a port in use is one clear line and a non-zero exit (no traceback) for
each server command; SIGTERM or SIGINT to the ``make run`` launcher stops both services and frees
their ports."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import ROOT, call, fernet_key, free_port

READY_DEADLINE_S = 40.0


def _bc_config(tmp: Path) -> Path:
    config = tmp / "billing_client.yaml"
    config.write_text(
        f"crypto: {{encryption_key: '{fernet_key()}'}}\n"
        f"storage: {{db_path: '{tmp / 'bc.sqlite3'}'}}\n"
    )
    return config


@pytest.mark.parametrize("command", ["amci serve", "amci stripe-testmode", "billing-client serve"])
def test_a_port_in_use_is_one_clear_line(command: str, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        argv = {
            "amci serve": ["amci", "serve", "--config", str(ROOT / "config" / "amci.yaml")],
            "amci stripe-testmode": ["amci", "stripe-testmode", "--db", ":memory:"],
            "billing-client serve": ["billing_client", "serve", "--config",
                                     str(_bc_config(tmp_path))],
        }[command]
        done = subprocess.run(
            [sys.executable, "-m", *argv, "--host", "127.0.0.1", "--port", str(port)],
            cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT),
                 "AMCI_STORE__DB_PATH": str(tmp_path / "a.sqlite3"),
                 "AMCI_TESTMODE__DB_PATH": str(tmp_path / "t.sqlite3")},
        )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    # Log records are JSON lines; the one line for a person says what went wrong.
    plain = [line for line in done.stderr.splitlines() if line and not line.startswith("{")]
    name = "billing-client" if command == "billing-client serve" else command
    assert plain == [f"{name}: cannot listen on 127.0.0.1:{port}: address already in use"], (
        done.stderr
    )
    for line in done.stderr.splitlines():
        if line.startswith("{"):
            json.loads(line)


def _children(pid: int) -> list[int]:
    """The launcher's child processes (Linux /proc)."""
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(child) for child in text.split()]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _port_is_free(port: int) -> bool:
    with socket.socket() as s:
        # SO_REUSEADDR forgives TIME_WAIT connections, not a live listener.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_sigterm_to_the_launcher_stops_both_services(tmp_path: Path) -> None:
    """(Ctrl-C, SIGINT, is tests/e2e/test_stack.py's last step.)"""
    shutil.copytree(ROOT / "config", tmp_path / "config")
    amci_port, bc_port = free_port(), free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "amci.stack",
         "--amci-port", str(amci_port), "--billing-client-port", str(bc_port)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None
    seen: list[str] = []
    children: list[int] = []
    deadline = time.monotonic() + READY_DEADLINE_S
    try:
        while time.monotonic() < deadline:  # start-up only: read until both services are up
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            if "Ctrl-C stops both" in line:
                break
        else:
            raise AssertionError("launcher never became ready:\n" + "".join(seen))
        assert call("GET", f"http://127.0.0.1:{amci_port}/healthz").status == 200
        assert call("GET", f"http://127.0.0.1:{bc_port}/healthz").status == 200
        children = _children(proc.pid)
        assert len(children) == 2, children
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        stopped_in = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        leaked = [pid for pid in children if _alive(pid)]
        for pid in leaked:  # don't leave them running if the launcher failed to stop them
            os.kill(pid, signal.SIGKILL)
    assert leaked == [], "the launcher left its services running"
    assert proc.returncode == 0, "".join(seen) + out
    assert "Traceback" not in out, out
    # The launcher waited for both: their ports are free the moment it has exited.
    assert _port_is_free(amci_port) and _port_is_free(bc_port), out
    assert stopped_in < 15, f"stopping took {stopped_in:.1f} s (children were killed?)"
