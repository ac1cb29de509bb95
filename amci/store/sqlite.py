"""``Store`` on SQLite (stdlib ``sqlite3``, WAL, indexed): the default, one AMCI process per file.

Why the SQLite calls run on the event loop thread: every statement is one short indexed
read/write on a local file (tens of microseconds with WAL and ``synchronous=NORMAL``), cheaper than
a thread hop, and running them between awaits makes the idempotency claim atomic within the
process for free. ``synchronous=NORMAL`` in WAL mode survives a process crash (what a restart in
the middle of retries needs); a power loss could drop the last commits.

One process per file, enforced (``StoreInUse``): a key left in flight by another owner was left
by a previous process (a crash or restart mid-request), so it is taken over at once. Several
AMCI processes share state through PostgreSQL (``amci.store.postgres``), not one SQLite file.
"""

from __future__ import annotations

import contextlib
import fcntl
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from amci.store import migrations
from amci.store.base import (
    IN_FLIGHT_STALE_SECONDS,
    CardRecord,
    Claim,
    ClaimResult,
    PaymentRecord,
    Records,
)
from amci.store.notifications import SqliteNotifications

_FINISH = (
    "UPDATE idempotency SET state = 'done', status = ?, body = ? WHERE scope = ? AND key = ?"
)
_ABANDON = "DELETE FROM idempotency WHERE scope = ? AND key = ? AND state = 'in_flight'"
_PUT_CARD = (
    "INSERT INTO cards (scope, token, customer, brand, last4, exp_month, exp_year, livemode, "
    "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (scope, token) DO UPDATE SET customer = excluded.customer"
)
_PUT_PAYMENT = (
    "INSERT INTO payments (scope, id, currency, amount_minor, capture, status, reference, "
    "livemode, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (scope, id) DO UPDATE SET status = excluded.status, "
    "updated_at = excluded.updated_at"
)


def _card_row(scope: str, card: CardRecord, now: float) -> tuple[object, ...]:
    return (scope, card.token, card.customer, card.brand, card.last4, card.exp_month,
            card.exp_year, int(card.livemode), now)


def _payment_row(scope: str, payment: PaymentRecord, now: float) -> tuple[object, ...]:
    return (scope, payment.id, payment.currency, payment.amount_minor, int(payment.capture),
            payment.status, payment.reference, int(payment.livemode), now, now)


