"""Browser sessions for the console and the portal, and the sign-in throttle (their tables,
``sessions`` and ``login_failures``, come with ``auth.PEOPLE_SCHEMA``).

Sessions are server-side: the cookie holds 256 random bits, the store their SHA-256 (a copied
database holds no usable session), the kind ("admin" or "customer"), who, and the session's
CSRF token. A session ends on logout (row deleted), after ``idle_seconds`` without a request, or
``max_seconds`` after sign-in, whichever comes first.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from billing_client.auth import digest

if TYPE_CHECKING:
    from billing_client.storage import Storage

# A presented cookie longer than this is not one of ours; refuse it before hashing.
_MAX_PRESENTED = 200


@dataclass(frozen=True, slots=True)
class Session:
    kind: str
    subject: str
    csrf: str


class Sessions:
    def __init__(
        self,
        storage: Storage,
        *,
        idle_seconds: float,
        max_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._storage = storage
        self._idle = idle_seconds
        self._max = max_seconds
        self._clock = clock

    async def start(self, kind: str, subject: str) -> str:
        """A new session; returns the cookie value (shown to this browser only)."""
        cookie = secrets.token_urlsafe(32)
        now = int(self._clock())
        await self._storage.execute(
            "INSERT INTO sessions (id_sha256, kind, subject, csrf, created, last_seen) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (digest(cookie), kind, subject, secrets.token_urlsafe(32), now, now),
        )
        # Expired rows of anyone are swept on sign-in: the table stays small without a task.
        await self._storage.execute(
            "DELETE FROM sessions WHERE last_seen < ? OR created < ?",
            (now - self._idle, now - self._max),
        )
        return cookie

    async def find(self, kind: str, cookie: str | None) -> Session | None:
        """The live session of ``kind`` behind ``cookie`` (its idle clock restarted), or None."""
        if not cookie or len(cookie) > _MAX_PRESENTED or not cookie.isascii():
            return None
        key = digest(cookie)
        row = await self._storage.fetch_one(
            "SELECT * FROM sessions WHERE id_sha256 = ? AND kind = ?", (key, kind)
        )
        if row is None:
            return None
        now = int(self._clock())
        if now - int(row["last_seen"]) > self._idle or now - int(row["created"]) > self._max:
            await self._storage.execute("DELETE FROM sessions WHERE id_sha256 = ?", (key,))
            return None
        await self._storage.execute(
            "UPDATE sessions SET last_seen = ? WHERE id_sha256 = ?", (now, key)
        )
        return Session(kind=str(row["kind"]), subject=str(row["subject"]), csrf=str(row["csrf"]))

    async def end(self, cookie: str | None) -> None:
        if cookie and cookie.isascii():
            await self._storage.execute(
                "DELETE FROM sessions WHERE id_sha256 = ?", (digest(cookie),)
            )

    async def end_all(self, kind: str, subject: str) -> None:
        """Every session of one person (their password was changed)."""
        await self._storage.execute(
            "DELETE FROM sessions WHERE kind = ? AND subject = ?", (kind, subject)
        )


class Throttle:
    """At most ``limit`` failed sign-ins per username, and ``address_limit`` per client address,
    in ``window`` seconds; past that every attempt is refused, right password or not, until the
    window ends. The address's limit is higher: many people may share one address (an office,
    a proxy), and one of them guessing should not lock the others out as soon."""

    def __init__(
        self,
        storage: Storage,
        *,
        limit: int = 5,
        address_limit: int = 20,
        window: float = 900,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._storage = storage
        self._limit = limit
        self._address_limit = address_limit
        self._window = window
        self._clock = clock

    def keys(self, kind: str, username: str, address: str) -> dict[str, int]:
        """The counters one sign-in attempt counts against, with their limits."""
        return {
            f"{kind}:user:{username.lower()}": self._limit,
            f"{kind}:addr:{address}": self._address_limit,
        }

    async def blocked_for(self, keys: dict[str, int]) -> int:
        """Seconds until these keys may try again (0: now)."""
        now = int(self._clock())
        wait = 0
        for key, limit in keys.items():
            row = await self._storage.fetch_one(
                "SELECT failures, first_at FROM login_failures WHERE key = ?", (key,)
            )
            if row is None or now - int(row["first_at"]) >= self._window:
                continue
            if int(row["failures"]) >= limit:
                wait = max(wait, int(row["first_at"]) + int(self._window) - now)
        return wait

    async def failed(self, keys: dict[str, int]) -> None:
        now = int(self._clock())
        for key in keys:
            await self._storage.execute(
                "INSERT INTO login_failures (key, failures, first_at) VALUES (?, 1, ?) "
                "ON CONFLICT(key) DO UPDATE SET "
                "failures = CASE WHEN ? - first_at >= ? THEN 1 ELSE failures + 1 END, "
                "first_at = CASE WHEN ? - first_at >= ? THEN ? ELSE first_at END",
                (key, now, now, self._window, now, self._window, now),
            )

    async def succeeded(self, keys: dict[str, int]) -> None:
        """The username's count starts again; the address's stays (one success from an address
        does not excuse the guesses made from it at other accounts)."""
        for key in keys:
            if ":user:" in key:
                await self._storage.execute("DELETE FROM login_failures WHERE key = ?", (key,))
