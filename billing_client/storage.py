"""Persistence behind a small async interface (SQLite now; PostgreSQL could implement the same).

SQLite runs in WAL mode on one dedicated thread, so every statement is serialised without locks
in the event loop and the loop never blocks on disk. Rows come back as plain dicts; secrets are
stored only as Fernet tokens produced by ``crypto.Vault`` (columns ``*_sealed``).

A transaction's ``idempotency_key`` (the key sent to AMCI) is UNIQUE and written before AMCI is
called; ``(request_scope, request_key)`` — the client's own ``Idempotency-Key`` — is UNIQUE too,
so two copies of one request can never become two transactions.

The schema is versioned (SQLite's ``user_version``): ``MIGRATIONS`` are applied in order at
``open``, each once, inside one ``BEGIN IMMEDIATE`` transaction so two processes opening the same
file (``serve`` and ``create-token``) never both apply one. A file from a newer version is
refused rather than guessed at.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from billing_client import auth

Row = dict[str, Any]
T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS payment_systems (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    processor TEXT NOT NULL,
    login_sealed TEXT NOT NULL,
    api_key_sealed TEXT NOT NULL,
    api_key_masked TEXT NOT NULL,
    test_mode INTEGER NOT NULL,
    enabled_methods TEXT NOT NULL,
    data_protection TEXT NOT NULL,
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS currencies (
    code TEXT PRIMARY KEY,
    payment_system_id TEXT NOT NULL REFERENCES payment_systems(id),
    minimum_minor INTEGER NOT NULL,
    updated INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS currencies_ps ON currencies(payment_system_id);
CREATE TABLE IF NOT EXISTS customers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT,
    currency TEXT NOT NULL,
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS cards (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers(id),
    payment_system_id TEXT NOT NULL REFERENCES payment_systems(id),
    storage TEXT NOT NULL,
    token TEXT,
    amci_customer TEXT,
    sealed TEXT,
    brand TEXT NOT NULL,
    last4 TEXT NOT NULL,
    exp_month INTEGER,
    exp_year INTEGER,
    created INTEGER NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS cards_customer ON cards(customer_id, deleted);
CREATE INDEX IF NOT EXISTS cards_ps ON cards(payment_system_id, deleted);
CREATE TABLE IF NOT EXISTS transactions (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers(id),
    payment_system_id TEXT,
    operation TEXT NOT NULL,
    parent_id TEXT REFERENCES transactions(id),
    card_id TEXT,
    card_source TEXT,
    card_brand TEXT,
    card_last4 TEXT,
    currency TEXT NOT NULL,
    amount_minor INTEGER,
    amount_captured_minor INTEGER NOT NULL DEFAULT 0,
    amount_refunded_minor INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL,
    description TEXT,
    idempotency_key TEXT NOT NULL UNIQUE,
    request_scope TEXT,
    request_key TEXT,
    request_fingerprint TEXT,
    request_sealed TEXT,
    card_fingerprint TEXT,
    amci_payment TEXT,
    amci_charge TEXT,
    amci_refund TEXT,
    amci_status TEXT,
    error_type TEXT,
    error_code TEXT,
    error_param TEXT,
    decline_code TEXT,
    message TEXT,
    http_status INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS transactions_request
    ON transactions(request_scope, request_key) WHERE request_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS transactions_customer ON transactions(customer_id, created);
CREATE INDEX IF NOT EXISTS transactions_parent ON transactions(parent_id);
CREATE INDEX IF NOT EXISTS transactions_status ON transactions(status);
-- The reconciler's queue: only pending rows, oldest first (partial, so it stays tiny).
CREATE INDEX IF NOT EXISTS transactions_pending ON transactions(created) WHERE status = 'pending';
"""

