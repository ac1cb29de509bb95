"""The OpenAPI document is generated from the contract's models: it matches the app's routes both
ways, its references resolve, and every status (and body) a handler answers is documented."""

from __future__ import annotations

import asyncio
from typing import Any

from jsonschema import Draft202012Validator
from yarl import URL

from amci import contract
from amci.app import create_app
from amci.openapi import ROUTES, document
from amci.settings import RateLimitSettings, Settings

Stack = Any
PAY = "/v1/stripe/payments"


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_every_route_is_documented_and_nothing_else() -> None:
    app = create_app(Settings())
    routes = {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }
    doc = document()
    documented = {(method, path) for path, ops in doc["paths"].items() for method in ops}
    assert routes == documented
    assert doc["openapi"] == "3.1.0"
    schemas = doc["components"]["schemas"]
    for ref in _refs(doc):
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas


def test_schemas_come_from_the_models() -> None:
    schemas = document()["components"]["schemas"]
    for name in ("PaymentRequest", "SaveCardRequest", "CardIn", "CustomerIn", "CaptureRequest",
                 "RefundRequest"):
        assert schemas[name]["additionalProperties"] is False, name  # unknown fields refused
    assert schemas["RefundRequest"]["properties"]["reason"]["anyOf"][0]["enum"] == [
        "duplicate", "fraudulent", "requested_by_customer"]
    amount = schemas["PaymentRequest"]["properties"]["amount"]
    assert amount["pattern"] == "^[0-9]+(\\.[0-9]+)?$" and amount["maxLength"] == 32
    assert set(schemas["PaymentRequest"]["required"]) == {"amount", "currency"}
    assert schemas["CardIn"]["properties"]["exp_month"]["type"] == "integer"
    # Same model, same schema: what the handler validates is what the document says.
    assert contract.PaymentRequest.model_json_schema(
        ref_template="#/components/schemas/{model}")["properties"] == schemas["PaymentRequest"][
        "properties"]


async def test_served(stack: Stack) -> None:
    resp = await stack.amci.get("/openapi.json")
    assert resp.status == 200 and await resp.json() == document()
    money_routes = [p for p, ops in document()["paths"].items()
                    if "post" in ops and p.startswith("/v1") and not p.endswith("/void")
                    and "/notifications/" not in p and "/webhooks/" not in p]
    assert len(money_routes) == 5
    for path in money_routes:
        params = {p["name"] for p in document()["paths"][path]["post"]["parameters"]}
        assert "Idempotency-Key" in params, path


class Recorder:
    """Sends requests and checks each answer against the document: status documented for the
    route, body valid against that status's schema."""

    def __init__(self) -> None:
        self.doc = document()
        self.seen: set[tuple[str, str, int]] = set()

    async def __call__(self, client: Any, method: str, path: str, route: str,
                       **kw: Any) -> tuple[int, Any]:
        resp = await client.request(method, path, **kw)
        status = resp.status
        op = self.doc["paths"][route][method.lower()]
        assert str(status) in op["responses"], (method, route, status, await resp.text())
        self.seen.add((method, route, status))
        content = op["responses"][str(status)].get("content", {})
        body: Any = None
        if "application/json" in content:
            body = await resp.json()
            schema = {**content["application/json"]["schema"],
                      "components": self.doc["components"]}
            errors = list(Draft202012Validator(schema).iter_errors(body))
            assert not errors, (method, route, status, body, errors[0].message)
        return status, body


