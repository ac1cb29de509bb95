"""`make run`: the AMCI proxy (with its embedded Stripe test mode) and the reference billing
client, as two processes on loopback, with the shipped configs. Ctrl-C (SIGINT) or SIGTERM stops
both: each child gets SIGINT (a graceful stop), then SIGKILL if it is still running 15 s later.

The billing client is started as a command, never imported: the two meet only over HTTP.
    python -m amci.stack [--amci-port 8080] [--billing-client-port 8090]

(Flags, not environment variables: AMCI_* and BILLING_CLIENT_* variables are the services' own
config overrides.)
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HOST = "127.0.0.1"
BANNER = """
AMCI proxy      {amci}   (OpenAPI {amci}/openapi.json, metrics {amci}/metrics)
                embedded Stripe test mode: no Stripe account, no network needed
billing client  {bc}   (OpenAPI {bc}/openapi.json, metrics {bc}/metrics)

Try a payment straight through AMCI (the demo subscription accepts any sk_test_ key;
send it twice: the second answer is the first one, replayed):
  curl -s -u demo-login:sk_test_demo_0000000000000000 {amci}/v1/stripe/payments \\
    -H 'Content-Type: application/json' -H 'Idempotency-Key: try-1' \\
    -d '{{"amount": "10.00", "currency": "USD", "card": {{"number": "4242424242424242", \
"exp_month": 12, "exp_year": 2034, "cvc": "123"}}}}'

What Stripe says later (3D Secure completed after the browser left, an authorization expiring,
a refund failing, a dispute) reaches the billing client as signed AMCI notifications
(POST {bc}/notifications/amci); AMCI lists them at {amci}/v1/stripe/notifications.

