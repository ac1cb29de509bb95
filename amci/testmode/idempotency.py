"""Stripe's idempotency contract (docs.stripe.com/api/idempotent_requests, error-low-level):

- a POST with ``Idempotency-Key`` saves the status and body of its first execution; a retry with
  the same parameters replays them with ``Idempotent-Replayed: true``;
- the same key with other parameters (or another endpoint) → 400 ``idempotency_error``;
- the same key while the first request is still executing → 409 ``idempotency_key_in_use``;
- validation failures, 401s and 429s are not saved ("rate limiters run before the API's
  idempotency layer");
- keys are scoped to the account and kept 24 hours.

The in-flight set lives in memory (one server process owns the store); results live in SQLite.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from amci.testmode.errors import IdempotencyError, IdempotencyKeyInUse, InvalidRequestError

MAX_KEY_LENGTH = 255  # "Idempotency keys are up to 255 characters long."


def check_key(key: str) -> str:
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidRequestError(
            f"Idempotency-Key is {len(key)} characters long; keys may be at most"
            f" {MAX_KEY_LENGTH} characters.", param="Idempotency-Key")
    return key


def fingerprint(method: str, path: str, params: Any) -> str:
    canonical = json.dumps([method, path, params], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def mismatch(key: str) -> IdempotencyError:
    # stripe/stripe-ruby#503 (Stripe's wording).
    return IdempotencyError(
        "Keys for idempotent requests can only be used with the same parameters they were first"
        f" used with. Try using a key other than '{key}' if you meant to execute a different"
        " request.")


def in_use() -> IdempotencyKeyInUse:
    # Current wording UNVERIFIED; the 2018 message, with the code Stripe documents for it
    # (docs.stripe.com/error-low-level#idempotency).
    return IdempotencyKeyInUse(
        "There is currently another in-progress request using this Idempotent Key (that"
        " probably means you submitted twice, and the other request is still going through):"
        " please retry later.", code="idempotency_key_in_use")


class InFlight:
    """(account, key) pairs whose first request is executing."""

    def __init__(self) -> None:
        self._active: set[tuple[str, str]] = set()

    def enter(self, account: str, key: str) -> None:
        if (account, key) in self._active:
            raise in_use()
        self._active.add((account, key))

    def leave(self, account: str, key: str) -> None:
        self._active.discard((account, key))
