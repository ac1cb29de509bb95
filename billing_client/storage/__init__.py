"""Persistence behind a small async interface, on SQLite or PostgreSQL, chosen by URL.

``Storage(url)``: ``sqlite:///var/billing_client.sqlite3`` or a bare path (SQLite, the
default: one billing-client process per file), or ``postgresql://user@host:port/db``
(``postgres.PostgresBackend``: any number of billing-client processes on one database). Both
apply their versioned migrations at ``open``. Rows come back as plain dicts; secrets are stored
only as Fernet tokens produced by ``crypto.Vault`` (columns ``*_sealed``).

The use cases write SQL once, with ``?`` placeholders, in the dialect both backends share.

A transaction's ``idempotency_key`` (the key sent to AMCI) is UNIQUE and written before AMCI is
called; ``(request_scope, request_key)`` — the client's own ``Idempotency-Key`` — is UNIQUE too,
so two copies of one request can never become two transactions, whichever process they reach.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from billing_client.storage.common import DuplicateRequest, Row, StorageError, StoreUrl
from billing_client.storage.sqlite import MIGRATIONS, SCHEMA, SqliteBackend

__all__ = [
    "MIGRATIONS",
    "SCHEMA",
    "DuplicateRequest",
    "Row",
    "Storage",
    "StorageError",
    "StoreUrl",
]

_TABLES = {"payment_systems", "currencies", "customers", "cards", "transactions"}

# A pending payment only the customer can retry: a one-off card (never kept), or a saved
# full_card_except_cvv card deleted since (its number is gone). Token payments keep their token.
# COALESCE: card_source is NULL for captures, refunds and voids, and NULL = 'one_off' would be
# NULL, which NOT (…) would keep NULL and drop the row.
_NEEDS_CARD = """
    t.operation IN ('sale', 'authorization') AND (
        COALESCE(t.card_source, '') = 'one_off'
        OR EXISTS (SELECT 1 FROM cards c
                   WHERE c.id = t.card_id AND c.storage = 'encrypted' AND c.sealed IS NULL)
    )"""
_DUE = (
    "t.status = 'pending' AND COALESCE(t.next_attempt_at, t.created) <= ? "
    f"AND NOT ({_NEEDS_CARD}) "
)
_DUE_ORDER = "ORDER BY COALESCE(t.next_attempt_at, t.created), t.created, t.rowid LIMIT ?"


class Backend(Protocol):
    backend: str

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def schema_version(self) -> int: ...
    async def insert(self, sql: str, args: Sequence[Any]) -> None: ...
    async def fetch_one(self, sql: str, args: Sequence[Any] = ()) -> Row | None: ...
    async def fetch_all(self, sql: str, args: Sequence[Any] = ()) -> list[Row]: ...
    async def execute(self, sql: str, args: Sequence[Any] = ()) -> int: ...
    async def claim_rows(
        self, select: str, args: Sequence[Any], table: str, sets: Row
    ) -> list[Row]: ...
    async def try_lock(self, key: str) -> bool: ...
    async def unlock(self, key: str) -> None: ...


def _backend(url: str) -> Backend:
    parsed = StoreUrl.parse(url)
    if parsed.backend == "postgresql":
        from billing_client.storage.postgres import PostgresBackend  # asyncpg only when used

        return PostgresBackend(parsed.target)
    return SqliteBackend(parsed.target)


class Storage:
    """The billing client's store; ``url`` as in the module docstring."""

    def __init__(self, url: str) -> None:
        self.url = StoreUrl.parse(url)
        self._b: Backend = _backend(url)

    @property
    def backend(self) -> str:
        return self._b.backend

    # -- lifecycle ------------------------------------------------------------------------------

    async def open(self) -> None:
        await self._b.open()

    async def close(self) -> None:
        await self._b.close()

    async def schema_version(self) -> int:
        return await self._b.schema_version()

    # -- generic helpers (table and column names come from this module's callers, never input) --

    async def ping(self) -> bool:
        return await self._b.fetch_one("SELECT 1 AS ok") is not None

    async def insert(self, table: str, row: Row) -> None:
        assert table in _TABLES
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        sql = f"INSERT INTO {table} ({cols}) VALUES ({marks})"  # noqa: S608 - names are ours
        await self._b.insert(sql, tuple(row.values()))

    async def update(self, table: str, key_col: str, key: str, fields: Row) -> None:
        assert table in _TABLES
        if not fields:
            return
        sets = ", ".join(f"{col} = ?" for col in fields)
        sql = f"UPDATE {table} SET {sets} WHERE {key_col} = ?"  # noqa: S608 - names are ours
        await self._b.execute(sql, (*fields.values(), key))

    async def fetch_one(self, sql: str, args: Sequence[Any] = ()) -> Row | None:
        return await self._b.fetch_one(sql, args)

    async def fetch_all(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        return await self._b.fetch_all(sql, args)

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        return await self._b.execute(sql, args)

    # -- one in-flight operation per key, across processes ------------------------------------

    async def try_lock(self, key: str) -> bool:
        """Take ``key``'s lock for this process unless another process holds it (PostgreSQL;
        on SQLite one process uses the file, so the in-process guard suffices)."""
        return await self._b.try_lock(key)

    async def unlock(self, key: str) -> None:
        await self._b.unlock(key)

    # -- payment systems ------------------------------------------------------------------------

    async def get_payment_system(self, ps_id: str) -> Row | None:
        return await self.fetch_one("SELECT * FROM payment_systems WHERE id = ?", (ps_id,))

    async def find_payment_system_by_name(self, name: str) -> Row | None:
        return await self.fetch_one("SELECT * FROM payment_systems WHERE name = ?", (name,))

    async def list_payment_systems(self) -> list[Row]:
        return await self.fetch_all("SELECT * FROM payment_systems ORDER BY created, id")

    async def payment_system_uses(self, ps_id: str) -> tuple[int, int]:
        """(currencies assigned to it, live cards saved with it)."""
        cur = await self.fetch_one(
            "SELECT COUNT(*) AS n FROM currencies WHERE payment_system_id = ?", (ps_id,)
        )
        cards = await self.fetch_one(
            "SELECT COUNT(*) AS n FROM cards WHERE payment_system_id = ? AND deleted = 0", (ps_id,)
        )
        return int(cur["n"] if cur else 0), int(cards["n"] if cards else 0)

    async def delete_payment_system(self, ps_id: str) -> bool:
        return await self.execute("DELETE FROM payment_systems WHERE id = ?", (ps_id,)) > 0

    # -- currencies -----------------------------------------------------------------------------

    async def put_currency(self, code: str, ps_id: str, minimum_minor: int, now: int) -> None:
        await self.execute(
            "INSERT INTO currencies (code, payment_system_id, minimum_minor, updated) "
            "VALUES (?, ?, ?, ?) ON CONFLICT(code) DO UPDATE SET "
            "payment_system_id = excluded.payment_system_id, "
            "minimum_minor = excluded.minimum_minor, updated = excluded.updated",
            (code, ps_id, minimum_minor, now),
        )

    async def get_currency(self, code: str) -> Row | None:
        return await self.fetch_one("SELECT * FROM currencies WHERE code = ?", (code,))

    async def list_currencies(self) -> list[Row]:
        return await self.fetch_all("SELECT * FROM currencies ORDER BY code")

    # -- customers and cards --------------------------------------------------------------------

    async def get_customer(self, customer_id: str) -> Row | None:
        return await self.fetch_one("SELECT * FROM customers WHERE id = ?", (customer_id,))

    async def list_customers(self) -> list[Row]:
        return await self.fetch_all("SELECT * FROM customers ORDER BY created, id")

    async def get_card(self, customer_id: str, card_id: str) -> Row | None:
        return await self.fetch_one(
            "SELECT * FROM cards WHERE id = ? AND customer_id = ? AND deleted = 0",
            (card_id, customer_id),
        )

    async def list_cards(self, customer_id: str) -> list[Row]:
        return await self.fetch_all(
            "SELECT * FROM cards WHERE customer_id = ? AND deleted = 0 ORDER BY created, id",
            (customer_id,),
        )

    # -- transactions ---------------------------------------------------------------------------

    async def get_transaction(self, txn_id: str) -> Row | None:
        return await self.fetch_one("SELECT * FROM transactions WHERE id = ?", (txn_id,))

    async def find_request(self, scope: str, key: str) -> Row | None:
        return await self.fetch_one(
            "SELECT * FROM transactions WHERE request_scope = ? AND request_key = ?", (scope, key)
        )

    async def list_transactions(self, customer_id: str) -> list[Row]:
        return await self.fetch_all(
            "SELECT * FROM transactions WHERE customer_id = ? ORDER BY created, rowid",
            (customer_id,),
        )

    async def children(self, parent_id: str) -> list[Row]:
        return await self.fetch_all(
            "SELECT * FROM transactions WHERE parent_id = ? ORDER BY created, rowid", (parent_id,)
        )

    def _indexed(self, index: str) -> str:
        """SQLite: INDEXED BY pins the partial index (only pending rows, already in order):
        without statistics SQLite might pick ``transactions_status`` and sort in a temp
        b-tree, and if the index were ever missing the query fails loudly instead of scanning.
        PostgreSQL's planner has statistics and no such clause."""
        return f" INDEXED BY {index}" if self.backend == "sqlite" else ""

    async def due_transactions(self, now: int, limit: int) -> list[Row]:
        """Pending transactions the billing client can resend by itself and that are due at
        ``now``, the longest-due first (a row that keeps failing is pushed back by its backoff,
        so it can't hold the head of the queue)."""
        return await self.fetch_all(
            f"SELECT t.* FROM transactions t{self._indexed('transactions_due')} "  # noqa: S608
            f"WHERE {_DUE}{_DUE_ORDER}",
            (now, limit),
        )

    async def take_due(self, now: int, limit: int, lease_seconds: int) -> list[Row]:
        """``due_transactions`` for one reconciler among several: the rows are taken for
        ``lease_seconds`` (``reconcile_until``), so another process's pass skips them until
        this one has tried them (``release``) or has died. On PostgreSQL rows another process
        is taking at this very moment are skipped (``FOR UPDATE SKIP LOCKED``)."""
        lock = " FOR UPDATE OF t SKIP LOCKED" if self.backend == "postgresql" else ""
        select = (
            f"SELECT t.* FROM transactions t{self._indexed('transactions_due')} "  # noqa: S608
            f"WHERE {_DUE}AND (t.reconcile_until IS NULL OR t.reconcile_until <= ?) "
            f"{_DUE_ORDER}{lock}"
        )
        return await self._b.claim_rows(
            select, (now, now, limit), "transactions", {"reconcile_until": now + lease_seconds}
        )

    async def release(self, txn_id: str) -> None:
        """The reconciler is done with ``txn_id`` (see ``take_due``)."""
        await self.execute("UPDATE transactions SET reconcile_until = NULL WHERE id = ?", (txn_id,))

    async def pending_created_before(self, before: int, limit: int) -> list[Row]:
        """Pending transactions created before ``before`` (any kind), oldest first."""
        return await self.fetch_all(
            f"SELECT * FROM transactions{self._indexed('transactions_pending')} "  # noqa: S608
            "WHERE status = 'pending' AND created < ? ORDER BY created, rowid LIMIT ?",
            (before, limit),
        )

    async def count_pending_needing_card(self) -> int:
        found = await self.fetch_one(
            f"SELECT COUNT(*) AS n FROM transactions t{self._indexed('transactions_pending')} "  # noqa: S608
            f"WHERE t.status = 'pending' AND {_NEEDS_CARD}"
        )
        return int(found["n"]) if found else 0
