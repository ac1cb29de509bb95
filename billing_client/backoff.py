"""When a pending transaction may be sent to AMCI again, and when never again (pure, no I/O).

A transaction whose outcome is unknown (AMCI unreachable, timed out, 5xx, or its own 429) stays
``pending`` and is resent under the same Idempotency-Key, so AMCI — and Stripe behind it —
replays a request that did go through instead of making a second one.

- **Backoff.** After attempt *n* the next one is due after ``min(MAX, FIRST * 2**(n-1))``
  seconds, "equal jitter": half of it fixed, half random, so rows that failed together (one
  outage) do not all come back in the same second, and none comes back sooner than half its
  delay. The due time is stored (``transactions.next_attempt_at``); the reconciler takes due
  rows oldest-due first, so a row that keeps failing moves behind the others instead of
  starving them.
- **The resend window.** AMCI keeps an idempotent answer for 24 hours, and Stripe prunes keys
  after 24 hours: "if a key is reused after the original is pruned, we generate a new request"
  (docs.stripe.com/api/idempotent_requests). A resend after that could charge twice. So nothing
  is sent once ``RESEND_WINDOW_S`` (23 hours, an hour's margin for clock differences) has passed
  since the transaction was created — its first attempt is made at creation, or later if the
  process died in between, so counting from ``created`` can only stop resends earlier, never
  later. Such a transaction becomes ``unknown`` and waits for an administrator.
"""

from __future__ import annotations

import math

FIRST_DELAY_S = 30
MAX_DELAY_S = 3600
RESEND_WINDOW_S = 23 * 3600


def delay(attempts: int, jitter: float) -> float:
    """Seconds to wait after attempt number ``attempts`` (>= 1); ``jitter`` is in [0, 1)."""
    if attempts < 1 or not 0 <= jitter < 1:
        raise ValueError("attempts >= 1 and 0 <= jitter < 1")
    # The exponent is capped before the shift can grow large.
    full = min(MAX_DELAY_S, FIRST_DELAY_S * (1 << min(attempts - 1, 32)))
    return full / 2 + full / 2 * jitter


def deadline(created: int) -> int:
    """The instant (epoch seconds) from which a transaction created at ``created`` is not sent."""
    return created + RESEND_WINDOW_S


def expired(now: int, created: int) -> bool:
    return now >= deadline(created)


def next_attempt_at(now: int, created: int, attempts: int, jitter: float) -> int:
    """When the next attempt is due; never after the deadline, so a transaction that runs out
    of time is turned ``unknown`` by the first pass after it, not an hour late."""
    return min(now + math.ceil(delay(attempts, jitter)), deadline(created))


def after_error(now: int, created: int, jitter: float) -> int:
    """When to try again a transaction that could not even be sent (its payment system deleted,
    …): after the longest delay — it waits for an administrator, not for AMCI."""
    return min(now + math.ceil(MAX_DELAY_S / 2 + MAX_DELAY_S / 2 * jitter), deadline(created))
