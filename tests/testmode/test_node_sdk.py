"""A second SDK: stripe-node (pinned in tests/node/package-lock.json) runs a representative flow
against the test-mode server on loopback. ``make test`` installs it (``npm ci``) when missing."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from pathlib import Path

from aiohttp.test_utils import TestServer

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
STEPS = [
    "create and confirm, manual capture", "partial capture", "refund", "decline",
    "3D Secure without return_url: use_stripe_sdk",
    "3D Secure with return_url: complete on the page",
    "3D Secure with return_url: fail on the page", "wrong parameter type refused",
    "idempotent retry",
    "list pagination", "search pagination",
]


def test_the_pinned_version_is_23x() -> None:
    lock = (NODE_DIR / "package-lock.json").read_text()
    assert re.search(r'"node_modules/stripe": \{\s+"version": "23\.\d+\.\d+"', lock)
    assert '"stripe": "23.' in (NODE_DIR / "package.json").read_text()


async def test_stripe_node_flow(testmode_server: TestServer) -> None:
    node = shutil.which("node")
    assert node, "Node.js is needed for the stripe-node check (Node 20 is on the dev machines)"
    assert (NODE_DIR / "node_modules" / "stripe").is_dir(), (
        "stripe-node is not installed: run `make test` (or `npm ci` in tests/node)")
    env = {**os.environ, "STRIPE_HOST": "127.0.0.1", "STRIPE_PORT": str(testmode_server.port)}
    proc = await asyncio.create_subprocess_exec(
        node, "flow.js", cwd=NODE_DIR, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    text = out.decode()
    assert proc.returncode == 0, text
    assert [line[3:] for line in text.splitlines() if line.startswith("ok ")] == STEPS, text
    assert f"done {len(STEPS)}" in text
