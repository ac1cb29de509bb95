"""``AMCI-Signature: t=…,v1=…``, made by AMCI and checked by the billing client as Stripe
checks its own (docs.stripe.com/webhooks#verify-manually): HMAC-SHA256 keyed by the shared secret
over ``"{t}.{raw body}"``, lower-case hex; any ``v1`` matching any of the secrets passes (two
during a rotation); a ``t`` older than 300 s is refused (a replayed capture of an old
notification). Pure: no I/O."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

TOLERANCE_SECONDS = 300


def _digest(secret: str, t: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def sign(body: bytes, secrets: Sequence[str], t: int) -> str:
    """``t=…,v1=…[,v1=…]``: one ``v1`` per active secret (the current one first)."""
    return ",".join([f"t={t}", *(f"v1={_digest(s, t, body)}" for s in secrets)])


def verify(header: str | None, body: bytes, secrets: Sequence[str], now: float,
           tolerance: int = TOLERANCE_SECONDS) -> bool:
    """True when some ``v1`` matches some secret and ``t`` is at most ``tolerance`` seconds
    old (Stripe's check is one-sided the same way)."""
    if not header or not secrets:
        return False
    t: int | None = None
    given: list[str] = []
    for part in header.split(","):
        name, _, value = part.partition("=")
        if name == "t" and value.isdigit():
            t = int(value)
        elif name == "v1":
            given.append(value)
    if t is None or not given or t < now - tolerance:
        return False
    ok = False
    for secret in secrets:
        expected = _digest(secret, t, body)
        for sig in given:
            ok = hmac.compare_digest(expected, sig) or ok  # no early exit
    return ok
