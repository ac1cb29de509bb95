"""``Store`` on PostgreSQL (asyncpg): the shared store of any number of AMCI replicas.

The idempotency claim is a real cross-process claim: ``INSERT … ON CONFLICT DO NOTHING`` on the
(scope, key) primary key, so of concurrent duplicates on any replicas exactly one inserts and
goes upstream; the others read the row and answer 409 (in flight) or replay the result.

A key left in flight by a replica that died (``kill -9``, a lost host) is taken over, safely:

- each replica holds a session-level advisory lock named after its owner id on one dedicated
  connection for as long as it lives; PostgreSQL releases it when that connection ends, which
  happens at once when the process dies (the kernel closes its socket) and, for a vanished host,
  after the TCP keepalive probes set on that connection (about 25 s);
- another replica finding the key in flight tries that lock inside its takeover ``UPDATE``
  (``pg_try_advisory_xact_lock``): taken → the owner is gone; the ``UPDATE`` also compares the
  old owner, so of two replicas racing to take over only one wins;
- a claim older than ``IN_FLIGHT_STALE_SECONDS`` is taken over even if its owner looks alive.

The new owner resends the request under the same upstream idempotency key (derived from the
request), so Stripe returns the first attempt's result instead of charging twice
(docs.stripe.com/api/idempotent_requests).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, ParamSpec, TypeVar

import asyncpg

from amci.errors import StoreUnavailable
from amci.store import migrations
from amci.store.base import (
    IN_FLIGHT_STALE_SECONDS,
    CardRecord,
    Claim,
    ClaimResult,
    PaymentRecord,
    Records,
)
from amci.store.postgres_notifications import PostgresNotifications

# pg_advisory_xact_lock key serialising migrations across replicas starting together.
_MIGRATION_LOCK = 0x414D4349  # "AMCI"
# hashtextextended seed for owner liveness locks (any constant; all replicas use the same).
_OWNER_SEED = 0x6F776E6572  # "owner"
POOL_SIZE = 10
# Server-side keepalives on the liveness connection: a replica whose host vanished without
# closing its socket is seen as gone after idle + interval × count seconds.
_KEEPALIVES = {"tcp_keepalives_idle": "10", "tcp_keepalives_interval": "5",
               "tcp_keepalives_count": "3"}

_FINISH = (
    "UPDATE idempotency SET state = 'done', status = $1, body = $2 WHERE scope = $3 AND key = $4"
)
_ABANDON = "DELETE FROM idempotency WHERE scope = $1 AND key = $2 AND state = 'in_flight'"
_PUT_CARD = (
    "INSERT INTO cards (scope, token, customer, brand, last4, exp_month, exp_year, livemode, "
    "created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
    "ON CONFLICT (scope, token) DO UPDATE SET customer = excluded.customer"
)
_PUT_PAYMENT = (
    "INSERT INTO payments (scope, id, currency, amount_minor, capture, status, reference, "
    "livemode, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
    "ON CONFLICT (scope, id) DO UPDATE SET status = excluded.status, "
    "updated_at = excluded.updated_at"
)
_CLAIM = (
    "INSERT INTO idempotency (scope, key, request_hash, state, owner, created_at, claimed_at) "
    "VALUES ($1, $2, $3, 'in_flight', $4, $5, $5) ON CONFLICT (scope, key) DO NOTHING"
)
_TAKE_OVER = (
    "UPDATE idempotency SET owner = $3, claimed_at = $4 "
    "WHERE scope = $1 AND key = $2 AND state = 'in_flight' AND owner = $5 "
    "AND (claimed_at < $6 OR pg_try_advisory_xact_lock(hashtextextended(owner, $7)))"
)


# The shared GCRA (virtual scheduling): a call may start at t if t >= tat - tolerance in every
# bucket; booking it moves each bucket's tat to max(tat, t) + emission. No burst here
# (tolerance 0). One statement: lock the buckets in name order (FOR UPDATE; a fixed order, so
# two reservations never deadlock), read the database server's clock after the locks (one clock
# for every replica, whatever their hosts' clocks say), book, and return the slot — or nothing
# when the slot is more than $3 seconds away.
_BOOK_SLOT = """
WITH cur AS (
    SELECT r.bucket, r.tat, w.emission
    FROM rate_limits r JOIN unnest($1::text[], $2::float8[]) AS w(bucket, emission)
        USING (bucket)
    ORDER BY r.bucket
    FOR UPDATE OF r
), seen AS (
    SELECT max(extract(epoch FROM clock_timestamp())::float8) AS now, max(cur.tat) AS tat,
           count(*) AS n
    FROM cur
), slot AS (
    SELECT greatest(seen.now, seen.tat) AS t, seen.now, seen.n FROM seen
)
UPDATE rate_limits r SET tat = greatest(cur.tat, slot.t) + cur.emission
FROM cur, slot
WHERE r.bucket = cur.bucket AND slot.n = cardinality($1::text[]) AND slot.t - slot.now <= $3
RETURNING slot.t, slot.now
"""
_ENSURE_BUCKETS = (
    "INSERT INTO rate_limits (bucket, tat) SELECT unnest($1::text[]), 0 "
    "ON CONFLICT (bucket) DO NOTHING"
)


# The database can't be reached or went away mid-statement (connection refused or reset,
# server shutting down, pool connection lost): the caller gets a 503 to retry, not a 500.
_UNREACHABLE = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,
)
_P = ParamSpec("_P")
_R = TypeVar("_R")


def _translated(
    method: Callable[_P, Coroutine[Any, Any, _R]],
) -> Callable[_P, Coroutine[Any, Any, _R]]:
    @functools.wraps(method)
    async def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return await method(*args, **kwargs)
        except _UNREACHABLE as exc:
            raise StoreUnavailable() from exc

    return wrapper


def _card_row(scope: str, card: CardRecord, now: float) -> tuple[Any, ...]:
    return (scope, card.token, card.customer, card.brand, card.last4, card.exp_month,
            card.exp_year, card.livemode, now)


def _payment_row(scope: str, payment: PaymentRecord, now: float) -> tuple[Any, ...]:
    return (scope, payment.id, payment.currency, payment.amount_minor, payment.capture,
            payment.status, payment.reference, payment.livemode, now, now)


def _count(status: str) -> int:
    """asyncpg's command tag ("INSERT 0 1", "DELETE 3") → the row count."""
    return int(status.rsplit(" ", 1)[-1])