async def test_every_status_a_handler_answers_is_documented(make_stack: Any,
                                                            unused_tcp_port: int) -> None:
    stack = await make_stack()
    rec = Recorder()
    c, auth = stack.amci, stack.basic()
    card = stack.card()

    async def post(path: str, route: str, body: Any, **headers: str) -> tuple[int, Any]:
        kw: dict[str, Any] = {"headers": {**auth, **headers}}
        if isinstance(body, bytes):
            kw["data"] = body
            kw["headers"]["Content-Type"] = "application/json"
        else:
            kw["json"] = body
        return await rec(c, "POST", path, route, **kw)

    for route in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        assert (await rec(c, "GET", route, route))[0] == 200
    cards, card_path = "/v1/stripe/cards", "/v1/stripe/cards/{token}"
    one, pay_path = f"{PAY}/{{id}}", PAY
    saved = (await post(cards, cards, {"card": card, "customer": {"email": "a@b.co"}}))[1]
    sale = (await post(PAY, pay_path, {"amount": "10.00", "currency": "USD", "card": card}))[1]
    auth_ = (await post(PAY, pay_path, {"amount": "10.00", "currency": "USD", "capture": False,
                                        "token": saved["token"]}))[1]
    pid = sale["id"]
    bad_bodies: list[Any] = [b"{nope", b"[" * 100, {"captrue": True}, {"amount": "١٠"},
                             b'{"description": "\\ud800"}']
    for path, route in ((cards, cards), (PAY, pay_path), (f"{PAY}/{pid}/capture", one + "/capture"),
                        (f"{PAY}/{pid}/refunds", one + "/refunds")):
        for body in bad_bodies:
            assert (await post(path, route, body))[0] == 400
        assert (await post(path, route, b"{" + b" " * 70_000 + b"}"))[0] == 413
        assert (await post(path, route, {}, **{"Idempotency-Key": "k" * 300}))[0] == 400
        for headers in ({}, stack.basic(stack.KEY_INACTIVE)):
            resp = await rec(c, "POST", path, route, json={}, headers=headers)
            assert resp[0] in (401, 403)
    # Declines, refusals, unknown objects.
    assert (await post(PAY, pay_path, {"amount": "10.00", "currency": "USD",
                                       "card": stack.card("4000000000000002")}))[0] == 402
    assert (await post(cards, cards, {"card": stack.card("4242424242424241"),
                                      "customer": {"email": "a@b.co"}}))[0] == 402
    assert (await post(PAY, pay_path, {"amount": "10.00", "currency": "USD",
                                       "token": "pm_doesnotexist"}))[0] == 404
    assert (await post(f"{PAY}/{auth_['id']}/capture", one + "/capture", {"amount": "5.00"}))[
        0] == 200
    assert (await post(f"{PAY}/{pid}/capture", one + "/capture", {}))[0] == 400  # captured
    assert (await post(f"{PAY}/{pid}/refunds", one + "/refunds",
                       {"amount": "1.00", "reason": "requested_by_customer"}))[0] == 201
    assert (await post(f"{PAY}/{pid}/refunds", one + "/refunds", {"amount": "99.00"}))[0] == 400
    # Stripe answers 400 for an unknown object named in a parameter, 404 for one in a path.
    assert (await post(f"{PAY}/pi_nope/refunds", one + "/refunds", {}))[0] == 400
    assert (await post(f"{PAY}/pi_nope/refunds", one + "/refunds", {"amount": "1.00"}))[0] == 404
    assert (await post(f"{PAY}/{pid}/void", one + "/void", {}))[0] == 400
    assert (await post(f"{PAY}/a.b/void", one + "/void", {}))[0] == 404
    assert (await post(PAY, pay_path, {"amount": "1.00", "currency": "USD", "card": card},
                       **{"X-Request-Id": "r" * 65}))[0] == 400
    for path in (f"{PAY}/{pid}", f"{PAY}/pi_nope"):
        await rec(c, "GET", path, one, headers=auth)
    assert (await rec(c, "GET", f"{cards}/{saved['token']}", card_path, headers=auth))[0] == 200
    assert (await rec(c, "GET", f"{cards}/pm_nope", card_path, headers=auth))[0] == 404
    await rec(c, "DELETE", f"{cards}/{saved['token']}", card_path, headers=auth)
    await rec(c, "DELETE", f"{cards}/pm_nope", card_path, headers=auth)

    # Notifications' routes, the lookup by reference, Stripe's webhooks (verified e2e).
    assert (await post(PAY, pay_path, {"amount": "3.00", "currency": "USD", "card": card,
                                       "reference": "inv-openapi"}))[0] == 201
    for query, expected in (("?reference=inv-openapi", 200), ("?reference=nope", 404),
                            ("", 400), ("?reference=x&extra=1", 400)):
        assert (await rec(c, "GET", PAY + query, pay_path, headers=auth))[0] == expected
    notes = "/v1/stripe/notifications"
    assert (await rec(c, "GET", notes, notes, headers=auth))[0] == 200
    assert (await rec(c, "GET", notes + "?limit=0", notes, headers=auth))[0] == 400
    again = notes + "/{id}/redeliver"
    assert (await rec(c, "POST", notes + "/ntf_nope/redeliver", again, headers=auth))[0] == 404
    hooks = "/v1/stripe/webhooks/{subscription}"
    sub = stack.settings.subscriptions[0].id
    assert (await rec(c, "POST", f"/v1/stripe/webhooks/{sub}", hooks, data=b"{}",
                      headers={"Stripe-Signature": "t=1,v1=00"}))[0] == 400
    assert (await rec(c, "POST", "/v1/stripe/webhooks/nope", hooks, data=b"{}"))[0] == 404

    # 409: the same Idempotency-Key while the first request is in flight.
    statuses = await asyncio.gather(*(
        post(PAY, pay_path, {"amount": "2.00", "currency": "USD", "card": card},
             **{"Idempotency-Key": "in-flight-1"}) for _ in range(4)))
    assert {s for s, _ in statuses} <= {201, 409}

    # 429 from AMCI's limiter; 503 with Stripe unreachable.
    limited = await make_stack(rate_limit=RateLimitSettings(
        enabled=True, test_per_second=0.5, max_wait_seconds=0.0))
    got = [await rec(limited.amci, "GET", f"{PAY}/pi_nope", one, headers=auth)
           for _ in range(2)]
    assert [s for s, _ in got] == [404, 429]
    down = await make_stack(upstream=stack.settings.upstream.model_copy(
        update={"test_api_base": f"http://127.0.0.1:{unused_tcp_port}"}))
    assert (await rec(down.amci, "POST", PAY, pay_path, headers=auth, json={
        "amount": "1.00", "currency": "USD", "card": card}))[0] == 503
    assert (await rec(down.amci, "GET", "/readyz", "/readyz"))[0] == 503

    # 3D Secure on the embedded test mode: authentication_required without a return_url, a fresh
    # link, the page proxied through AMCI, a used page, a payment that needs no authentication.
    embedded = await make_stack(upstream=stack.settings.upstream.model_copy(
        update={"test_api_base": None}))
    e, page_route = embedded.amci, "/_testmode/authenticate/{tail}"
    status, refusal = await rec(e, "POST", PAY, pay_path, headers=auth, json={
        "amount": "10.00", "currency": "EUR", "card": stack.card("4000002760003184")})
    assert status == 402 and refusal["error"]["code"] == "authentication_required", refusal
    linked_path = f"{PAY}/{refusal['error']['payment']}/authenticate"
    status, linked = await rec(e, "POST", linked_path, one + "/authenticate", headers=auth,
                               json={"return_url": "https://billing.example/back"})
    assert status == 200 and linked["status"] == "requires_action", linked
    page = URL(linked["next_action"]["url"]).path
    assert (await rec(e, "GET", page, page_route))[0] == 200
    assert (await rec(e, "POST", page, page_route, data={"result": "complete"},
                      allow_redirects=False))[0] == 303
    assert (await rec(e, "GET", page, page_route))[0] == 404
    assert (await rec(e, "POST", linked_path, one + "/authenticate", headers=auth,
                      json={"return_url": "https://billing.example/again"}))[0] == 400
    assert (await rec(c, "GET", page, page_route))[0] == 404  # no embedded test mode here

    # The battery really covered each route's main outcomes.
    for method, route, status in [
        ("POST", cards, 201), ("POST", cards, 402), ("POST", cards, 413),
        ("POST", pay_path, 201), ("POST", pay_path, 402), ("POST", pay_path, 404),
        ("POST", pay_path, 503), ("GET", one, 200), ("GET", one, 404),
        ("GET", one, 429), ("POST", one + "/capture", 200), ("POST", one + "/refunds", 201),
        ("DELETE", card_path, 200), ("DELETE", card_path, 404), ("POST", one + "/void", 400),
        ("POST", pay_path, 401), ("POST", pay_path, 403), ("GET", card_path, 200),
        ("GET", card_path, 404), ("POST", one + "/authenticate", 200),
        ("POST", one + "/authenticate", 400), ("GET", page_route, 200),
        ("POST", page_route, 303),
    ]:
        assert (method, route, status) in rec.seen, (method, route, status)
    # Every documented route was exercised.
    assert {(m, r) for m, r, _ in rec.seen} == {(r.method, r.path) for r in ROUTES}
