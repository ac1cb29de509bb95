"""Customers over real HTTP: created without an email (set later, before a card token), updated,
a bad email named, an unknown customer 404."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

Client = TestClient[Any, Any]


async def test_create_update_and_refusals(bc: Client) -> None:
    r = await bc.post("/api/customers", json={"name": "Jane", "currency": "EUR"})
    jane = await r.json()
    assert r.status == 201 and jane["email"] is None
    r = await bc.patch(f"/api/customers/{jane['id']}", json={"email": "nope"})
    assert r.status == 400 and (await r.json())["error"]["param"] == "email"
    assert (await bc.get("/api/customers/cust_missing")).status == 404
