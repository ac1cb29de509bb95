"""The billing client's store on SQLite: one file, one billing-client process.

SQLite runs in WAL mode on one dedicated thread, so every statement is serialised without locks
in the event loop and the loop never blocks on disk.

The schema is versioned (SQLite's ``user_version``): ``MIGRATIONS`` are applied in order at
``open``, each once, inside one ``BEGIN IMMEDIATE`` transaction so two processes opening the same
file (``serve`` and ``create-token``) never both apply one. A file from a newer version is
refused rather than guessed at. ``postgres_schema.MIGRATIONS`` mirrors every entry (same
number, same tables and columns; a test compares them).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from billing_client import auth
from billing_client.storage.common import DuplicateRequest, Row, StorageError

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
    # Several billing-client processes: a reconciler takes due rows for a while (its lease)
    # so another one's pass leaves them alone (``Storage.take_due``).
    """
    ALTER TABLE transactions ADD COLUMN reconcile_until INTEGER;
    """,
)


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


class SqliteBackend:
    """Generic statements on one SQLite file (or ``:memory:``), ``?`` placeholders."""

    backend = "sqlite"

    def __init__(self, path: str) -> None:
        self._path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="billing-sqlite")
        self._conn: sqlite3.Connection | None = None

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

    async def schema_version(self) -> int:
        return await self._run(
            lambda: int(self._db().execute("PRAGMA user_version").fetchone()[0]))

    async def insert(self, sql: str, args: Sequence[Any]) -> None:
        def run() -> None:
            try:
                self._db().execute(sql, tuple(args))
            except sqlite3.IntegrityError as exc:
                raise DuplicateRequest(str(exc)) from exc

        await self._run(run)

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

    async def claim_rows(
        self, select: str, args: Sequence[Any], table: str, sets: Row
    ) -> list[Row]:
        """``select``'s rows, each updated with ``sets`` before any other statement runs (one
        thread runs every statement of this file, and one process uses it)."""
        assignments = ", ".join(f"{col} = ?" for col in sets)
        update = f"UPDATE {table} SET {assignments} WHERE id = ?"  # noqa: S608 - names are ours

        def run() -> list[Row]:
            db = self._db()
            rows = [dict(r) for r in db.execute(select, tuple(args)).fetchall()]
            for row in rows:
                db.execute(update, (*sets.values(), row["id"]))
                row.update(sets)
            return rows

        return await self._run(run)

    async def try_lock(self, key: str) -> bool:
        """One process per file: the in-process guard (``Context.exclusive``) is the lock."""
        return True

    async def unlock(self, key: str) -> None:
        return None
