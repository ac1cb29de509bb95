"""Per-account request rate limit: Stripe's sandbox allows 25 requests per second
(docs.stripe.com/rate-limits). A token bucket per account, driven by the server's clock, so a
frozen test clock makes it deterministic. Memory stays bounded: idle (full) buckets are dropped.
"""

from __future__ import annotations

from collections.abc import Callable


class RateLimiter:
    MAX_TRACKED = 10_000

    def __init__(self, per_second: float, now: Callable[[], float]) -> None:
        self.rate = per_second
        self.capacity = max(per_second, 1.0)
        self._now = now
        self._buckets: dict[str, tuple[float, float]] = {}  # account -> (tokens, at)

    def allow(self, account: str) -> bool:
        now = self._now()
        tokens, at = self._buckets.get(account, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - at) * self.rate)
        if tokens < 1.0 - 1e-6:  # float time: tolerate rounding at exact refills
            self._buckets[account] = (tokens, now)
            return False
        if len(self._buckets) >= self.MAX_TRACKED and account not in self._buckets:
            self._evict(now)
        self._buckets[account] = (max(0.0, tokens - 1.0), now)
        return True

    def _evict(self, now: float) -> None:
        full = [a for a, (t, at) in self._buckets.items()
                if t + (now - at) * self.rate >= self.capacity]
        for a in full:
            del self._buckets[a]
        if len(self._buckets) >= self.MAX_TRACKED:  # all busy: forget the oldest half
            for a in list(self._buckets)[: self.MAX_TRACKED // 2]:
                del self._buckets[a]