class SqliteStore:
    """``Store`` on one SQLite connection (one AMCI process per database file)."""

    def __init__(self, path: str) -> None:
        self._lock: BinaryIO | None = None
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._lock = _hold(path)
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        migrate(self._db)
        self.notifications = SqliteNotifications(self._db)

    async def claim(
        self, scope: str, key: str, request_hash: str, owner: str, now: float
    ) -> ClaimResult:
        db = self._db
        inserted = db.execute(
            "INSERT INTO idempotency (scope, key, request_hash, state, owner, created_at, "
            "claimed_at) VALUES (?, ?, ?, 'in_flight', ?, ?, ?) "
            "ON CONFLICT (scope, key) DO NOTHING",
            (scope, key, request_hash, owner, now, now),
        ).rowcount
        if inserted:
            return ClaimResult(Claim.STARTED)
        row = db.execute(
            "SELECT request_hash, state, owner, status, body, COALESCE(claimed_at, created_at) "
            "FROM idempotency WHERE scope = ? AND key = ?",
            (scope, key),
        ).fetchone()
        if row is None:  # pruned between the two statements: try again
            return await self.claim(scope, key, request_hash, owner, now)
        stored_hash, state, stored_owner, status, body, claimed_at = row
        if stored_hash != request_hash:
            return ClaimResult(Claim.MISMATCH)
        if state == "done":
            return ClaimResult(Claim.REPLAY, int(status), bytes(body))
        if stored_owner != owner or claimed_at < now - IN_FLIGHT_STALE_SECONDS:
            # Left in flight by a previous AMCI process (crash or restart mid-request), or hung:
            # take it over. The upstream key is derived from the same inputs, so Stripe dedupes
            # whatever the first attempt managed to do.
            db.execute(
                "UPDATE idempotency SET owner = ?, claimed_at = ? WHERE scope = ? AND key = ?",
                (owner, now, scope, key),
            )
            return ClaimResult(Claim.STARTED)
        return ClaimResult(Claim.IN_FLIGHT)

    async def finish(
        self, scope: str, key: str, status: int, body: bytes, records: Records | None = None
    ) -> None:
        """The result and the request's records, in one transaction."""
        with self._transaction(records):
            self._db.execute(_FINISH, (status, body, scope, key))

    async def abandon(self, scope: str, key: str, records: Records | None = None) -> None:
        with self._transaction(records):
            self._db.execute(_ABANDON, (scope, key))

    async def save(self, records: Records) -> None:
        with self._transaction(records):
            pass

    @contextlib.contextmanager
    def _transaction(self, records: Records | None) -> Iterator[None]:
        """The body's statement, then the records, committed together. With no records there
        is one statement, and autocommit makes it its own transaction: no BEGIN/COMMIT."""
        if not records:
            yield
            return
        db = self._db
        db.execute("BEGIN")
        try:
            yield
            now, scope = records.now, records.scope
            for card in records.cards:
                db.execute(_PUT_CARD, _card_row(scope, card, now))
            for payment in records.payments:
                db.execute(_PUT_PAYMENT, _payment_row(scope, payment, now))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    async def prune(self, older_than: float) -> int:
        return self._db.execute(
            "DELETE FROM idempotency WHERE created_at < ? AND state = 'done'", (older_than,)
        ).rowcount

    async def put_card(self, scope: str, card: CardRecord, now: float) -> None:
        self._db.execute(_PUT_CARD, _card_row(scope, card, now))

    async def card(self, scope: str, token: str) -> CardRecord | None:
        row = self._db.execute(
            "SELECT token, customer, brand, last4, exp_month, exp_year, livemode FROM cards "
            "WHERE scope = ? AND token = ?",
            (scope, token),
        ).fetchone()
        if row is None:
            return None
        return CardRecord(row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6]))

    async def forget_card(self, scope: str, token: str) -> None:
        self._db.execute("DELETE FROM cards WHERE scope = ? AND token = ?", (scope, token))

    async def put_payment(self, scope: str, payment: PaymentRecord, now: float) -> None:
        self._db.execute(_PUT_PAYMENT, _payment_row(scope, payment, now))

    async def payment(self, scope: str, payment_id: str) -> PaymentRecord | None:
        row = self._db.execute(
            "SELECT id, currency, amount_minor, capture, status, reference, livemode "
            "FROM payments WHERE scope = ? AND id = ?",
            (scope, payment_id),
        ).fetchone()
        if row is None:
            return None
        return PaymentRecord(row[0], row[1], row[2], bool(row[3]), row[4], row[5], bool(row[6]))

    async def schema_version(self) -> int:
        return _version(self._db)

    async def ping(self) -> None:
        self._db.execute("SELECT 1").fetchone()

    async def close(self) -> None:
        self._db.close()
        if self._lock is not None:
            self._lock.close()  # releases the process's lock


class StoreInUse(RuntimeError):
    """Another process has this SQLite file open as its store."""


def _hold(path: str) -> BinaryIO:
    """One AMCI process per file: a second one would not share the first one's claims (both
    would call Stripe for the same duplicates). A POSIX lock on ``<path>.lock`` — not on the
    database file, whose locks SQLite manages — held for the store's life; the kernel drops it
    when the process ends, even by ``kill -9``. POSIX locks belong to the process, so stores
    opened twice in one process (tests, a restart in place) don't conflict."""
    lock = Path(path + ".lock").open("ab")
    try:
        fcntl.lockf(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.close()
        raise StoreInUse(
            f"{path}: another AMCI process uses this SQLite file. Several AMCI processes share "
            "a PostgreSQL store (--store postgresql://…), not a SQLite file."
        ) from None
    return lock


def _version(db: sqlite3.Connection) -> int:
    row = db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
    return int(row[0])


def migrate(db: sqlite3.Connection) -> None:
    """Apply the pending migrations, each in its own transaction with its ``schema_version``
    row. ``BEGIN IMMEDIATE`` takes the write lock first, so two processes starting on one file
    don't apply a migration twice."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
        "name TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
    )
    for migration in migrations.load("sqlite"):
        db.execute("BEGIN IMMEDIATE")
        try:
            if _version(db) < migration.version:
                for statement in migration.statements():
                    db.execute(statement)
                db.execute(
                    "INSERT INTO schema_version (version, name) VALUES (?, ?)",
                    (migration.version, migration.name),
                )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
