"""The storage contract, once, on SQLite and on PostgreSQL (``store_url`` is parametrised):
what the use cases rely on behaves the same on both."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sqlite3
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from billing_client.auth import Tokens
from billing_client.storage import DuplicateRequest, Storage, StorageError, postgres_schema
from billing_client.storage.sqlite import MIGRATIONS as SQLITE_MIGRATIONS

NOW = 1_700_000_000


async def _seed(db: Storage) -> None:
    await db.insert("payment_systems", {
        "id": "ps_1", "name": "Stripe", "processor": "Stripe", "login_sealed": "x",
        "api_key_sealed": "y", "api_key_masked": "sk_test_••••", "test_mode": True,
        "enabled_methods": '["VISA"]', "data_protection": "token_only", "created": NOW,
        "updated": NOW,
    })
    await db.put_currency("USD", "ps_1", 50, NOW)
    await db.insert("customers", {"id": "cust_1", "name": "John", "email": None,
                                  "currency": "USD", "created": NOW, "updated": NOW})


def _txn(txn_id: str, **over: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": txn_id, "customer_id": "cust_1", "payment_system_id": "ps_1",
        "operation": "sale", "card_source": "saved", "currency": "USD", "amount_minor": 1000,
        "status": "pending", "idempotency_key": f"bc-{txn_id}", "created": NOW, "updated": NOW,
    }
    return row | over


async def test_the_schema_is_at_the_latest_version_and_reopening_applies_nothing(
    store_url: str, storage: Storage
) -> None:
    assert await storage.schema_version() == len(SQLITE_MIGRATIONS)
    again = Storage(store_url)
    await again.open()  # an ALTER TABLE applied twice would fail here
    try:
        assert await again.schema_version() == len(SQLITE_MIGRATIONS)
    finally:
        await again.close()


async def test_rows_round_trip_with_flags_as_integers(storage: Storage) -> None:
    await _seed(storage)
    ps = await storage.get_payment_system("ps_1")
    assert ps is not None and ps["test_mode"] == 1 and type(ps["test_mode"]) is int
    await storage.put_currency("USD", "ps_1", 75, NOW + 1)  # the upsert replaces
    assert (await storage.get_currency("USD") or {})["minimum_minor"] == 75
    await storage.insert("transactions", _txn("txn_a", amount_minor=2**40, off_session=True))
    row = await storage.get_transaction("txn_a")
    assert row is not None and row["amount_minor"] == 2**40 and row["off_session"] == 1
    await storage.update("transactions", "id", "txn_a", {"status": "succeeded", "retryable": False})
    row = await storage.get_transaction("txn_a")
    assert row is not None and (row["status"], row["retryable"]) == ("succeeded", 0)
    assert await storage.payment_system_uses("ps_1") == (1, 0)
    assert await storage.ping()


async def test_same_second_rows_list_in_insertion_order(storage: Storage) -> None:
    await _seed(storage)
    for txn_id in ("txn_c", "txn_b", "txn_a"):  # ids in reverse alphabetical order
        await storage.insert("transactions", _txn(txn_id, status="succeeded"))
    assert [t["id"] for t in await storage.list_transactions("cust_1")] == [
        "txn_c", "txn_b", "txn_a"]


async def test_a_second_copy_of_a_request_is_a_duplicate(storage: Storage) -> None:
    await _seed(storage)
    await storage.insert("transactions", _txn("txn_1", request_scope="s", request_key="k"))
    with pytest.raises(DuplicateRequest):
        await storage.insert("transactions", _txn("txn_2", request_scope="s", request_key="k"))
    with pytest.raises(DuplicateRequest):  # the key sent to AMCI is unique too
        await storage.insert("transactions", _txn("txn_3", idempotency_key="bc-txn_1"))
    # Requests without a client key never collide.
    await storage.insert("transactions", _txn("txn_4"))
    await storage.insert("transactions", _txn("txn_5"))
    assert (await storage.find_request("s", "k") or {})["id"] == "txn_1"


async def test_execute_counts_rows_and_computes_in_sql(storage: Storage) -> None:
    await _seed(storage)
    await storage.insert("transactions", _txn("txn_p", status="captured",
                                              amount_captured_minor=1000))
    sql = ("UPDATE transactions SET amount_refunded_minor = amount_refunded_minor + ?, "
           "status = CASE WHEN amount_refunded_minor + ? >= amount_captured_minor "
           "THEN 'refunded' ELSE 'partially_refunded' END, updated = ? WHERE id = ?")
    assert await storage.execute(sql, (400, 400, NOW, "txn_p")) == 1
    assert (await storage.get_transaction("txn_p") or {})["status"] == "partially_refunded"
    assert await storage.execute(sql, (600, 600, NOW, "txn_p")) == 1
    row = await storage.get_transaction("txn_p") or {}
    assert (row["status"], row["amount_refunded_minor"]) == ("refunded", 1000)
    assert await storage.execute(sql, (1, 1, NOW, "txn_none")) == 0
    # A '?' inside a string literal is text, not a placeholder.
    await storage.update("transactions", "id", "txn_p", {"description": "what?"})
    found = await storage.fetch_one(
        "SELECT id FROM transactions WHERE description = 'what?' AND id = ?", ("txn_p",))
    assert found == {"id": "txn_p"}


async def test_the_reconciler_queue(storage: Storage) -> None:
    """Due rows the billing client can send itself, longest-due first; one-off-card payments
    and saved-card payments whose card number is gone are left to the customer."""
    await _seed(storage)
    await storage.insert("cards", {
        "id": "card_gone", "customer_id": "cust_1", "payment_system_id": "ps_1",
        "storage": "encrypted", "sealed": None, "brand": "Visa", "last4": "4242",
        "created": NOW, "deleted": 1})
    await storage.insert("transactions", _txn("txn_late", next_attempt_at=NOW + 50))
    await storage.insert("transactions", _txn("txn_first", created=NOW - 10))
    await storage.insert("transactions", _txn("txn_capture", operation="capture",
                                              card_source=None))
    await storage.insert("transactions", _txn("txn_oneoff", card_source="one_off"))
    await storage.insert("transactions", _txn("txn_nocard", card_id="card_gone"))
    await storage.insert("transactions", _txn("txn_done", status="succeeded"))
    assert [t["id"] for t in await storage.due_transactions(NOW, 10)] == [
        "txn_first", "txn_capture"]
    assert [t["id"] for t in await storage.due_transactions(NOW + 50, 10)] == [
        "txn_first", "txn_capture", "txn_late"]
    assert await storage.count_pending_needing_card() == 2
    assert [t["id"] for t in await storage.pending_created_before(NOW, 10)] == ["txn_first"]


async def test_rows_taken_by_one_reconciler_are_skipped_by_another(
    store_url: str, storage: Storage
) -> None:
    await _seed(storage)
    for i in range(4):
        await storage.insert("transactions", _txn(f"txn_{i}", created=NOW - 10 + i))
    other = Storage(store_url)
    await other.open()
    try:
        first = await storage.take_due(NOW, 3, 60)
        assert [t["id"] for t in first] == ["txn_0", "txn_1", "txn_2"]
        assert [t["id"] for t in await other.take_due(NOW, 3, 60)] == ["txn_3"]
        assert await other.take_due(NOW + 59, 10, 60) == []
        await storage.release("txn_1")  # tried: free again for anyone
        assert [t["id"] for t in await other.take_due(NOW, 10, 60)] == ["txn_1"]
        # A reconciler that died keeps its rows only for the lease.
        assert [t["id"] for t in await other.take_due(NOW + 60, 10, 60)] == [
            "txn_0", "txn_1", "txn_2", "txn_3"]
    finally:
        await other.close()


async def test_api_tokens(storage: Storage) -> None:
    tokens = Tokens(storage, clock=lambda: NOW)
    token = await tokens.create("ci")
    assert await tokens.verify(token.reveal()) == "ci"
    assert await tokens.names() == ["ci"]
    await tokens.revoke("ci")
    assert await tokens.verify(token.reveal()) is None


async def test_a_database_from_a_newer_billing_client_is_refused(store_url: str) -> None:
    storage = Storage(store_url)
    await storage.open()
    newer = len(SQLITE_MIGRATIONS) + 1
    if storage.backend == "sqlite":
        await storage.execute(f"PRAGMA user_version = {newer}")
    else:
        await storage.execute("INSERT INTO billing_schema_version (version) VALUES (?)", (newer,))
    await storage.close()
    again = Storage(store_url)
    with pytest.raises(StorageError, match="newer"):
        await again.open()
    await again.close()


# -- PostgreSQL only: what SQLite gets from "one process per file" -------------------------------


async def test_both_backends_have_the_same_tables_and_columns(pg_url: str, tmp_path: Path) -> None:
    """Every SQLite migration has its PostgreSQL twin (rowid: SQLite's implicit column)."""
    assert len(postgres_schema.MIGRATIONS) == len(SQLITE_MIGRATIONS)
    lite = Storage(str(tmp_path / "s.sqlite3"))
    await lite.open()
    await lite.close()
    with contextlib.closing(sqlite3.connect(tmp_path / "s.sqlite3")) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        expected = {t: {r[1] for r in conn.execute(f"PRAGMA table_info({t})")} for t in tables}
    pg = Storage(pg_url)
    await pg.open()
    await pg.close()
    conn_pg = await asyncpg.connect(pg_url)
    try:
        rows = await conn_pg.fetch(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name <> 'billing_schema_version'")
    finally:
        await conn_pg.close()
    found: dict[str, set[str]] = {}
    for r in rows:
        found.setdefault(r["table_name"], set()).add(r["column_name"])
    found["transactions"].discard("rowid")
    assert found == expected


async def test_a_transaction_lock_excludes_other_processes_until_let_go(pg_url: str) -> None:
    one, two = Storage(pg_url), Storage(pg_url)
    await one.open()
    await two.open()
    try:
        assert await one.try_lock("txn_1")
        assert not await two.try_lock("txn_1")
        assert await two.try_lock("txn_2")  # other keys are free
        await one.unlock("txn_1")
        assert await two.try_lock("txn_1")
        await two.close()  # a process that dies lets go of everything it held
        assert await one.try_lock("txn_1") and await one.try_lock("txn_2")
    finally:
        await one.close()
        await two.close()


async def test_concurrent_reconcilers_never_take_the_same_row(pg_url: str) -> None:
    stores = [Storage(pg_url) for _ in range(3)]
    for s in stores:
        await s.open()
    try:
        await _seed(stores[0])
        for i in range(30):
            await stores[0].insert("transactions", _txn(f"txn_{i:02}", created=NOW - 100 + i))

        async def drain(s: Storage) -> list[str]:
            taken: list[str] = []
            while batch := await s.take_due(NOW, 2, 60):
                taken += [t["id"] for t in batch]
            return taken

        results = await asyncio.gather(*(drain(s) for s in stores for _ in range(2)))
        every = [txn for taken in results for txn in taken]
        assert sorted(every) == [f"txn_{i:02}" for i in range(30)]  # each once, none lost
    finally:
        for s in stores:
            await s.close()


async def test_an_unreachable_database_is_a_storage_error_at_start() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens once the socket closes
    storage = Storage(f"postgresql://nobody@127.0.0.1:{port}/none")
    with pytest.raises(StorageError, match="cannot connect"):
        await storage.open()
    await storage.close()


def test_store_urls() -> None:
    assert Storage("sqlite:///var/bc.sqlite3").url.target == "var/bc.sqlite3"
    assert Storage("sqlite:////abs/bc.sqlite3").url.target == "/abs/bc.sqlite3"
    assert Storage("plain/path.sqlite3").backend == "sqlite"
    assert Storage("postgres://u:secret@h:5432/db").url.safe == "postgres://u:***@h:5432/db"
    for bad in ("mysql://h/db", "sqlite://relative", "postgresql://", ""):
        with pytest.raises(StorageError):
            Storage(bad)


async def test_like_ignores_ascii_case_on_both(storage: Storage) -> None:
    """The use cases' searches are written for SQLite, whose LIKE ignores ASCII case."""
    await _seed(storage)
    found = await storage.fetch_all(
        "SELECT id FROM customers WHERE name LIKE ? ESCAPE '\\'", ("%JOH%",))
    assert [r["id"] for r in found] == ["cust_1"]


def test_the_sqlite_dialect_numbered_for_postgresql() -> None:
    from billing_client.storage.postgres import numbered

    assert numbered("SELECT * FROM t WHERE a = ? AND b LIKE ? AND c = 'why? LIKE' AND d = ?") == (
        "SELECT * FROM t WHERE a = $1 AND b ILIKE $2 AND c = 'why? LIKE' AND d = $3")
    assert numbered("SELECT 'it''s ?' AS q, ? AS unlikely") == (
        "SELECT 'it''s ?' AS q, $1 AS unlikely")


async def test_people_sessions_and_the_audit_trail(storage: Storage) -> None:
    """The console's tables (administrators, self-care logins, sessions, the audit trail) on
    each backend, through the classes that use them."""
    from billing_client.auth import AccountError, Admins, CustomerLogins
    from billing_client.sessions import Sessions

    await _seed(storage)
    clock = [float(NOW)]
    admins = Admins(storage, clock=lambda: clock[0])
    await admins.create("root-admin", "correct horse battery")
    with pytest.raises(AccountError):
        await admins.create("root-admin", "another password")
    assert await admins.verify("root-admin", "correct horse battery") == "root-admin"
    assert await admins.verify("root-admin", "wrong password!") is None
    logins = CustomerLogins(storage, clock=lambda: clock[0])
    await logins.set("cust_1", "john.doe", "his own password")
    await logins.set("cust_1", "john.d", None)  # a new username keeps the password
    assert await logins.verify("john.d", "his own password") == "cust_1"
    sessions = Sessions(storage, idle_seconds=60, max_seconds=3600, clock=lambda: clock[0])
    cookie = await sessions.start("admin", "root-admin")
    found = await sessions.find("admin", cookie)
    assert found is not None and found.subject == "root-admin"
    assert await sessions.find("customer", cookie) is None
    clock[0] += 61
    assert await sessions.find("admin", cookie) is None  # idle too long
    for action in ("create", "update", "delete"):
        await storage.execute(
            "INSERT INTO audit (at, actor, action, object_type, object_id, detail) "
            "VALUES (?, ?, ?, ?, ?, ?)", (NOW, "root-admin", action, "customer", "cust_1", ""))
    rows = await storage.fetch_all(
        "SELECT action FROM audit WHERE object_type = ? AND object_id = ? ORDER BY seq",
        ("customer", "cust_1"))
    assert [r["action"] for r in rows] == ["create", "update", "delete"]


async def test_amci_notifications_are_recorded_once(storage: Storage) -> None:
    sql = ("INSERT INTO amci_notifications (id, type, payment, sequence, applied, received) "
           "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING")
    assert await storage.execute(sql, ("ntf_1", "payment.succeeded", "pay_1", 1, True, NOW)) == 1
    assert await storage.execute(sql, ("ntf_1", "payment.succeeded", "pay_1", 1, True, NOW)) == 0
    assert await storage.fetch_one("SELECT applied FROM amci_notifications") == {"applied": 1}


def test_each_migration_has_its_twin_at_the_same_number() -> None:
    """Version N means the same tables and added columns on both backends (a database's
    version number is compared, not its shape)."""
    import re

    def changes(script: str) -> set[tuple[str, ...]]:
        found: set[tuple[str, ...]] = set()
        for m in re.finditer(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+)|ALTER TABLE (\w+) ADD COLUMN "
                             r"(\w+)", script):
            found.add(("table", m[1]) if m[1] else ("column", m[2], m[3]))
        return found

    assert [changes(s) for s in SQLITE_MIGRATIONS] == [
        changes(s) for s in postgres_schema.MIGRATIONS]
