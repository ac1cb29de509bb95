"""AMCI's records: idempotency results, saved cards (token → customer) and payments.

A small async interface (``Store``) so PostgreSQL can join later without touching handlers, and
the SQLite implementation used by default (stdlib ``sqlite3``, WAL, indexed).

Why the SQLite calls run on the event loop thread: every statement is one short indexed
read/write on a local file (tens of microseconds with WAL and ``synchronous=NORMAL``), cheaper than
a thread hop, and running them between awaits makes the idempotency claim atomic within the
process for free. ``synchronous=NORMAL`` in WAL mode survives a process crash (what a restart in
the middle of retries needs); a power loss could drop the last commits.

Nothing secret is stored: no card number, no CVC, no API key; request bodies only as an HMAC
keyed by the caller's API key (see ``auth.ApiKey.mac``).
"""

from __future__ import annotations

import contextlib
import enum
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from amci.notify_store import SqliteNotifications


class Claim(enum.Enum):
    STARTED = "started"  # the caller owns the key now and must finish or abandon it
    REPLAY = "replay"  # a finished result exists for the same request
    MISMATCH = "mismatch"  # the key was used with other parameters
    IN_FLIGHT = "in_flight"  # another request holds the key right now


@dataclass(frozen=True, slots=True)
class ClaimResult:
    claim: Claim
    status: int = 0
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class CardRecord:
    token: str
    customer: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    livemode: bool


@dataclass(frozen=True, slots=True)
class PaymentRecord:
    id: str
    currency: str
    amount_minor: int
    capture: bool
    status: str
    reference: str | None
    livemode: bool


@dataclass(slots=True)
class Records:
    """The records one request's work produced, in one scope. They are written in the same
    transaction as the request's idempotent result (``finish``/``abandon``), or on their own
    (``save``) when the request has no ``Idempotency-Key``: one commit per request instead of
    one per record. ``now``: the request's wall-clock time, for created/updated columns."""

    scope: str
    now: float
    cards: list[CardRecord] = field(default_factory=list)
    payments: list[PaymentRecord] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.cards or self.payments)


class Store(Protocol):
    notifications: SqliteNotifications

    async def claim(
        self, scope: str, key: str, request_hash: str, owner: str, now: float
    ) -> ClaimResult: ...

    async def finish(
        self, scope: str, key: str, status: int, body: bytes, records: Records | None = None
    ) -> None: ...

    async def abandon(self, scope: str, key: str, records: Records | None = None) -> None: ...

    async def save(self, records: Records) -> None: ...

    async def prune(self, older_than: float) -> int: ...

    async def put_card(self, scope: str, card: CardRecord, now: float) -> None: ...

    async def card(self, scope: str, token: str) -> CardRecord | None: ...

    async def forget_card(self, scope: str, token: str) -> None: ...

    async def put_payment(self, scope: str, payment: PaymentRecord, now: float) -> None: ...

    async def payment(self, scope: str, payment_id: str) -> PaymentRecord | None: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS idempotency (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('in_flight', 'done')),
    owner TEXT NOT NULL,
    status INTEGER,
    body BLOB,
    created_at REAL NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX IF NOT EXISTS idempotency_created ON idempotency (created_at);
CREATE TABLE IF NOT EXISTS cards (
    scope TEXT NOT NULL,
    token TEXT NOT NULL,
    customer TEXT NOT NULL,
    brand TEXT NOT NULL,
    last4 TEXT NOT NULL,
    exp_month INTEGER NOT NULL,
    exp_year INTEGER NOT NULL,
    livemode INTEGER NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (scope, token)
);
CREATE TABLE IF NOT EXISTS payments (
    scope TEXT NOT NULL,
    id TEXT NOT NULL,
    currency TEXT NOT NULL,
    amount_minor INTEGER NOT NULL,
    capture INTEGER NOT NULL,
    status TEXT NOT NULL,
    reference TEXT,
    livemode INTEGER NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (scope, id)
);
"""


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
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)
        self.notifications = SqliteNotifications(self._db)

    async def claim(
        self, scope: str, key: str, request_hash: str, owner: str, now: float
    ) -> ClaimResult:
        db = self._db
        inserted = db.execute(
            "INSERT INTO idempotency (scope, key, request_hash, state, owner, created_at) "
            "VALUES (?, ?, ?, 'in_flight', ?, ?) ON CONFLICT (scope, key) DO NOTHING",
            (scope, key, request_hash, owner, now),
        ).rowcount
        if inserted:
            return ClaimResult(Claim.STARTED)
        row = db.execute(
            "SELECT request_hash, state, owner, status, body FROM idempotency "
            "WHERE scope = ? AND key = ?",
            (scope, key),
        ).fetchone()
        if row is None:  # pruned between the two statements: try again
            return await self.claim(scope, key, request_hash, owner, now)
        stored_hash, state, stored_owner, status, body = row
        if stored_hash != request_hash:
            return ClaimResult(Claim.MISMATCH)
        if state == "done":
            return ClaimResult(Claim.REPLAY, int(status), bytes(body))
        if stored_owner != owner:
            # Left in flight by a previous AMCI process (crash or restart mid-request): take it
            # over. The upstream key is derived from the same inputs, so Stripe dedupes whatever
            # the first attempt managed to do.
            db.execute(
                "UPDATE idempotency SET owner = ? WHERE scope = ? AND key = ?",
                (owner, scope, key),
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

    async def ping(self) -> None:
        self._db.execute("SELECT 1").fetchone()

    async def close(self) -> None:
        self._db.close()
