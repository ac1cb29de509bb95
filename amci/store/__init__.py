"""AMCI's records: idempotency claims and results, saved cards (token → customer), payments.

``open_store(url)`` picks the backend: SQLite (``amci.store.sqlite``, the default, one process)
or PostgreSQL (``amci.store.postgres``, shared by any number of AMCI replicas). Both apply their
versioned migrations (``amci/store/migrations/``) when opened.
"""

from __future__ import annotations

from amci.store.base import (
    IN_FLIGHT_STALE_SECONDS,
    CardRecord,
    Claim,
    ClaimResult,
    PaymentRecord,
    Records,
    Store,
    StoreUrl,
    StoreUrlError,
)
from amci.store.sqlite import SqliteStore

__all__ = [
    "IN_FLIGHT_STALE_SECONDS",
    "CardRecord",
    "Claim",
    "ClaimResult",
    "PaymentRecord",
    "Records",
    "SqliteStore",
    "Store",
    "StoreUrl",
    "StoreUrlError",
    "open_store",
]


async def open_store(url: str) -> Store:
    """The store a URL names, migrated to the current schema."""
    parsed = StoreUrl.parse(url)
    if parsed.backend == "postgresql":
        from amci.store.postgres import PostgresStore  # only PostgreSQL deployments need asyncpg

        return await PostgresStore.open(parsed.target)
    return SqliteStore(parsed.target)