# A pending payment only the customer can retry: a one-off card (never kept), or a saved
# full_card_except_cvv card deleted since (its number is gone). Token payments keep their token.
_NEEDS_CARD = """
    t.operation IN ('sale', 'authorization') AND (
        t.card_source IS 'one_off'
        OR EXISTS (SELECT 1 FROM cards c
                   WHERE c.id = t.card_id AND c.storage = 'encrypted' AND c.sealed IS NULL)
    )"""

# Append only: a database at version N has had MIGRATIONS[:N] applied. The first is written with
# IF NOT EXISTS because databases from before versioning (user_version 0) already have it.
MIGRATIONS: tuple[str, ...] = (
    SCHEMA,
    auth.SCHEMA,
    # When a pending transaction may be resent (backoff.py); NULL: due since it was created.
    # The reconciler's queue: pending rows in due order (partial, so it stays tiny).
    """
    ALTER TABLE transactions ADD COLUMN next_attempt_at INTEGER;
    CREATE INDEX IF NOT EXISTS transactions_due
        ON transactions(COALESCE(next_attempt_at, created), created) WHERE status = 'pending';
    """,
    # 3D Secure and off-session charges: where the customer authenticates (action_url) and
    # comes back to (return_url), whether the charge was merchant-initiated or saves its card,
    # the authorization's deadline, and AMCI's retryable flag on a refusal. Cards: whether the
    # save finished (status: active, requires_action, failed) and is ready for off-session use.
    """
    ALTER TABLE transactions ADD COLUMN action_url TEXT;
    ALTER TABLE transactions ADD COLUMN return_url TEXT;
    ALTER TABLE transactions ADD COLUMN retryable INTEGER;
    ALTER TABLE transactions ADD COLUMN off_session INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE transactions ADD COLUMN save_card INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE transactions ADD COLUMN capture_before INTEGER;
    ALTER TABLE cards ADD COLUMN status TEXT NOT NULL DEFAULT 'active';
    ALTER TABLE cards ADD COLUMN action_url TEXT;
    ALTER TABLE cards ADD COLUMN off_session_ready INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE cards ADD COLUMN message TEXT;
    """,
    # People: administrators, customers' self-care logins, browser sessions, failed sign-ins,
    # and the audit trail of what administrators did.
    auth.PEOPLE_SCHEMA,
    # AMCI's notifications: each applied once (by id), and per payment in sequence order (the
    # last applied sequence on the payment's transaction); a dispute as the transaction's
    # sub-object.
    """
    CREATE TABLE IF NOT EXISTS amci_notifications (
        id TEXT PRIMARY KEY,
        type TEXT NOT NULL,
        payment TEXT,
        sequence INTEGER NOT NULL,
        applied INTEGER NOT NULL,
        received INTEGER NOT NULL
    );
    ALTER TABLE transactions ADD COLUMN amci_sequence INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE transactions ADD COLUMN dispute_id TEXT;
    ALTER TABLE transactions ADD COLUMN dispute_status TEXT;
    ALTER TABLE transactions ADD COLUMN dispute_reason TEXT;
    ALTER TABLE transactions ADD COLUMN dispute_amount_minor INTEGER;
    CREATE INDEX IF NOT EXISTS transactions_amci_payment ON transactions(amci_payment);
    """,
)

_TABLES = {"payment_systems", "currencies", "customers", "cards", "transactions"}


class StorageError(RuntimeError):
    """The database file can't be used by this version (e.g. made by a newer one)."""


def _statements(script: str) -> list[str]:
    """One SQL statement per element (a statement ends on the line its semicolon ends)."""
    out: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            out.append(buffer.strip())
            buffer = ""
    if any(line.strip() and not line.strip().startswith("--") for line in buffer.splitlines()):
        raise ValueError(f"unterminated SQL statement: {buffer.strip()[:60]}")
    return out


