"""The billing client's store on PostgreSQL (asyncpg): shared by any number of billing-client
processes.

The use cases write their SQL once, with SQLite's ``?`` placeholders; this backend numbers them
(``$1``, ``$2``…) for PostgreSQL. Flags are stored as 0/1 BIGINTs, as SQLite keeps them, so a
``True`` argument is sent as 1.

Two things SQLite gets for free from "one process per file" are made explicit here:

- ``try_lock``/``unlock``: one in-flight operation per transaction across processes. A
  session-level advisory lock per key, held on one dedicated connection of this process; if
  the process dies its connection closes and PostgreSQL releases its locks at once.
- ``claim_rows``: the reconciler's batch taken with ``FOR UPDATE SKIP LOCKED`` and leased in the
  same statement, so two reconcilers never take the same due rows.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, ParamSpec, TypeVar

import asyncpg

from billing_client.errors import StorageUnavailable
from billing_client.storage import postgres_schema
from billing_client.storage.common import DuplicateRequest, Row, StorageError

# pg_advisory_xact_lock key serialising migrations across processes starting together.
_MIGRATION_LOCK = 0x42494C4C  # "BILL"
# hashtextextended seed for the per-transaction locks (any constant, the same in every process).
_LOCK_SEED = 0x62696C6C696E67  # "billing"
POOL_SIZE = 10
_KEEPALIVES = {"tcp_keepalives_idle": "10", "tcp_keepalives_interval": "5",
               "tcp_keepalives_count": "3"}

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
    """The database unreachable → ``StorageUnavailable`` (503, retry), not a 500."""

    @functools.wraps(method)
    async def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return await method(*args, **kwargs)
        except _UNREACHABLE as exc:
            raise StorageUnavailable() from exc

    return wrapper


_TOKEN = re.compile(r"'(?:[^']|'')*'|\?|\bLIKE\b", re.IGNORECASE)


@functools.lru_cache(maxsize=512)
def numbered(sql: str) -> str:
    """SQLite's dialect as the use cases write it → PostgreSQL's: ``?`` placeholders become
    ``$1``, ``$2``…, and ``LIKE`` (case-insensitive for ASCII in SQLite) becomes ``ILIKE``;
    string literals are left alone."""
    counter = iter(range(1, 10_000))

    def sub(match: re.Match[str]) -> str:
        found = match[0]
        if found == "?":
            return f"${next(counter)}"
        if found.upper() == "LIKE":
            return "ILIKE"
        return found

    return _TOKEN.sub(sub, sql)


def _args(args: Sequence[Any]) -> list[Any]:
    return [int(a) if isinstance(a, bool) else a for a in args]


def _count(status: str) -> int:
    """asyncpg's command tag ("INSERT 0 1", "DELETE 3", "SELECT 2") → the row count."""
    tail = status.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 0


class PostgresBackend:
    """Generic statements on a connection pool; ``open`` migrates, then connects."""

    backend = "postgresql"

    def __init__(self, url: str) -> None:
        self._url = url
        self._pool: asyncpg.Pool | None = None
        self._locks: asyncpg.Connection | None = None
        self._locks_guard = asyncio.Lock()

    async def open(self) -> None:
        try:
            conn = await asyncpg.connect(self._url, server_settings=_app("billing-client"))
        except _UNREACHABLE as exc:
            raise StorageError(f"cannot connect to PostgreSQL: {type(exc).__name__}") from None
        try:
            await migrate(conn)
        finally:
            await conn.close()
        self._pool = await asyncpg.create_pool(
            self._url, min_size=1, max_size=POOL_SIZE, server_settings=_app("billing-client")
        )

    async def close(self) -> None:
        if self._locks is not None:
            await self._locks.close()  # releases this process's transaction locks
            self._locks = None
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    def _db(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("storage is not open")
        return self._pool

    @_translated
    async def schema_version(self) -> int:
        return int(await self._db().fetchval(
            "SELECT COALESCE(MAX(version), 0) FROM billing_schema_version"))

    @_translated
    async def insert(self, sql: str, args: Sequence[Any]) -> None:
        try:
            await self._db().execute(numbered(sql), *_args(args))
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise DuplicateRequest(str(exc)) from exc

    @_translated
    async def fetch_one(self, sql: str, args: Sequence[Any] = ()) -> Row | None:
        found = await self._db().fetchrow(numbered(sql), *_args(args))
        return dict(found) if found is not None else None

    @_translated
    async def fetch_all(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        return [dict(r) for r in await self._db().fetch(numbered(sql), *_args(args))]

    @_translated
    async def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        return _count(await self._db().execute(numbered(sql), *_args(args)))

    @_translated
    async def claim_rows(
        self, select: str, args: Sequence[Any], table: str, sets: Row
    ) -> list[Row]:
        """``select``'s rows (it ends ``FOR UPDATE … SKIP LOCKED``: rows another process is
        taking right now are skipped, not waited for), updated with ``sets`` in the same
        transaction; in ``select``'s order."""
        assignments = ", ".join(f"{col} = ${i}" for i, col in enumerate(sets, start=1))
        update = f"UPDATE {table} SET {assignments} WHERE id = ANY(${len(sets) + 1})"  # noqa: S608
        async with self._db().acquire() as conn, conn.transaction():
            rows = [dict(r) for r in await conn.fetch(numbered(select), *_args(args))]
            if rows:
                await conn.execute(update, *_args(list(sets.values())), [r["id"] for r in rows])
        for row in rows:
            row.update(sets)
        return rows

    async def _lock_conn(self) -> asyncpg.Connection:
        if self._locks is None or self._locks.is_closed():
            # A lost connection took its locks with it; the in-flight operations of this
            # process carry on (their AMCI calls are idempotent by key), new ones lock again.
            self._locks = await asyncpg.connect(
                self._url, server_settings={**_app("billing-client-locks"), **_KEEPALIVES})
        return self._locks

    @_translated
    async def try_lock(self, key: str) -> bool:
        async with self._locks_guard:
            conn = await self._lock_conn()
            return bool(await conn.fetchval(
                "SELECT pg_try_advisory_lock(hashtextextended($1, $2))", key, _LOCK_SEED))

    async def unlock(self, key: str) -> None:
        async with self._locks_guard:
            if self._locks is None or self._locks.is_closed():
                return  # gone with its connection
            try:
                await self._locks.fetchval(
                    "SELECT pg_advisory_unlock(hashtextextended($1, $2))", key, _LOCK_SEED)
            except _UNREACHABLE:
                return


def _app(name: str) -> dict[str, str]:
    return {"application_name": name}


async def migrate(conn: asyncpg.Connection) -> int:
    """Apply the pending migrations in one transaction, under an advisory lock so processes
    starting together apply each once; returns the version found. A database from a newer
    billing client is refused."""
    wanted = len(postgres_schema.MIGRATIONS)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS billing_schema_version (version INTEGER PRIMARY KEY, "
            "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        found = int(await conn.fetchval(
            "SELECT COALESCE(MAX(version), 0) FROM billing_schema_version"))
        if found > wanted:
            raise StorageError(
                f"the database is at schema version {found}, newer than this billing client "
                f"({wanted}); upgrade the billing client"
            )
        for number, script in enumerate(postgres_schema.MIGRATIONS[found:], start=found + 1):
            await conn.execute(script)  # several statements: the simple query protocol
            await conn.execute("INSERT INTO billing_schema_version (version) VALUES ($1)", number)
    return found
