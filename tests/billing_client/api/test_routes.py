"""The HTTP edge: every refusal in Stripe's envelope with a request id (never a 500), the service
routes (health, metrics) and the OpenAPI document covering every route."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from aiohttp.test_utils import TestClient

from billing_client.api.routes import ROUTES

from ..conftest import STRIPE_KEY, VISA, setup_stripe

Client = TestClient[Any, Any]


async def test_bad_requests_get_envelopes_not_500s(bc: Client) -> None:
    cases = [
        await bc.post(
            "/api/customers", data=b"{not json", headers={"Content-Type": "application/json"}
        ),
        await bc.post("/api/customers", json=[1, 2]),
        await bc.get("/api/nothing-here"),
        await bc.put("/api/customers"),
        await bc.post("/api/transactions/txn_missing/capture"),
        await bc.post(
            "/api/customers/x/payments",
            json={"amount": "1"},
            headers={"Idempotency-Key": "k" * 256},
        ),
    ]
    statuses = [r.status for r in cases]
    assert statuses == [400, 400, 404, 405, 404, 400]
    for r in cases:
        err = (await r.json())["error"]
        assert err["type"] and err["message"] and None not in err.values()
        assert r.headers["X-Request-Id"]


async def test_service_routes(bc: Client) -> None:
    r = await bc.get("/healthz")
    assert r.status == 200 and (await r.json())["status"] == "ok"
    ids = await setup_stripe(bc)
    await bc.post(
        f"/api/customers/{ids['customer']}/payments", json={"amount": "10.00", "card": VISA}
    )
    await bc.post(
        f"/api/customers/{ids['customer']}/payments", json={"amount": "0.10", "card": VISA}
    )
    text = await (await bc.get("/metrics")).text()
    assert 'billing_client_transactions_total{operation="sale",outcome="succeeded"} 1.0' in text
    assert 'billing_client_transactions_total{operation="sale",outcome="failed"} 1.0' in text
    assert (
        'billing_client_amci_request_duration_seconds_count{outcome="ok",'
        'route="/v1/stripe/payments"} 1.0'
    ) in text
    assert 'route="/api/customers/{id}/payments"' in text
    assert ids["customer"] not in text and STRIPE_KEY not in text


async def test_openapi_documents_every_route(bc: Client) -> None:
    r = await bc.get("/openapi.json")
    doc = await r.json()
    assert doc["openapi"].startswith("3.1")
    for method, path, _ in ROUTES:
        assert method.lower() in doc["paths"][path], f"{method} {path} missing from openapi.json"
    packaged = json.loads(resources.files("billing_client").joinpath("openapi.json").read_text())
    assert packaged == doc