def migrate(conn: sqlite3.Connection) -> int:
    """Bring ``conn``'s schema to ``len(MIGRATIONS)``; returns the version it found."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        found = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if found > len(MIGRATIONS):
            raise StorageError(
                f"the database is at schema version {found}, newer than this billing client "
                f"({len(MIGRATIONS)}); upgrade the billing client"
            )
        for number, script in enumerate(MIGRATIONS[found:], start=found + 1):
            for statement in _statements(script):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return found


class DuplicateRequest(Exception):
    """An insert hit a UNIQUE index: the same request (client Idempotency-Key) already exists."""


class Storage:
    """Async facade over one SQLite file (or ``:memory:``)."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="billing-sqlite")
        self._conn: sqlite3.Connection | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    async def open(self) -> None:
        await self._run(self._open_sync)

    def _open_sync(self) -> None:
        if self._path != ":memory:":
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=5000")
        try:
            migrate(conn)
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    async def close(self) -> None:
        try:
            await self._run(self._close_sync)
        finally:
            self._executor.shutdown(wait=True)

    def _close_sync(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def _run(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("storage is not open")
        return self._conn

    # -- generic helpers (table and column names come from this module's callers, never input) --

    async def ping(self) -> bool:
        return await self._run(lambda: self._db().execute("SELECT 1").fetchone() is not None)

    async def insert(self, table: str, row: Row) -> None:
        assert table in _TABLES
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        sql = f"INSERT INTO {table} ({cols}) VALUES ({marks})"  # noqa: S608 - names are ours

        def run() -> None:
            try:
                self._db().execute(sql, tuple(row.values()))
            except sqlite3.IntegrityError as exc:
                raise DuplicateRequest(str(exc)) from exc

        await self._run(run)

    async def update(self, table: str, key_col: str, key: str, fields: Row) -> None:
        assert table in _TABLES
        if not fields:
            return
        sets = ", ".join(f"{col} = ?" for col in fields)
        sql = f"UPDATE {table} SET {sets} WHERE {key_col} = ?"  # noqa: S608 - names are ours
        await self._run(lambda: self._db().execute(sql, (*fields.values(), key)))

    async def fetch_one(self, sql: str, args: Sequence[Any] = ()) -> Row | None:
        def run() -> Row | None:
            found = self._db().execute(sql, tuple(args)).fetchone()
            return dict(found) if found is not None else None

        return await self._run(run)

    async def fetch_all(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        return await self._run(
            lambda: [dict(r) for r in self._db().execute(sql, tuple(args)).fetchall()]
        )

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        return await self._run(lambda: self._db().execute(sql, tuple(args)).rowcount)

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

    async def due_transactions(self, now: int, limit: int) -> list[Row]:
        """Pending transactions the billing client can resend by itself and that are due at
        ``now``, the longest-due first (a row that keeps failing is pushed back by its backoff,
        so it can't hold the head of the queue).

        INDEXED BY pins the partial index (only pending rows, already in due order): without
        statistics SQLite might pick ``transactions_status`` and sort in a temp b-tree, and if
        the index were ever missing the query fails loudly instead of scanning."""
        return await self.fetch_all(
            "SELECT t.* FROM transactions t INDEXED BY transactions_due "  # noqa: S608 - ours
            "WHERE t.status = 'pending' AND COALESCE(t.next_attempt_at, t.created) <= ? "
            f"AND NOT ({_NEEDS_CARD}) "
            "ORDER BY COALESCE(t.next_attempt_at, t.created), t.created, t.rowid LIMIT ?",
            (now, limit),
        )

    async def pending_created_before(self, before: int, limit: int) -> list[Row]:
        """Pending transactions created before ``before`` (any kind), oldest first."""
        return await self.fetch_all(
            "SELECT * FROM transactions INDEXED BY transactions_pending "
            "WHERE status = 'pending' AND created < ? ORDER BY created, rowid LIMIT ?",
            (before, limit),
        )

    async def count_pending_needing_card(self) -> int:
        found = await self.fetch_one(
            "SELECT COUNT(*) AS n FROM transactions t INDEXED BY transactions_pending "  # noqa: S608
            f"WHERE t.status = 'pending' AND {_NEEDS_CARD}"
        )
        return int(found["n"]) if found else 0
