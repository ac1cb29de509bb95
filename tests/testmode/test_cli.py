"""`amci stripe-testmode` as a real process: starts, serves the SDK, keeps state in its file."""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

import aiohttp
import stripe

from tests.testmode.conftest import new_key


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _start(db: Path, port: int) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "amci", "stripe-testmode", "--host", "127.0.0.1",
        "--port", str(port), "--db", str(db), stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), timeout=20)
    assert b"listening on" in line, line
    return proc


async def _stop(proc: asyncio.subprocess.Process) -> None:
    proc.terminate()
    await asyncio.wait_for(proc.wait(), timeout=20)


async def test_cli_serves_and_persists(tmp_path: Path) -> None:
    db, key = tmp_path / "var" / "stripe.sqlite3", new_key()
    port = _free_port()
    proc = await _start(db, port)
    try:
        async with aiohttp.ClientSession() as http:
            client = stripe.StripeClient(key, http_client=stripe.AIOHTTPClient(session=http),
                                         base_addresses={"api": f"http://127.0.0.1:{port}"},
                                         max_network_retries=0)
            pi = await client.v1.payment_intents.create_async(
                {"amount": 700, "currency": "usd", "payment_method": "pm_card_visa",
                 "confirm": True})
    finally:
        await _stop(proc)
    assert db.exists()
    proc = await _start(db, port)
    try:
        async with aiohttp.ClientSession() as http:
            client = stripe.StripeClient(key, http_client=stripe.AIOHTTPClient(session=http),
                                         base_addresses={"api": f"http://127.0.0.1:{port}"},
                                         max_network_retries=0)
            again = await client.v1.payment_intents.retrieve_async(pi.id)
            assert again.status == "succeeded"
    finally:
        await _stop(proc)
