"""An advanceable clock: Stripe timestamps (unix seconds) plus an offset tests and users can move
forward through ``POST /_testmode/clock/advance``.

``frozen=True`` stops real time (the clock then moves only when advanced), which lets tests drive
time-dependent rules (authorization expiry, idempotency retention, rate limit) without sleeping.
"""

from __future__ import annotations

import time


class Clock:
    def __init__(self, *, start: float | None = None, frozen: bool = False) -> None:
        self._frozen = frozen
        self._base = time.time() if start is None else float(start)
        self._real0 = time.monotonic()
        self._offset = 0.0

    def time(self) -> float:
        """Seconds since the epoch, as a float (for rate limiting)."""
        elapsed = 0.0 if self._frozen else time.monotonic() - self._real0
        return self._base + elapsed + self._offset

    def now(self) -> int:
        """Unix seconds, as Stripe's ``created`` fields carry them."""
        return int(self.time())

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._offset += seconds
