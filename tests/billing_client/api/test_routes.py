"""The HTTP edge: every refusal in Stripe's envelope with a request id (never a 500), the service
routes (health, metrics) and the OpenAPI document covering every route."""

from __future__ import annotations

from typing import Any

import jsonschema
from aiohttp.test_utils import TestClient

from billing_client import openapi
from billing_client.api.routes import ROUTES

from ..conftest import AMEX, DECLINED, LOGIN, STRIPE_KEY, VISA, setup_stripe

Client = TestClient[Any, Any]
PS = {
    "name": "Stripe",
    "processor": "Stripe",
    "login": LOGIN,
    "password": STRIPE_KEY,
    "test_mode": True,
    "enabled_methods": ["VISA"],
    "data_protection": "token_only",
}


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
    assert doc == openapi.document()  # served as generated from the contract
    assert doc["openapi"].startswith("3.1")
    served = {(method.lower(), path) for method, path, _ in ROUTES}
    documented = {(method, path) for path, ops in doc["paths"].items() for method in ops}
    assert served == documented
    for path, ops in doc["paths"].items():
        for op in ops.values():
            # bearer API tokens on /api; the service routes stay open
            assert (op.get("security") == [{"bearerAuth": []}]) == path.startswith("/api/")
            ref = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            # Every request body refuses unknown fields; AMCI's notifications may gain fields,
            # and a receiver must not lose a notification over one.
            if ref and path != "/notifications/amci":
                name = ref["schema"]["$ref"].rsplit("/", 1)[1]
                assert doc["components"]["schemas"][name]["additionalProperties"] is False
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


class Recorder:
    """Calls the billing client by route template; checks each JSON answer against the document
    (its status documented for that operation, its body valid against the documented schema)."""

    def __init__(self, bc: Client, doc: dict[str, Any]) -> None:
        self.bc, self.doc = bc, doc
        self.seen: set[tuple[str, str, int]] = set()

    async def __call__(self, method: str, route: str, *, status: int, **kw: Any) -> dict[str, Any]:
        ids = kw.pop("ids", {})
        r = await self.bc.request(method, route.format(**ids), **kw)
        body = await r.json()
        assert r.status == status, (method, route, r.status, body)
        responses = self.doc["paths"][route][method.lower()]["responses"]
        assert str(r.status) in responses, f"{method} {route} answers {r.status}, undocumented"
        schema = responses[str(r.status)]["content"]["application/json"]["schema"]
        jsonschema.validate(
            body,
            {**schema, "components": self.doc["components"]},
            cls=jsonschema.Draft202012Validator,
        )
        self.seen.add((method, route, r.status))
        return dict(body)


