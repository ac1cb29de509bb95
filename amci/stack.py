"""`make run`: the AMCI proxy (with its embedded Stripe test mode) and the reference billing
client, as two processes on loopback, with the shipped configs. Ctrl-C stops both.

The billing client is started as a command, never imported: the two meet only over HTTP.
Ports: AMCI_PORT (default 8080) and BILLING_CLIENT_PORT (default 8090).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HOST = "127.0.0.1"
START_TIMEOUT_S = 30.0


def _wait_healthy(name: str, proc: subprocess.Popen[bytes], url: str) -> None:
    """Process start-up only: poll /healthz until it answers, the process dies, or time runs out."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{name} exited with status {proc.returncode} during start-up")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback URL we built
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise SystemExit(f"{name} did not answer {url} within {START_TIMEOUT_S:.0f} s")


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> int:
    root = Path.cwd()
    (root / "var").mkdir(exist_ok=True)
    amci_port = int(os.environ.get("AMCI_PORT", "8080"))
    bc_port = int(os.environ.get("BILLING_CLIENT_PORT", "8090"))
    amci_url = f"http://{HOST}:{amci_port}"
    bc_url = f"http://{HOST}:{bc_port}"

    procs: list[subprocess.Popen[bytes]] = []
    # Children ignore the terminal's Ctrl-C (own process group); we stop them ourselves, in order.
    def spawn(*args: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([sys.executable, "-m", *args], start_new_session=True)  # noqa: S603
        procs.append(proc)
        return proc

    try:
        amci = spawn("amci", "serve", "--config", "config/amci.yaml", "--host", HOST, "--port", str(amci_port))
        _wait_healthy("AMCI", amci, f"{amci_url}/healthz")
        bc = spawn(
            "billing_client", "serve", "--config", "config/billing_client.yaml",
            "--host", HOST, "--port", str(bc_port), "--amci", amci_url,
        )
        _wait_healthy("billing client", bc, f"{bc_url}/healthz")
        print(
            f"\nAMCI proxy      {amci_url}   (OpenAPI {amci_url}/openapi.json, metrics {amci_url}/metrics)\n"
            f"                embedded Stripe test mode: no Stripe account, no network needed\n"
            f"billing client  {bc_url}   (OpenAPI {bc_url}/openapi.json, metrics {bc_url}/metrics)\n\n"
            "Try a payment straight through AMCI (the demo subscription accepts any sk_test_ key):\n"
            f"  curl -s -u demo-login:sk_test_demo_0000000000000000 {amci_url}/v1/stripe/payments \\\n"
            "    -H 'Content-Type: application/json' -H \"Idempotency-Key: $(uuidgen || date +%s%N)\" \\\n"
            "    -d '{\"amount\": \"10.00\", \"currency\": \"USD\", \"card\": {\"number\": \"4242424242424242\","
            " \"exp_month\": 12, \"exp_year\": 2034, \"cvc\": \"123\"}}'\n\n"
            "The README walks through the billing client. Ctrl-C stops both.\n",
            flush=True,
        )
        while all(proc.poll() is None for proc in procs):
            time.sleep(0.5)
        dead = next(proc for proc in procs if proc.poll() is not None)
        print(f"a service exited with status {dead.returncode}; stopping the other", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping…", flush=True)
        return 0
    finally:
        _stop(procs)


if __name__ == "__main__":
    raise SystemExit(main())
