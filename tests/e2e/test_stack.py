"""`make run` is `python -m amci.stack`: both services from the shipped configs, the printed URLs
and curl line, the README's walkthrough run verbatim against them, and Ctrl-C stopping both."""

from __future__ import annotations

import base64
import http.cookiejar
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from .conftest import ROOT, call, free_port

READY_DEADLINE_S = 40.0


def _readme_walkthrough() -> str:
    text = (ROOT / "README.md").read_text()
    block = re.search(
        r"<!-- walkthrough:start -->\n```bash\n(.*?)```\n<!-- walkthrough:end -->", text, re.S
    )
    assert block is not None, "README lost its walkthrough block"
    return block[1]


def _run_walkthrough(bc_url: str, cwd: Path) -> list[str]:
    """In ``cwd``, where the launcher ran: the walkthrough reads var/billing-client.token."""
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", _readme_walkthrough()],
        cwd=cwd,
        env={"BC": bc_url, "PATH": os.environ["PATH"], "LC_ALL": "C.UTF-8"},
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.splitlines()


def _console_sign_in(bc_url: str, username: str, password: str) -> bool:
    """Sign in to the console as a browser does: the form's CSRF token and its cookie, then
    the POST; True when it lands on a console page."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(f"{bc_url}/admin/login", timeout=10) as page:
        found = re.search(r'name="csrf_token" value="([^"]+)"', page.read().decode())
    assert found is not None
    form = urllib.parse.urlencode(
        {"csrf_token": found[1], "username": username, "password": password, "next": ""}
    ).encode()
    try:
        with opener.open(f"{bc_url}/admin/login", data=form, timeout=10) as landed:
            return bool(landed.url.endswith("/admin/payment-systems"))
    except urllib.error.HTTPError as exc:
        assert exc.code == 401
        return False


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


def test_make_run_serves_the_readme_walkthrough_and_ctrl_c_stops_both(tmp_path: Path) -> None:
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

        # The launcher made the billing client's API token, printed it once, and kept it in a
        # file only its owner can read; /api refuses a call without it.
        token_file = tmp_path / "var" / "billing-client.token"
        token = token_file.read_text().strip()
        assert token.startswith("bct_") and banner.count(token) == 1
        assert token_file.stat().st_mode & 0o777 == 0o600
        currencies = f"http://127.0.0.1:{bc_port}/api/currencies/USD"
        assert call("GET", currencies).status == 401

        # The console's first administrator: its password printed once, kept in a 0600 file,
        # and it signs in.
        password_file = tmp_path / "var" / "admin.password"
        password = password_file.read_text().strip()
        assert len(password) >= 20 and banner.count(password) == 1
        assert password_file.stat().st_mode & 0o777 == 0o600
        assert _console_sign_in(f"http://127.0.0.1:{bc_port}", "admin", password)
        assert not _console_sign_in(f"http://127.0.0.1:{bc_port}", "admin", password + "x")

        # The billing client came up with the demo payment system, assigned to USD.
        usd = call("GET", currencies, headers={"Authorization": f"Bearer {token}"})
        assert usd.status == 200, usd.body
        assert (tmp_path / "var" / "amci.sqlite3").exists()

        # The README's walkthrough, verbatim: every step of the spec, with what the user sees.
        lines = _run_walkthrough(f"http://127.0.0.1:{bc_port}", tmp_path)
        assert "The customer's email is required to save a card" in lines[4]
        assert lines[6] == "[('visa', '4242')]"
        assert lines[7] == "succeeded 10.00 USD"
        assert lines[8] == "Your payment must be no less than 0.5 USD"
        assert lines[9:12] == ["succeeded 20.00", "succeeded 5.00", "succeeded 15.00"]
        assert lines[12].startswith("Void is not available with Stripe")
        assert lines[13] == "Your card was declined."
        # 3D Secure: the payment waits, the customer authenticates on the (proxied) test page and
        # lands on the billing client's return page; then a card set up for auto-payments.
        assert lines[14] == (
            "requires_action Additional authentication is required to complete this payment.")
        assert lines[15] == "The payment was successful."
        assert lines[16] == "succeeded"
        assert lines[17] == "[('4242', 'active', True), ('3155', 'active', True)]"
        assert lines[18] == "succeeded 9.00"
        history = [line.split()[:3] for line in lines[19:-1]]
        assert history == [
            ["sale", "succeeded", "10.00"], ["sale", "failed", "0.30"],
            ["authorization", "refunded", "25.00"], ["capture", "succeeded", "20.00"],
            ["refund", "succeeded", "5.00"], ["refund", "succeeded", "15.00"],
            ["authorization", "authorized", "7.00"], ["void", "refused", "-"],
            ["sale", "failed", "10.00"], ["sale", "succeeded", "20.00"],
            ["sale", "succeeded", "9.00"],
        ]
        assert lines[-1] == "True"  # the card is deleted

        # Both sides were wired for notifications with a generated secret (0600 under var/):
        # what Stripe's test mode said after each payment reached the billing client, signed.
        secret_file = tmp_path / "var" / "amci-notification.secret"
        assert secret_file.stat().st_mode & 0o777 == 0o600
        secret = secret_file.read_text().strip()
        assert len(secret) >= 32 and secret not in banner
        notes_url = f"http://127.0.0.1:{amci_port}/v1/stripe/notifications?limit=100"
        deadline = time.monotonic() + 20
        delivered: list[str] = []
        while time.monotonic() < deadline and "payment.succeeded" not in delivered:
            got = call("GET", notes_url, headers={"Authorization": f"Basic {auth}"})
            delivered = [n["type"] for n in got.body["data"] if n["state"] == "delivered"]
            time.sleep(0.05)  # polling interval; the deadline decides
        assert "payment.succeeded" in delivered, got.body
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert secret not in out  # never in any log line of either service
    # Both children are gone: nothing listens on their ports (SO_REUSEADDR only forgives
    # TIME_WAIT connections, not a live listener).
    for port in (amci_port, bc_port):
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))

    # A second `make run` in the same directory reuses the token: not printed again, still valid.
    again = subprocess.Popen(
        [sys.executable, "-m", "amci.stack",
         "--amci-port", str(amci_port), "--billing-client-port", str(bc_port)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        banner = _read_until_ready(again)
        assert token not in banner and "billing-client.token" in banner
        assert token_file.read_text().strip() == token
        assert password not in banner and password_file.read_text().strip() == password
        assert "/admin/" in banner
        reply = call("GET", currencies, headers={"Authorization": f"Bearer {token}"})
        assert reply.status == 200, reply.body
    finally:
        again.send_signal(signal.SIGINT)
        out, _ = again.communicate(timeout=30)
    assert again.returncode == 0, out
