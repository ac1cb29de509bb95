"""State survives a restart on the same SQLite file; the store's cost does not depend on size."""

from __future__ import annotations

from pathlib import Path

import pytest
import stripe

from amci.testmode import TestmodeSettings, create_app
from amci.testmode.store import Store
from tests.testmode.conftest import ClientFactory
from tests.testmode.shapes import ShapeRecorder


async def test_restart_finds_objects_and_idempotent_results(
    aiohttp_server, make_client: ClientFactory, tmp_path: Path, key: str,  # type: ignore[no-untyped-def]
    shapes: ShapeRecorder,
) -> None:
    db = str(tmp_path / "var" / "testmode.sqlite3")
    settings = TestmodeSettings(db_path=db, rate_limit_per_second=None)
    server = await aiohttp_server(shapes.attach(create_app(settings)))
    client = make_client(key, base_url=str(server.make_url("")).rstrip("/"))
    cus = await client.v1.customers.create_async({"email": "keep@example.com"})
    pm = await client.v1.payment_methods.attach_async("pm_card_visa", {"customer": cus.id})
    opts: stripe.RequestOptions = {"idempotency_key": "pay-1"}
    params: stripe.PaymentIntentCreateParams = {
        "amount": 1234, "currency": "usd", "customer": cus.id, "payment_method": pm.id,
        "capture_method": "manual", "confirm": True}
    pi = await client.v1.payment_intents.create_async(params, opts)
    await server.close()

    server2 = await aiohttp_server(shapes.attach(create_app(settings)))
    client2 = make_client(key, base_url=str(server2.make_url("")).rstrip("/"))
    assert (await client2.v1.customers.retrieve_async(cus.id)).email == "keep@example.com"
    again = await client2.v1.payment_intents.create_async(params, opts)
    assert again.id == pi.id
    assert again.last_response is not None
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    captured = await client2.v1.payment_intents.capture_async(pi.id)
    assert captured.status == "succeeded"
    methods = await client2.v1.customers.payment_methods.list_async(cus.id)
    assert [m.id for m in methods.data] == [pm.id]
    with pytest.raises(stripe.InvalidRequestError):
        await make_client(base_url=str(server2.make_url("")).rstrip("/")
                          ).v1.customers.retrieve_async(cus.id)


def test_lookups_use_indexes(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "s.sqlite3"))
    db = store._db  # the query planner is the thing under test here
    plans = [
        db.execute("EXPLAIN QUERY PLAN SELECT data FROM objects WHERE account=? AND id=?",
                   ("a", "b")).fetchall(),
        db.execute("EXPLAIN QUERY PLAN SELECT data FROM objects WHERE account=? AND kind=?"
                   " ORDER BY seq DESC LIMIT 11", ("a", "customer")).fetchall(),
        db.execute("EXPLAIN QUERY PLAN SELECT data FROM objects WHERE account=? AND kind=?"
                   " AND f1=? ORDER BY seq DESC LIMIT 11", ("a", "charge", "cus_x")).fetchall(),
        db.execute("EXPLAIN QUERY PLAN SELECT status FROM idempotency WHERE account=? AND key=?",
                   ("a", "k")).fetchall(),
    ]
    for plan in plans:
        detail = " ".join(str(row[-1]) for row in plan)
        assert "USING" in detail and "SCAN objects" not in detail, detail
        assert "TEMP B-TREE" not in detail, detail
    store.close()
