"""Per-key rate limiter that keeps AMCI under Stripe's limits (docs.stripe.com/rate-limits:
100 requests/s live, 25/s in test mode/sandbox).

A GCRA (the virtual-scheduling form of a token bucket) per Stripe key fingerprint: calls are
spaced ``1/rate`` apart with a small burst allowance; a call over the rate is told how long to
wait, so callers wait briefly instead of getting Stripe's 429. A call that would wait longer
than ``max_wait`` is refused (AMCI's own 429) rather than queued without bound.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from amci.errors import RateLimited


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
