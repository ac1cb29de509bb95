"""The store's small async interface and its records, shared by every backend.

A backend is chosen by URL (``open_store``): ``sqlite:///var/amci.sqlite3`` (the default; one
AMCI process per file) or ``postgresql://user@host:port/db`` (any number of AMCI replicas).

Nothing secret is stored: no card number, no CVC, no API key; request bodies only as an HMAC
keyed by the caller's API key (see ``auth.ApiKey.mac``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Protocol

from amci.store.notifications import Notifications

# An in-flight claim this old is taken over even if its owner still looks alive (a hung
# process). Far above the longest legitimate request: the limiter's wait (5 s) plus the SDK's
# tries (3 × 30 s). Taking over is safe: the upstream idempotency key is derived from the
# request, so Stripe answers a second attempt with the first one's result
# (docs.stripe.com/api/idempotent_requests).
IN_FLIGHT_STALE_SECONDS = 900.0


class Claim(enum.Enum):
    STARTED = "started"  # the caller owns the key now and must finish or abandon it
    REPLAY = "replay"  # a finished result exists for the same request
    MISMATCH = "mismatch"  # the key was used with other parameters
    IN_FLIGHT = "in_flight"  # another request holds the key right now


@dataclass(frozen=True, slots=True)
class ClaimResult:
    claim: Claim
    status: int = 0
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class CardRecord:
    token: str
    customer: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    livemode: bool


@dataclass(frozen=True, slots=True)
class PaymentRecord:
    id: str
    currency: str
    amount_minor: int
    capture: bool
    status: str
    reference: str | None
    livemode: bool


@dataclass(slots=True)
class Records:
    """The records one request's work produced, in one scope. They are written in the same
    transaction as the request's idempotent result (``finish``/``abandon``), or on their own
    (``save``) when the request has no ``Idempotency-Key``: one commit per request instead of
    one per record. ``now``: the request's wall-clock time, for created/updated columns."""

    scope: str
    now: float
    cards: list[CardRecord] = field(default_factory=list)
    payments: list[PaymentRecord] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.cards or self.payments)


class Store(Protocol):
    @property
    def notifications(self) -> Notifications:
        """Stripe events seen and the notification outbox (amci.store.notifications)."""
        ...

    async def claim(
        self, scope: str, key: str, request_hash: str, owner: str, now: float
    ) -> ClaimResult:
        """Claim (scope, key) for ``owner`` (one id per AMCI process). A key left in flight by
        an owner that is gone (a killed process) or stale is taken over: ``STARTED``."""
        ...

    async def finish(
        self, scope: str, key: str, status: int, body: bytes, records: Records | None = None
    ) -> None: ...

    async def abandon(self, scope: str, key: str, records: Records | None = None) -> None: ...

    async def save(self, records: Records) -> None: ...

    async def prune(self, older_than: float) -> int: ...

    async def put_card(self, scope: str, card: CardRecord, now: float) -> None: ...

    async def card(self, scope: str, token: str) -> CardRecord | None: ...

    async def forget_card(self, scope: str, token: str) -> None: ...

    async def put_payment(self, scope: str, payment: PaymentRecord, now: float) -> None: ...

    async def payment(self, scope: str, payment_id: str) -> PaymentRecord | None: ...

    async def schema_version(self) -> int: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


class StoreUrlError(ValueError):
    """A store URL AMCI can't use."""


@dataclass(frozen=True, slots=True)
class StoreUrl:
    """``sqlite:///relative/path``, ``sqlite:////absolute/path``, ``sqlite:///:memory:`` (the
    SQLAlchemy convention), or ``postgresql://`` / ``postgres://`` URLs passed to the driver."""

    backend: str  # "sqlite" | "postgresql"
    target: str  # the SQLite path, or the PostgreSQL URL

    @classmethod
    def parse(cls, url: str) -> StoreUrl:
        scheme, sep, rest = url.partition("://")
        if not sep:
            raise StoreUrlError("expected sqlite:///PATH or postgresql://USER@HOST:PORT/DB")
        scheme = scheme.lower()
        if scheme == "sqlite":
            if not rest.startswith("/") or rest == "/":
                raise StoreUrlError("a SQLite URL is sqlite:///PATH (three slashes, then the path)")
            return cls("sqlite", rest[1:])
        if scheme in ("postgresql", "postgres"):
            if not rest:
                raise StoreUrlError("a PostgreSQL URL names a host or a database")
            return cls("postgresql", url)
        raise StoreUrlError(f"unsupported store scheme {scheme!r} (sqlite or postgresql)")

    @property
    def safe(self) -> str:
        """For logs: the password, if any, masked."""
        if self.backend == "sqlite":
            return f"sqlite:///{self.target}"
        scheme, _, rest = self.target.partition("://")
        userinfo, at, hostpart = rest.rpartition("@")
        if at and ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":***"
        return f"{scheme}://{userinfo}{at}{hostpart}"
