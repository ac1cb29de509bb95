"""AMCI's notification records: Stripe events seen, the notification outbox (with each subject's
sequence numbers), the test-mode webhook endpoints AMCI registered (their ``whsec_`` sealed), and
the Stripe keys it needs to fetch an object again when an event arrives (sealed; the event
carries no key). Tables: migration 0003 of each backend.

``Notifications`` is the interface; ``SqliteNotifications`` runs on the SQLite store's
connection, ``amci.store.postgres_notifications`` on PostgreSQL's pool. Sealed values are Fernet
tokens (``amci.sealing``): nothing here is readable without AMCI's encryption key.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

COLUMNS = ("id, subscription, scope, type, subject, payment, card, sequence, event, livemode, "
            "event_object, body, state, attempts, next_attempt_at, last_error, created_at, "
            "delivered_at")


@dataclass(frozen=True, slots=True)
class Notification:
    id: str
    subscription: str
    scope: str | None
    type: str
    subject: str
    payment: str | None
    card: str | None
    sequence: int
    event: str
    livemode: bool
    event_object: bytes
    body: bytes | None
    state: str
    attempts: int
    next_attempt_at: float
    last_error: str | None
    created_at: float
    delivered_at: float | None


@dataclass(frozen=True, slots=True)
class NewNotification:
    id: str
    subscription: str
    scope: str | None
    type: str
    subject: str
    payment: str | None
    card: str | None
    dedupe: str
    event: str
    livemode: bool
    event_object: bytes


@dataclass(frozen=True, slots=True)
class Endpoint:
    scope: str
    endpoint: str
    url: str
    sealed_secret: bytes


def notification_row(r: tuple[object, ...] | Sequence[object]) -> Notification:
    return Notification(
        str(r[0]), str(r[1]), r[2] if r[2] is None else str(r[2]), str(r[3]), str(r[4]),
        r[5] if r[5] is None else str(r[5]), r[6] if r[6] is None else str(r[6]),
        int(r[7]), str(r[8]), bool(r[9]), bytes(r[10]),  # type: ignore[call-overload]
        None if r[11] is None else bytes(r[11]),  # type: ignore[call-overload]
        str(r[12]), int(r[13]), float(r[14]),  # type: ignore[call-overload,arg-type]
        None if r[15] is None else str(r[15]), float(r[16]),  # type: ignore[arg-type]
        None if r[17] is None else float(r[17]),  # type: ignore[arg-type]
    )


class Notifications(Protocol):
    async def put_key(self, scope: str, sealed: bytes, now: float) -> None: ...

    async def key(self, scope: str) -> bytes | None: ...

    async def put_endpoint(self, subscription: str, endpoint: Endpoint, now: float) -> None: ...

    async def endpoint(self, scope: str) -> Endpoint | None: ...

    async def endpoints(self, subscription: str) -> list[Endpoint]: ...

    async def record_event(self, event: str, notice: NewNotification | None,
                           now: float) -> str | None: ...

    async def due(self, now: float, limit: int, lease_seconds: float) -> list[Notification]: ...

    async def next_due_at(self) -> float | None: ...

    async def oldest_pending(self) -> float | None: ...

    async def set_body(self, nid: str, body: bytes) -> None: ...

    async def delivered(self, nid: str, now: float) -> None: ...

    async def failed_attempt(self, nid: str, next_at: float | None, error: str) -> None: ...

    async def redeliver(self, subscription: str, nid: str,
                        now: float) -> Notification | None: ...

    async def get(self, subscription: str, nid: str) -> Notification | None: ...

    async def recent(self, subscription: str, limit: int,
                     payment: str | None = None) -> list[Notification]: ...

    async def payment_scope(self, subscription: str, payment: str) -> str | None: ...

    async def card_scope(self, subscription: str, token: str) -> str | None: ...

    async def payment_by_reference(self, scope: str, reference: str) -> str | None: ...


class SqliteNotifications:
    """The records above on one SQLite connection (the store's)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    # --- keys and endpoints ----------------------------------------------------------------

    async def put_key(self, scope: str, sealed: bytes, now: float) -> None:
        self._db.execute(
            "INSERT INTO stripe_keys (scope, sealed, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT (scope) DO NOTHING", (scope, sealed, now))

    async def key(self, scope: str) -> bytes | None:
        row = self._db.execute("SELECT sealed FROM stripe_keys WHERE scope = ?",
                               (scope,)).fetchone()
        return None if row is None else bytes(row[0])

    async def put_endpoint(self, subscription: str, endpoint: Endpoint, now: float) -> None:
        self._db.execute(
            "INSERT INTO webhook_endpoints (scope, subscription, endpoint, url, sealed_secret, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (scope) DO UPDATE SET "
            "endpoint = excluded.endpoint, url = excluded.url, "
            "sealed_secret = excluded.sealed_secret",
            (endpoint.scope, subscription, endpoint.endpoint, endpoint.url,
             endpoint.sealed_secret, now))

    async def endpoint(self, scope: str) -> Endpoint | None:
        row = self._db.execute(
            "SELECT scope, endpoint, url, sealed_secret FROM webhook_endpoints WHERE scope = ?",
            (scope,)).fetchone()
        return None if row is None else Endpoint(row[0], row[1], row[2], bytes(row[3]))

    async def endpoints(self, subscription: str) -> list[Endpoint]:
        rows = self._db.execute(
            "SELECT scope, endpoint, url, sealed_secret FROM webhook_endpoints "
            "WHERE subscription = ?", (subscription,)).fetchall()
        return [Endpoint(r[0], r[1], r[2], bytes(r[3])) for r in rows]

    # --- events in, notifications out -------------------------------------------------------

    async def record_event(self, event: str, notice: NewNotification | None,
                           now: float) -> str | None:
        """Record a Stripe event, and its notification unless one with the same dedupe key
        exists, in one transaction. Returns the new notification's id, or None (a duplicate
        event, a second event for the same change, or an event with nothing to tell)."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            seen = db.execute("INSERT INTO webhook_events (event, received_at) VALUES (?, ?) "
                              "ON CONFLICT (event) DO NOTHING", (event, now)).rowcount == 0
            created: str | None = None
            if not seen and notice is not None:
                dup = db.execute(
                    "SELECT 1 FROM notifications WHERE subscription = ? AND dedupe = ?",
                    (notice.subscription, notice.dedupe)).fetchone()
                if dup is None:
                    last = db.execute(
                        "SELECT MAX(sequence) FROM notifications WHERE subscription = ? "
                        "AND subject = ?", (notice.subscription, notice.subject)).fetchone()[0]
                    db.execute(
                        "INSERT INTO notifications (id, subscription, scope, type, subject, "
                        "payment, card, sequence, dedupe, event, livemode, event_object, state, "
                        "next_attempt_at, created_at) VALUES "
                        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
                        (notice.id, notice.subscription, notice.scope, notice.type,
                         notice.subject, notice.payment, notice.card, int(last or 0) + 1,
                         notice.dedupe, notice.event, int(notice.livemode),
                         notice.event_object, now, now))
                    created = notice.id
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return created

    async def due(self, now: float, limit: int, lease_seconds: float) -> list[Notification]:
        """Pending notifications due now, each the lowest pending sequence of its subject (so a
        subject's notifications go out in order), leased to this process for
        ``lease_seconds`` so another AMCI process on the same store leaves them alone."""
        rows = self._db.execute(
            "SELECT " + COLUMNS + " FROM notifications n WHERE state = 'pending' "  # noqa: S608
            "AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until < ?) "
            "AND NOT EXISTS (SELECT 1 FROM notifications p WHERE p.subscription = n.subscription "
            "AND p.subject = n.subject AND p.state = 'pending' AND p.sequence < n.sequence) "
            "ORDER BY next_attempt_at LIMIT ?", (now, now, limit)).fetchall()
        leased = []
        for r in rows:
            took = self._db.execute(
                "UPDATE notifications SET lease_until = ? WHERE id = ? AND state = 'pending' "
                "AND (lease_until IS NULL OR lease_until < ?)",
                (now + lease_seconds, r[0], now)).rowcount
            if took:
                leased.append(notification_row(r))
        return leased

    async def next_due_at(self) -> float | None:
        row = self._db.execute(
            "SELECT MIN(MAX(next_attempt_at, COALESCE(lease_until, 0))) FROM notifications "
            "WHERE state = 'pending'").fetchone()
        return None if row[0] is None else float(row[0])

    async def oldest_pending(self) -> float | None:
        row = self._db.execute(
            "SELECT MIN(created_at) FROM notifications WHERE state = 'pending'").fetchone()
        return None if row[0] is None else float(row[0])

    async def set_body(self, nid: str, body: bytes) -> None:
        self._db.execute("UPDATE notifications SET body = ? WHERE id = ? AND body IS NULL",
                         (body, nid))

    async def delivered(self, nid: str, now: float) -> None:
        self._db.execute(
            "UPDATE notifications SET state = 'delivered', attempts = attempts + 1, "
            "delivered_at = ?, lease_until = NULL, last_error = NULL WHERE id = ?", (now, nid))

    async def failed_attempt(self, nid: str, next_at: float | None, error: str) -> None:
        """One failed attempt: retried at ``next_at``, or given up (``failed``) when None."""
        if next_at is None:
            self._db.execute(
                "UPDATE notifications SET state = 'failed', attempts = attempts + 1, "
                "lease_until = NULL, last_error = ? WHERE id = ?", (error, nid))
        else:
            self._db.execute(
                "UPDATE notifications SET attempts = attempts + 1, next_attempt_at = ?, "
                "lease_until = NULL, last_error = ? WHERE id = ?", (next_at, error, nid))

    async def redeliver(self, subscription: str, nid: str, now: float) -> Notification | None:
        self._db.execute(
            "UPDATE notifications SET state = 'pending', next_attempt_at = ?, lease_until = NULL "
            "WHERE id = ? AND subscription = ?", (now, nid, subscription))
        return await self.get(subscription, nid)

    async def get(self, subscription: str, nid: str) -> Notification | None:
        row = self._db.execute(
            "SELECT " + COLUMNS + " FROM notifications WHERE id = ? AND subscription = ?",  # noqa: S608
            (nid, subscription)).fetchone()
        return None if row is None else notification_row(row)

    async def recent(self, subscription: str, limit: int,
                     payment: str | None = None) -> list[Notification]:
        if payment is None:
            rows = self._db.execute(
                "SELECT " + COLUMNS + " FROM notifications WHERE subscription = ? "  # noqa: S608
                "ORDER BY created_at DESC, id DESC LIMIT ?", (subscription, limit)).fetchall()
        else:
            rows = self._db.execute(
                "SELECT " + COLUMNS + " FROM notifications WHERE subscription = ? AND payment = ? "  # noqa: S608
                "ORDER BY sequence DESC LIMIT ?", (subscription, payment, limit)).fetchall()
        return [notification_row(r) for r in rows]

    async def payment_scope(self, subscription: str, payment: str) -> str | None:
        """The scope (subscription and key) AMCI recorded a payment under."""
        row = self._db.execute(
            "SELECT scope FROM payments WHERE id = ? AND scope LIKE ? ESCAPE '\\'",
            (payment, like_prefix(subscription))).fetchone()
        return None if row is None else str(row[0])

    async def card_scope(self, subscription: str, token: str) -> str | None:
        row = self._db.execute(
            "SELECT scope FROM cards WHERE token = ? AND scope LIKE ? ESCAPE '\\'",
            (token, like_prefix(subscription))).fetchone()
        return None if row is None else str(row[0])

    async def payment_by_reference(self, scope: str, reference: str) -> str | None:
        row = self._db.execute(
            "SELECT id FROM payments WHERE scope = ? AND reference = ? "
            "ORDER BY created_at DESC LIMIT 1", (scope, reference)).fetchone()
        return None if row is None else str(row[0])


def like_prefix(subscription: str) -> str:
    escaped = subscription.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + ":%"
