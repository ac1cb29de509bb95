"""The OpenAPI document matches the app's routes, both ways, and its references resolve."""

from __future__ import annotations

from typing import Any

from amci.app import create_app
from amci.openapi import document
from amci.settings import Settings


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


async def test_served(stack: Any) -> None:
    resp = await stack.amci.get("/openapi.json")
    assert resp.status == 200 and await resp.json() == document()
    money_routes = [p for p, ops in document()["paths"].items()
                    if "post" in ops and p.startswith("/v1") and not p.endswith("/void")]
    for path in money_routes:
        params = {p["name"] for p in document()["paths"][path]["post"]["parameters"]}
        assert "Idempotency-Key" in params, path