class PostgresStore:
    """``Store`` on a connection pool; ``open`` migrates, then connects."""

    def __init__(self, url: str, pool: asyncpg.Pool, liveness: asyncpg.Connection) -> None:
        self._url = url
        self._pool = pool
        self._liveness = liveness
        self._live_owners: set[str] = set()
        self._owner_lock = asyncio.Lock()
        self._known_buckets: set[str] = set()
        self.notifications = PostgresNotifications(pool)

    @classmethod
    async def open(cls, url: str) -> PostgresStore:
        conn = await asyncpg.connect(url, server_settings={"application_name": "amci"})
        try:
            await migrate(conn)
        finally:
            await conn.close()
        liveness = await _connect_liveness(url)
        try:
            pool = await asyncpg.create_pool(
                url, min_size=1, max_size=POOL_SIZE,
                server_settings={"application_name": "amci"},
            )
        except BaseException:
            await liveness.close()
            raise
        return cls(url, pool, liveness)

    @property
    def pool(self) -> asyncpg.Pool:
        return self._pool

    async def _hold_owner(self, owner: str) -> None:
        """Hold ``owner``'s liveness lock for as long as this store is open. If the liveness
        connection was lost (a database restart, a network cut), the other replicas may already
        have taken this one's keys over (safe: same upstream keys); connect again and take
        the lock again before claiming anything more."""
        if owner in self._live_owners and not self._liveness.is_closed():
            return
        async with self._owner_lock:
            if self._liveness.is_closed():
                self._live_owners.clear()
                self._liveness = await _connect_liveness(self._url)
            if owner in self._live_owners:
                return
            held = await self._liveness.fetchval(
                "SELECT pg_try_advisory_lock(hashtextextended($1, $2))", owner, _OWNER_SEED
            )
            if not held:
                raise RuntimeError("another live process uses this AMCI instance id")
            self._live_owners.add(owner)

    @_translated
    async def claim(
        self, scope: str, key: str, request_hash: str, owner: str, now: float
    ) -> ClaimResult:
        await self._hold_owner(owner)
        async with self._pool.acquire() as conn:
            while True:
                if _count(await conn.execute(_CLAIM, scope, key, request_hash, owner, now)):
                    return ClaimResult(Claim.STARTED)
                row = await conn.fetchrow(
                    "SELECT request_hash, state, owner, status, body FROM idempotency "
                    "WHERE scope = $1 AND key = $2",
                    scope, key,
                )
                if row is None:  # pruned or abandoned between the two statements: try again
                    continue
                if row["request_hash"] != request_hash:
                    return ClaimResult(Claim.MISMATCH)
                if row["state"] == "done":
                    return ClaimResult(Claim.REPLAY, int(row["status"]), bytes(row["body"]))
                # Ours or another live replica's: only if stale. Our own lock can't be taken
                # from a pool connection, so our keys look alive to us too.
                taken = await conn.execute(
                    _TAKE_OVER, scope, key, owner, now, row["owner"],
                    now - IN_FLIGHT_STALE_SECONDS, _OWNER_SEED,
                )
                return ClaimResult(Claim.STARTED if _count(taken) else Claim.IN_FLIGHT)

    @_translated
    async def finish(
        self, scope: str, key: str, status: int, body: bytes, records: Records | None = None
    ) -> None:
        """The result and the request's records, in one transaction."""
        await self._write(_FINISH, (status, body, scope, key), records)

    @_translated
    async def abandon(self, scope: str, key: str, records: Records | None = None) -> None:
        await self._write(_ABANDON, (scope, key), records)

    @_translated
    async def save(self, records: Records) -> None:
        if records:
            await self._write(None, (), records)

    async def _write(self, sql: str | None, args: tuple[Any, ...],
                     records: Records | None) -> None:
        async with self._pool.acquire() as conn:
            if not records:
                if sql is not None:
                    await conn.execute(sql, *args)
                return
            async with conn.transaction():
                if sql is not None:
                    await conn.execute(sql, *args)
                now, scope = records.now, records.scope
                if records.cards:
                    await conn.executemany(
                        _PUT_CARD, [_card_row(scope, c, now) for c in records.cards])
                if records.payments:
                    await conn.executemany(
                        _PUT_PAYMENT, [_payment_row(scope, p, now) for p in records.payments])

    async def prune(self, older_than: float) -> int:
        """Best effort: with the database unreachable, nothing now; the next pass retries."""
        try:
            return _count(await self._pool.execute(
                "DELETE FROM idempotency WHERE created_at < $1 AND state = 'done'", older_than))
        except _UNREACHABLE:
            return 0

    @_translated
    async def put_card(self, scope: str, card: CardRecord, now: float) -> None:
        await self._pool.execute(_PUT_CARD, *_card_row(scope, card, now))

    @_translated
    async def card(self, scope: str, token: str) -> CardRecord | None:
        row = await self._pool.fetchrow(
            "SELECT token, customer, brand, last4, exp_month, exp_year, livemode FROM cards "
            "WHERE scope = $1 AND token = $2",
            scope, token,
        )
        if row is None:
            return None
        return CardRecord(row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6]))

    @_translated
    async def forget_card(self, scope: str, token: str) -> None:
        await self._pool.execute("DELETE FROM cards WHERE scope = $1 AND token = $2", scope, token)

    @_translated
    async def put_payment(self, scope: str, payment: PaymentRecord, now: float) -> None:
        await self._pool.execute(_PUT_PAYMENT, *_payment_row(scope, payment, now))

    @_translated
    async def payment(self, scope: str, payment_id: str) -> PaymentRecord | None:
        row = await self._pool.fetchrow(
            "SELECT id, currency, amount_minor, capture, status, reference, livemode "
            "FROM payments WHERE scope = $1 AND id = $2",
            scope, payment_id,
        )
        if row is None:
            return None
        return PaymentRecord(row[0], row[1], int(row[2]), bool(row[3]), row[4], row[5],
                             bool(row[6]))

    async def book_slot(
        self, buckets: Sequence[tuple[str, float]], max_wait: float
    ) -> float | None:
        """One call booked in every bucket (``amci.limiter.SlotBook``)."""
        booked = await self.book_slot_at(buckets, max_wait)
        return None if booked is None else max(0.0, booked[0] - booked[1])

    @_translated
    async def book_slot_at(
        self, buckets: Sequence[tuple[str, float]], max_wait: float
    ) -> tuple[float, float] | None:
        """``book_slot`` on the database server's clock: (the slot, the time it was booked)."""
        names = [name for name, _ in buckets]
        emissions = [emission for _, emission in buckets]
        if not self._known_buckets.issuperset(names):
            await self._pool.execute(_ENSURE_BUCKETS, names)
            self._known_buckets.update(names)
        row = await self._pool.fetchrow(_BOOK_SLOT, names, emissions, max_wait)
        if row is None:
            # Beyond max_wait — or the buckets are gone (an UNLOGGED table is emptied by a
            # database crash): recreate them once and ask again.
            await self._pool.execute(_ENSURE_BUCKETS, names)
            row = await self._pool.fetchrow(_BOOK_SLOT, names, emissions, max_wait)
            if row is None:
                return None
        return float(row[0]), float(row[1])

    async def schema_version(self) -> int:
        return int(await self._pool.fetchval(
            "SELECT COALESCE(MAX(version), 0) FROM schema_version"))

    @_translated
    async def ping(self) -> None:
        await self._pool.fetchval("SELECT 1")

    async def close(self) -> None:
        await self._pool.close()
        await self._liveness.close()  # releases the owner locks: our in-flight keys are free


async def _connect_liveness(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(
        url, server_settings={"application_name": "amci-liveness", **_KEEPALIVES})


async def migrate(conn: asyncpg.Connection) -> None:
    """Apply the pending migrations in one transaction, under an advisory lock so replicas
    starting together apply each migration once."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
            "name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        current = int(await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_version"))
        for migration in migrations.load("postgres"):
            if migration.version <= current:
                continue
            for statement in migration.statements():
                await conn.execute(statement)
            await conn.execute("INSERT INTO schema_version (version, name) VALUES ($1, $2)",
                               migration.version, migration.name)
