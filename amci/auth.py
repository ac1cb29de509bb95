"""Authentication: HTTP Basic ``login:key`` → the Add-on Mart subscription that owns the key.

The spec's pre-requisites: an active Add-on Mart subscription, the Stripe integration activated on
it, and the merchant's Stripe secret key as the payment system's password. The login is mandatory
and longer than 4 characters, otherwise ignored (never logged, never stored).

Config holds SHA-256 fingerprints of keys, never keys; every fingerprint is compared in constant
time (``hmac.compare_digest``) and all of them are compared, so timing says nothing about which.
Key prefixes: docs.stripe.com/keys (sk_/rk_ secret and restricted, pk_ publishable; _test_/_live_).
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from amci.errors import AuthError
from amci.sealing import Sealer
from amci.settings import SubscriptionSettings


class Mode(enum.Enum):
    TEST = "test"
    LIVE = "live"


class ApiKey:
    """A Stripe secret key. Its repr and str are masked (``sk_test_…wxyz``); ``reveal()`` is
    called in exactly one place: ``relay.py``, when the key goes into the SDK's request options."""

    __slots__ = ("_fingerprint", "_secret")

    def __init__(self, secret: str) -> None:
        self._secret = secret
        self._fingerprint: str | None = None

    def reveal(self) -> str:
        return self._secret

    def sealed(self, sealer: Sealer) -> bytes:
        """The key encrypted for the store (AMCI fetches objects with it when an event
        arrives, which carries no key)."""
        return sealer.seal(self._secret)

    @classmethod
    def unsealed(cls, sealer: Sealer, sealed: bytes) -> ApiKey:
        return cls(sealer.open(sealed))

    @property
    def masked(self) -> str:
        prefix = _prefix(self._secret)
        tail = self._secret[-4:] if len(self._secret) >= len(prefix) + 8 else ""
        return f"{prefix}…{tail}"

    @property
    def fingerprint(self) -> str:
        """SHA-256 hex: what config stores instead of the key."""
        if self._fingerprint is None:
            self._fingerprint = fingerprint(self._secret)
        return self._fingerprint

    @property
    def mode(self) -> Mode | None:
        """Test or live for secret and restricted keys; None for anything else."""
        for prefix, mode in _SECRET_PREFIXES.items():
            if self._secret.startswith(prefix) and len(self._secret) > len(prefix):
                return mode
        return None

    @property
    def publishable(self) -> bool:
        return self._secret.startswith("pk_")

    def mac(self, data: bytes) -> str:
        """HMAC-SHA256 of ``data`` keyed by the key itself: lets AMCI fingerprint request bodies
        (which hold card numbers) without storing anything a leaked database could brute-force."""
        return hmac.new(self._secret.encode(), data, hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return f"ApiKey({self.masked!r})"

    def __str__(self) -> str:
        return self.masked

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ApiKey) and hmac.compare_digest(self._secret, other._secret)

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    def __reduce__(self) -> str:  # never pickled into caches or queues
        raise TypeError("ApiKey cannot be pickled")


_SECRET_PREFIXES = {
    "sk_test_": Mode.TEST,
    "rk_test_": Mode.TEST,
    "sk_live_": Mode.LIVE,
    "rk_live_": Mode.LIVE,
}


def _prefix(secret: str) -> str:
    for prefix in (*_SECRET_PREFIXES, "pk_test_", "pk_live_"):
        if secret.startswith(prefix):
            return prefix
    return ""


def fingerprint(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the subscription, the key and the mode the key selects."""

    subscription: SubscriptionSettings
    key: ApiKey
    mode: Mode

    @property
    def scope(self) -> str:
        """Idempotency and record scope: the subscription and the Stripe account (key) within it.

        With ``allow_any_test_key`` several keys (several test accounts) share one subscription;
        Stripe scopes idempotency keys per account, so AMCI scopes per key fingerprint too."""
        return f"{self.subscription.id}:{self.key.fingerprint[:32]}"


def parse_basic(header: str | None) -> tuple[str, ApiKey]:
    """``Authorization: Basic base64(login:key)`` → (login, key)."""
    if not header:
        raise AuthError(
            401,
            "credentials_missing",
            "No credentials: send HTTP Basic authentication with the payment system's login and "
            "the Stripe secret key as the password.",
        )
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise AuthError(
            401, "credentials_missing", "Use HTTP Basic authentication (login:Stripe secret key)."
        )
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise AuthError(
            401, "credentials_missing", "Malformed HTTP Basic credentials."
        ) from None
    login, sep, secret = decoded.partition(":")
    if not sep:
        raise AuthError(401, "credentials_missing", "Malformed HTTP Basic credentials.")
    return login, ApiKey(secret.strip())


def authenticate(header: str | None, subscriptions: Sequence[SubscriptionSettings]) -> Principal:
    login, key = parse_basic(header)
    # The spec: "this field is obligatory and the input must be longer than 4 characters".
    if len(login.strip()) <= 4:
        raise AuthError(
            401,
            "login_invalid",
            "The payment system's login is required and must be longer than 4 characters.",
            param="login",
        )
    if key.publishable:
        # Stripe's code secret_key_required (docs.stripe.com/error-codes).
        raise AuthError(
            401,
            "secret_key_required",
            "This API call cannot be made with a publishable API key. Please use a secret API "
            "key (sk_test_… or sk_live_…) as the payment system's password.",
        )
    mode = key.mode
    subscription = _owner(key, subscriptions) if mode is not None else None
    if subscription is None and mode is Mode.TEST:
        subscription = next((s for s in subscriptions if s.allow_any_test_key), None)
    if mode is None or subscription is None:
        # Stripe's wording keeps the prefix and last 4 only (stripe/stripe-node#361).
        raise AuthError(401, "api_key_unknown", f"Invalid API Key provided: {key.masked}")
    if not subscription.active:
        raise AuthError(
            403,
            "subscription_inactive",
            "The Add-on Mart subscription for this key is not active.",
        )
    if not subscription.stripe_integration_activated:
        raise AuthError(
            403,
            "integration_not_activated",
            "The Stripe integration is not activated on this Add-on Mart subscription.",
        )
    return Principal(subscription=subscription, key=key, mode=mode)


def _owner(
    key: ApiKey, subscriptions: Sequence[SubscriptionSettings]
) -> SubscriptionSettings | None:
    candidate = key.fingerprint.encode()
    found: SubscriptionSettings | None = None
    for sub in subscriptions:
        for fp in sub.key_fingerprints:
            # No early exit: every fingerprint is compared.
            if hmac.compare_digest(candidate, fp.encode()) and found is None:
                found = sub
    return found
