"""Rate limits that keep AMCI under Stripe's (docs.stripe.com/rate-limits: 100 requests/s live,
25/s in test mode/sandbox, per account; 25/s per endpoint unless noted otherwise).

``RateLimits`` is what the relay asks before each upstream call: ``LocalLimits`` in one process
(SQLite deployments), ``SharedLimits`` across replicas (PostgreSQL deployments).

``Limiter``, the in-process one:

A GCRA (the virtual-scheduling form of a token bucket) per Stripe key fingerprint: calls are
spaced ``1/rate`` apart with a small burst allowance; a call over the rate is told how long to
wait, so callers wait briefly instead of getting Stripe's 429. A call that would wait longer
than ``max_wait`` is refused (AMCI's own 429) rather than queued without bound.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from amci.auth import ApiKey, Mode
from amci.errors import RateLimited

# The shared limiter books slots at ``headroom`` × Stripe's limit (``rate_limit.headroom``,
# default 0.9), one emission interval T = 1 / (headroom × limit) apart, with no burst. A call
# reaches Stripe some delay after its slot; if that delay varies by at most J, the calls
# arriving in any one-second window had slots in a window of 1 + J seconds: at most
# headroom × (1 + J) × limit of them, within the limit for J up to 1/headroom - 1 (0.11 s at
# 0.9, 0.05 s at 0.95: event-loop and network jitter).
SHARED_HEADROOM = 0.9


class RateLimits(Protocol):
    # True: a call must leave at its slot (a late one books again; ``Relay._take_slot``).
    strict: bool

    async def reserve(self, mode: Mode, key: ApiKey, endpoint: str) -> float:
        """Seconds to wait before calling ``endpoint`` with ``key`` (0: now); raises
        ``RateLimited`` when the wait would exceed the configured maximum."""
        ...


class Limiter:
    def __init__(
        self,
        rate_per_second: float,
        *,
        max_wait: float,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._emission = 1.0 / rate_per_second
        # A fifth of a second's worth (5 calls at 25/s): a burst stays well inside any rolling
        # one-second window Stripe may count in.
        allowance = max(1.0, burst if burst is not None else rate_per_second / 5)
        self._tolerance = self._emission * (allowance - 1)
        self._max_wait = max_wait
        self._clock = clock
        self._tat: dict[str, float] = {}

    def reserve(self, key: str) -> float:
        """Book the next slot for ``key``; return the seconds to wait before calling (0: now)."""
        now = self._clock()
        tat = max(self._tat.get(key, now), now)
        wait = tat - self._tolerance - now
        if wait > self._max_wait:
            raise RateLimited()
        self._tat[key] = tat + self._emission
        if len(self._tat) > 4096:
            self._forget_idle(now)
        return max(0.0, wait)

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, tat in self._tat.items() if tat < now]:
            del self._tat[key]


class LocalLimits:
    """One process: a ``Limiter`` per mode, keyed by the key's fingerprint (None: unlimited)."""

    strict = False  # a burst allowance by design: a late call just uses it

    def __init__(self, limiters: Mapping[Mode, Limiter | None]) -> None:
        self._limiters = dict(limiters)

    async def reserve(self, mode: Mode, key: ApiKey, endpoint: str) -> float:
        limiter = self._limiters.get(mode)
        return 0.0 if limiter is None else limiter.reserve(key.fingerprint)


class SlotBook(Protocol):
    """Shared GCRA state (``PostgresStore.book_slot``): books one call in every bucket, each
    given as (name, emission interval in seconds), at the earliest time all of them allow;
    returns the seconds to wait, or None (nothing booked) if that is beyond ``max_wait``."""

    async def book_slot(
        self, buckets: Sequence[tuple[str, float]], max_wait: float
    ) -> float | None: ...


class SharedLimits:
    """Stripe's limits across every replica on one PostgreSQL: one bucket per Stripe account
    and mode (a subscription's keys together) and one per endpoint of it."""

    strict = True

    def __init__(
        self,
        book: SlotBook,
        *,
        account_of: Callable[[ApiKey], str],
        per_second: Mapping[Mode, float],
        endpoint_per_second: float,
        max_wait: float,
        headroom: float = SHARED_HEADROOM,
    ) -> None:
        self._book = book
        self._account_of = account_of
        self._emission = {mode: 1.0 / (rate * headroom) for mode, rate in per_second.items()}
        self._endpoint_emission = 1.0 / (endpoint_per_second * headroom)
        self._max_wait = max_wait

    async def reserve(self, mode: Mode, key: ApiKey, endpoint: str) -> float:
        account = f"{mode.value}:{self._account_of(key)}"
        wait = await self._book.book_slot(
            [(account, self._emission[mode]), (f"{account}:{endpoint}", self._endpoint_emission)],
            self._max_wait,
        )
        if wait is None:
            raise RateLimited()
        return wait
