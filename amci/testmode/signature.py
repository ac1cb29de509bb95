"""Stripe's webhook signature (docs.stripe.com/webhooks#verify-manually): the header
``Stripe-Signature: t=<unix seconds>,v1=<hex>,v0=<hex>`` — one line, comma-separated, no spaces.
``v1`` is the lower-case hex HMAC-SHA256 of ``"<t>.<raw body>"`` keyed with the endpoint's whole
``whsec_…`` secret as text; "to aid with testing, Stripe sends an additional signature with a
fake v0 scheme, for test mode events" (not verifiable). Pure."""

from __future__ import annotations

import hashlib
import hmac


def header(payload: bytes, secret: str, timestamp: int) -> str:
    signed = f"{timestamp}.".encode() + payload
    v1 = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    v0 = hmac.new(b"v0:" + secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={v1},v0={v0}"
