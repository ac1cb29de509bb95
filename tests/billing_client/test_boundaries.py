"""The billing client's seams: it never imports stripe or amci; it never logs secrets; only one
module knows AMCI's URLs."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from .conftest import AMEX, DECLINED, LOGIN, STRIPE_KEY, VISA, Captured, setup_stripe

PACKAGE = Path(__file__).resolve().parents[2] / "billing_client"


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "__import__":
            roots |= {
                a.value.split(".")[0]
                for a in node.args
                if isinstance(a, ast.Constant) and isinstance(a.value, str)
            }
    return roots


def test_no_module_imports_stripe_or_amci() -> None:
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) >= 15
    offenders = {p.name: imported_roots(p) & {"stripe", "amci"} for p in modules}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_importing_every_module_loads_neither_stripe_nor_amci() -> None:
    names = [
        f"billing_client.{p.stem}" for p in sorted(PACKAGE.glob("*.py")) if p.stem != "__main__"
    ]
    code = (
        f"import importlib, sys\nfor n in {names!r}: importlib.import_module(n)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('stripe', 'amci'))\n"
        "print(bad)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=PACKAGE.parent,
        check=True,
        timeout=60,
    )
    assert out.stdout.strip() == "[]"


def test_only_amci_client_knows_amcis_urls() -> None:
    knowing = sorted(p.name for p in PACKAGE.rglob("*.py") if "/v1/stripe" in p.read_text())
    assert knowing == ["amci_client.py"]


async def test_no_secrets_in_logs(bc: TestClient[Any, Any], captured_logs: Captured) -> None:
    ids = await setup_stripe(bc, methods=("VISA",))
    cust = ids["customer"]
    await bc.post(f"/api/customers/{cust}/cards", json={"card": VISA})
    await bc.post(f"/api/customers/{cust}/cards", json={"card": AMEX})
    await bc.post(f"/api/customers/{cust}/payments", json={"amount": "10.00", "card": DECLINED})
    await bc.post(f"/api/customers/{cust}/payments", json={"amount": "0.10", "card": VISA})
    await bc.post(
        "/api/payment-systems",
        json={
            "name": "bad",
            "processor": "Stripe",
            "login": LOGIN,
            "password": STRIPE_KEY,
            "test_mode": False,
        },
    )
    ours = [
        line
        for line in captured_logs.lines
        if json.loads(line)["logger"].startswith("billing_client")
    ]
    assert len(ours) >= 6  # the requests above were logged...
    requests = [json.loads(line) for line in ours if json.loads(line)["event"] == "request"]
    assert len(requests) >= 6 and all(r["request_id"].startswith("req_") for r in requests)
    blob = "\n".join(ours)
    for secret in (
        STRIPE_KEY,
        LOGIN,
        VISA["number"],
        AMEX["number"],
        DECLINED["number"],
        '"cvc"',
        '"number"',
        "exp_month",
    ):
        assert secret not in blob, secret  # ...and none of them carries a secret
