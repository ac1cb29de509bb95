"""What every use case needs, passed in once: storage, the vault, AMCI, metrics and the clock."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from billing_client.amci_client import AmciClient
from billing_client.crypto import Vault
from billing_client.errors import IdempotencyInUse
from billing_client.metrics import Metrics
from billing_client.storage import Storage


@dataclass(frozen=True, slots=True)
class Result:
    """What a handler sends back: an HTTP status and a JSON body (or an error to raise)."""

    status: int
    body: dict[str, Any]
    replayed: bool = False


@dataclass(slots=True)
class Context:
    db: Storage
    vault: Vault
    amci: AmciClient
    metrics: Metrics
    clock: Callable[[], float] = time.time
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    def now(self) -> int:
        return int(self.clock())

    def today(self) -> date:
        return datetime.fromtimestamp(self.clock(), UTC).date()

    @contextlib.asynccontextmanager
    async def exclusive(self, key: str) -> AsyncIterator[None]:
        """One in-flight operation per transaction; a concurrent duplicate gets 409 (as AMCI),
        whether it reached this process or another one on the same PostgreSQL database (the
        store's lock: an advisory lock held by this process while the operation runs)."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        if lock.locked():
            raise _in_use()
        async with lock:
            try:
                if not await self.db.try_lock(key):
                    raise _in_use()
                try:
                    yield
                finally:
                    # Shielded: a cancelled request still lets go of the key.
                    await asyncio.shield(self.db.unlock(key))
            finally:
                self._locks.pop(key, None)


def _in_use() -> IdempotencyInUse:
    return IdempotencyInUse(
        "This transaction is being processed by another request; retry in a moment."
    )


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"