The README walks through the billing client. Ctrl-C stops both.
"""
START_TIMEOUT_S = 30.0
BC_CONFIG = "config/billing_client.yaml"
TOKEN_FILE = Path("var/billing-client.token")
# The secret AMCI signs its notifications to the billing client with (AMCI-Signature): made on
# first start, kept here (0600), handed to both services in their environment, never printed.
NOTIFICATION_SECRET_FILE = Path("var/amci-notification.secret")
TOKEN_NAME = "make-run"  # noqa: S105 - the token's name, not the token
ADMIN_PASSWORD_FILE = Path("var/admin.password")
ADMIN_USERNAME = "admin"


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


def _billing_client_command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own module, fixed arguments
        [sys.executable, "-m", "billing_client", *args, "--config", BC_CONFIG],
        capture_output=True, text=True, timeout=60, check=False,
    )


def _token_works(bc_url: str, token: str) -> bool:
    request = urllib.request.Request(  # noqa: S310 - loopback URL we built
        f"{bc_url}/api/currencies", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback
            return bool(response.status == 200)
    except urllib.error.HTTPError as exc:
        # Only a 401 says the token is unknown; anything else is not a reason to replace it.
        return exc.code != 401


def _api_token(bc_url: str) -> None:
    """The billing client's API token for the README walkthrough: made on first start with
    ``billing-client create-token`` (the launcher never imports billing_client), shown once, kept
    in var/billing-client.token (0600); later starts reuse it. If the file is gone or the store
    no longer knows it (a fresh database), the old one is revoked and a new one made."""
    if TOKEN_FILE.exists() and _token_works(bc_url, TOKEN_FILE.read_text().strip()):
        print(f"billing client API token: in {TOKEN_FILE} (Authorization: Bearer …)", flush=True)
        return
    _billing_client_command("revoke-token", "--name", TOKEN_NAME)  # fails if there is none
    made = _billing_client_command("create-token", "--name", TOKEN_NAME)
    if made.returncode != 0:
        raise SystemExit(f"could not create the billing client's API token: {made.stderr.strip()}")
    token = made.stdout.strip()
    _write_secret(TOKEN_FILE, token)
    print(
        f"billing client API token (shown once, kept in {TOKEN_FILE}, mode 0600):\n  {token}",
        flush=True,
    )


def _write_secret(path: Path, text: str) -> None:
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text + "\n")


def _console_admin(bc_url: str) -> None:
    """The console's first administrator, made on first start with ``billing-client
    create-admin --generate-password`` (the launcher never imports billing_client): its password
    is printed once and kept in var/admin.password (0600). Later starts find the account taken
    and leave it (and the file) alone."""
    made = _billing_client_command(
        "create-admin", "--username", ADMIN_USERNAME, "--generate-password"
    )
    if made.returncode != 0:
        if "already exists" in made.stderr:
            where = f"password in {ADMIN_PASSWORD_FILE}" if ADMIN_PASSWORD_FILE.exists() else (
                "password as set before"
            )
            print(f"console: {bc_url}/admin/ (user {ADMIN_USERNAME!r}, {where})", flush=True)
            return
        raise SystemExit(f"could not create the console's administrator: {made.stderr.strip()}")
    password = made.stdout.strip()
    _write_secret(ADMIN_PASSWORD_FILE, password)
    print(
        f"console: {bc_url}/admin/ — administrator {ADMIN_USERNAME!r}, password (shown once, "
        f"kept in {ADMIN_PASSWORD_FILE}, mode 0600):\n  {password}",
        flush=True,
    )


def _notification_secret() -> str:
    if not NOTIFICATION_SECRET_FILE.exists():
        try:
            fd = os.open(NOTIFICATION_SECRET_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(32) + "\n")
    return NOTIFICATION_SECRET_FILE.read_text().strip()


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m amci.stack")
    parser.add_argument("--amci-port", type=int, default=8080)
    parser.add_argument("--billing-client-port", type=int, default=8090)
    args = parser.parse_args(argv)
    Path("var").mkdir(exist_ok=True)
    amci_port, bc_port = args.amci_port, args.billing_client_port
    amci_url = f"http://{HOST}:{amci_port}"
    bc_url = f"http://{HOST}:{bc_port}"

    procs: list[subprocess.Popen[bytes]] = []
    # SIGTERM (a service manager, `kill`) stops the stack as Ctrl-C does.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    # Children ignore the terminal's Ctrl-C (own process group); we stop them ourselves, in order.
    def spawn(*args: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(  # noqa: S603 - our own modules, fixed arguments
            [sys.executable, "-m", *args], start_new_session=True, env={**os.environ, **env})
        procs.append(proc)
        return proc

    # Stripe's events reach the billing client: AMCI registers its webhook endpoint with the
    # embedded test mode and posts notifications to the billing client, both signed.
    secret = _notification_secret()
    amci_env = {
        "AMCI_NOTIFICATIONS__CALLBACK__URL": f"{bc_url}/notifications/amci",
        "AMCI_NOTIFICATIONS__CALLBACK__SECRETS": json.dumps([secret]),
    }
    bc_env = {"BILLING_CLIENT_AMCI__NOTIFICATION_SECRETS": secret}

    try:
        amci = spawn(
            "amci", "serve", "--config", "config/amci.yaml",
            "--host", HOST, "--port", str(amci_port), env=amci_env,
        )
        _wait_healthy("AMCI", amci, f"{amci_url}/healthz")
        bc = spawn(
            "billing_client", "serve", "--config", "config/billing_client.yaml",
            "--host", HOST, "--port", str(bc_port), "--amci", amci_url, env=bc_env,
        )
        _wait_healthy("billing client", bc, f"{bc_url}/healthz")
        _api_token(bc_url)
        _console_admin(bc_url)
        print(BANNER.format(amci=amci_url, bc=bc_url), flush=True)
        while all(proc.poll() is None for proc in procs):
            time.sleep(0.5)
        dead = next(proc for proc in procs if proc.poll() is not None)
        print(f"a service exited ({dead.returncode}); stopping the other", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping…", flush=True)
        return 0
    finally:
        # A second signal must not interrupt stopping the children.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _stop(procs)


if __name__ == "__main__":
    raise SystemExit(main())