async def test_every_answer_is_documented(bc: Client) -> None:
    call = Recorder(bc, openapi.document())
    await call("GET", "/healthz", status=200)
    ps = await call("POST", "/api/payment-systems", json=PS, status=201)
    ids = {"id": ps["id"], "code": "USD"}
    await call("POST", "/api/payment-systems", json=PS, status=409)
    await call("POST", "/api/payment-systems", json={**PS, "colour": "red"}, status=400)
    await call("GET", "/api/payment-systems", status=200)
    await call("GET", "/api/payment-systems/{id}", ids=ids, status=200)
    await call("GET", "/api/payment-systems/{id}", ids={"id": "ps_x"}, status=404)
    patch = {"enabled_methods": ["VISA", "MasterCard"]}
    await call("PATCH", "/api/payment-systems/{id}", ids=ids, json=patch, status=200)
    await call("PATCH", "/api/payment-systems/{id}", ids={"id": "ps_x"}, json=patch, status=404)
    await call("PUT", "/api/currencies/{code}", ids=ids, json={"payment_system": "x"}, status=400)
    await call("GET", "/api/currencies/{code}", ids=ids, status=404)
    cur = {"payment_system": ps["id"], "minimum_payment": "0.5"}
    await call("PUT", "/api/currencies/{code}", ids=ids, json=cur, status=200)
    await call("GET", "/api/currencies/{code}", ids=ids, status=200)
    await call("GET", "/api/currencies", status=200)
    await call("DELETE", "/api/payment-systems/{id}", ids=ids, status=409)
    spare = await call("POST", "/api/payment-systems", json={**PS, "name": "Spare"}, status=201)
    await call("DELETE", "/api/payment-systems/{id}", ids={"id": spare["id"]}, status=200)
    await call("DELETE", "/api/payment-systems/{id}", ids={"id": spare["id"]}, status=404)

    john = {"name": "John", "currency": "USD", "email": "john@example.com"}
    cust = await call("POST", "/api/customers", json=john, status=201)
    c = {"id": cust["id"]}
    missing = {"id": "cust_x", "card_id": "card_x"}
    await call("POST", "/api/customers", json={"name": "J"}, status=400)
    await call("GET", "/api/customers", status=200)
    await call("GET", "/api/customers/{id}", ids=c, status=200)
    await call("GET", "/api/customers/{id}", ids=missing, status=404)
    await call("PATCH", "/api/customers/{id}", ids=c, json={"name": "John Doe"}, status=200)
    await call("PATCH", "/api/customers/{id}", ids=c, json={"email": "x"}, status=400)
    await call("PATCH", "/api/customers/{id}", ids=missing, json={"name": "J"}, status=404)

    save = {"json": {"card": VISA}, "headers": {"Idempotency-Key": "save-1"}}
    card = await call("POST", "/api/customers/{id}/cards", ids=c, **save, status=201)
    await call("POST", "/api/customers/{id}/cards", ids=c, **save, status=200)  # replayed
    await call("POST", "/api/customers/{id}/cards", ids=c, json={"card": AMEX}, status=400)
    await call("POST", "/api/customers/{id}/cards", ids=missing, json={"card": VISA}, status=404)
    await call("GET", "/api/customers/{id}/cards", ids=c, status=200)
    await call("GET", "/api/customers/{id}/cards", ids=missing, status=404)

    pay = "/api/customers/{id}/payments"
    sale = await call("POST", pay, ids=c, json={"amount": "10.00", "card": VISA}, status=201)
    await call("POST", pay, ids=c, json={"amount": "0.10", "card": VISA}, status=400)
    await call("POST", pay, ids=c, json={"amount": "10.00", "card": DECLINED}, status=402)
    await call("POST", pay, ids=missing, json={"amount": "1.00", "card": VISA}, status=404)
    auth = await call(
        "POST",
        pay,
        ids=c,
        json={"amount": "5.00", "type": "authorization", "card_id": card["id"]},
        status=201,
    )
    await call("GET", "/api/customers/{id}/transactions", ids=c, status=200)
    await call("GET", "/api/customers/{id}/transactions", ids=missing, status=404)
    s, a, x = {"id": sale["id"]}, {"id": auth["id"]}, {"id": "txn_x"}
    await call("GET", "/api/transactions/{id}", ids=s, status=200)
    await call("GET", "/api/transactions/{id}", ids=x, status=404)
    await call("POST", "/api/transactions/{id}/capture", ids=s, status=400)
    await call("POST", "/api/transactions/{id}/capture", ids=x, status=404)
    cap = await call("POST", "/api/transactions/{id}/capture", ids=a, status=200)
    await call("POST", "/api/transactions/{id}/refunds", ids=s, json={"amount": "1.00"}, status=201)
    await call("POST", "/api/transactions/{id}/refunds", ids=s, json={"amount": "99"}, status=400)
    await call("POST", "/api/transactions/{id}/refunds", ids=x, status=404)
    await call("POST", "/api/transactions/{id}/void", ids=a, status=400)  # AMCI refuses a void
    await call("POST", "/api/transactions/{id}/void", ids=x, status=404)
    await call("POST", "/api/transactions/{id}/retry", ids=s, status=201)  # finished: as is
    await call("POST", "/api/transactions/{id}/retry", ids={"id": cap["id"]}, status=200)
    await call("POST", "/api/transactions/{id}/retry", ids=x, status=404)
    delete = "/api/customers/{id}/cards/{card_id}"
    await call("DELETE", delete, ids={"id": c["id"], "card_id": card["id"]}, status=200)
    await call("DELETE", delete, ids={"id": c["id"], "card_id": card["id"]}, status=404)

    api_routes = {(m, p) for m, p, _ in ROUTES if p.startswith("/api/")}
    seen = {(m, p) for m, p, _ in call.seen if p.startswith("/api/")}
    assert seen == api_routes  # every /api route was exercised
