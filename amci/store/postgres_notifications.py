"""``Notifications`` on PostgreSQL (asyncpg), shared by every AMCI replica.

Two replicas receiving two events of one payment at once must not hand out the same sequence:
``record_event`` takes a transaction-scoped advisory lock named after (subscription, subject)
before reading the last sequence. ``due`` leases rows with ``FOR UPDATE SKIP LOCKED``, so two
replicas never deliver the same notification at the same time (a lease that outlives a dead
replica expires and another takes the row over).
"""

from __future__ import annotations

from typing import Any

import asyncpg

from amci.store.notifications import (
    COLUMNS,
    Endpoint,
    NewNotification,
    Notification,
    like_prefix,
    notification_row,
)

_SUBJECT_SEED = 0x6E6F7465  # "note": hashtextextended seed for per-subject locks


def _n(r: Any) -> Notification:
    return notification_row(tuple(r))


class PostgresNotifications:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def put_key(self, scope: str, sealed: bytes, now: float) -> None:
        await self._pool.execute(
            "INSERT INTO stripe_keys (scope, sealed, created_at) VALUES ($1, $2, $3) "
            "ON CONFLICT (scope) DO NOTHING", scope, sealed, now)

    async def key(self, scope: str) -> bytes | None:
        got = await self._pool.fetchval("SELECT sealed FROM stripe_keys WHERE scope = $1", scope)
        return None if got is None else bytes(got)

    async def put_endpoint(self, subscription: str, endpoint: Endpoint, now: float) -> None:
        await self._pool.execute(
            "INSERT INTO webhook_endpoints (scope, subscription, endpoint, url, sealed_secret, "
            "created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (scope) DO UPDATE SET "
            "endpoint = excluded.endpoint, url = excluded.url, "
            "sealed_secret = excluded.sealed_secret",
            endpoint.scope, subscription, endpoint.endpoint, endpoint.url,
            endpoint.sealed_secret, now)

    async def endpoint(self, scope: str) -> Endpoint | None:
        r = await self._pool.fetchrow(
            "SELECT scope, endpoint, url, sealed_secret FROM webhook_endpoints WHERE scope = $1",
            scope)
        return None if r is None else Endpoint(r[0], r[1], r[2], bytes(r[3]))

    async def endpoints(self, subscription: str) -> list[Endpoint]:
        rows = await self._pool.fetch(
            "SELECT scope, endpoint, url, sealed_secret FROM webhook_endpoints "
            "WHERE subscription = $1", subscription)
        return [Endpoint(r[0], r[1], r[2], bytes(r[3])) for r in rows]

    async def record_event(self, event: str, notice: NewNotification | None,
                           now: float) -> str | None:
        async with self._pool.acquire() as conn, conn.transaction():
            inserted = await conn.fetchval(
                "INSERT INTO webhook_events (event, received_at) VALUES ($1, $2) "
                "ON CONFLICT (event) DO NOTHING RETURNING event", event, now)
            if inserted is None or notice is None:
                return None
            await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, $2))",
                               f"{notice.subscription}\n{notice.subject}", _SUBJECT_SEED)
            dup = await conn.fetchval(
                "SELECT 1 FROM notifications WHERE subscription = $1 AND dedupe = $2",
                notice.subscription, notice.dedupe)
            if dup is not None:
                return None
            last = await conn.fetchval(
                "SELECT MAX(sequence) FROM notifications WHERE subscription = $1 "
                "AND subject = $2", notice.subscription, notice.subject)
            created = await conn.fetchval(
                "INSERT INTO notifications (id, subscription, scope, type, subject, payment, "
                "card, sequence, dedupe, event, livemode, event_object, state, next_attempt_at, "
                "created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, "
                "'pending', $13, $13) ON CONFLICT (subscription, dedupe) DO NOTHING RETURNING id",
                notice.id, notice.subscription, notice.scope, notice.type, notice.subject,
                notice.payment, notice.card, int(last or 0) + 1, notice.dedupe, notice.event,
                notice.livemode, notice.event_object, now)
            return str(created) if created is not None else None

    async def due(self, now: float, limit: int, lease_seconds: float) -> list[Notification]:
        rows = await self._pool.fetch(
            "UPDATE notifications SET lease_until = $3 WHERE id IN ("  # noqa: S608
            "SELECT n.id FROM notifications n WHERE n.state = 'pending' "
            "AND n.next_attempt_at <= $1 AND (n.lease_until IS NULL OR n.lease_until < $1) "
            "AND NOT EXISTS (SELECT 1 FROM notifications p WHERE p.subscription = n.subscription "
            "AND p.subject = n.subject AND p.state = 'pending' AND p.sequence < n.sequence) "
            "ORDER BY n.next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED) "
            "RETURNING " + COLUMNS, now, limit, now + lease_seconds)
        return [_n(r) for r in rows]

    async def next_due_at(self) -> float | None:
        got = await self._pool.fetchval(
            "SELECT MIN(GREATEST(next_attempt_at, COALESCE(lease_until, 0))) FROM notifications "
            "WHERE state = 'pending'")
        return None if got is None else float(got)

    async def oldest_pending(self) -> float | None:
        got = await self._pool.fetchval(
            "SELECT MIN(created_at) FROM notifications WHERE state = 'pending'")
        return None if got is None else float(got)

    async def set_body(self, nid: str, body: bytes) -> None:
        await self._pool.execute(
            "UPDATE notifications SET body = $1 WHERE id = $2 AND body IS NULL", body, nid)

    async def delivered(self, nid: str, now: float) -> None:
        await self._pool.execute(
            "UPDATE notifications SET state = 'delivered', attempts = attempts + 1, "
            "delivered_at = $1, lease_until = NULL, last_error = NULL WHERE id = $2", now, nid)

    async def failed_attempt(self, nid: str, next_at: float | None, error: str) -> None:
        if next_at is None:
            await self._pool.execute(
                "UPDATE notifications SET state = 'failed', attempts = attempts + 1, "
                "lease_until = NULL, last_error = $1 WHERE id = $2", error, nid)
        else:
            await self._pool.execute(
                "UPDATE notifications SET attempts = attempts + 1, next_attempt_at = $1, "
                "lease_until = NULL, last_error = $2 WHERE id = $3", next_at, error, nid)

    async def redeliver(self, subscription: str, nid: str, now: float) -> Notification | None:
        await self._pool.execute(
            "UPDATE notifications SET state = 'pending', next_attempt_at = $1, "
            "lease_until = NULL WHERE id = $2 AND subscription = $3", now, nid, subscription)
        return await self.get(subscription, nid)

    async def get(self, subscription: str, nid: str) -> Notification | None:
        r = await self._pool.fetchrow(
            "SELECT " + COLUMNS + " FROM notifications WHERE id = $1 AND subscription = $2",  # noqa: S608
            nid, subscription)
        return None if r is None else _n(r)

    async def recent(self, subscription: str, limit: int,
                     payment: str | None = None) -> list[Notification]:
        if payment is None:
            rows = await self._pool.fetch(
                "SELECT " + COLUMNS + " FROM notifications WHERE subscription = $1 "  # noqa: S608
                "ORDER BY created_at DESC, id DESC LIMIT $2", subscription, limit)
        else:
            rows = await self._pool.fetch(
                "SELECT " + COLUMNS + " FROM notifications WHERE subscription = $1 "  # noqa: S608
                "AND payment = $2 ORDER BY sequence DESC LIMIT $3", subscription, payment, limit)
        return [_n(r) for r in rows]

    async def payment_scope(self, subscription: str, payment: str) -> str | None:
        got = await self._pool.fetchval(
            "SELECT scope FROM payments WHERE id = $1 AND scope LIKE $2 ESCAPE '\\'",
            payment, like_prefix(subscription))
        return None if got is None else str(got)

    async def card_scope(self, subscription: str, token: str) -> str | None:
        got = await self._pool.fetchval(
            "SELECT scope FROM cards WHERE token = $1 AND scope LIKE $2 ESCAPE '\\'",
            token, like_prefix(subscription))
        return None if got is None else str(got)

    async def payment_by_reference(self, scope: str, reference: str) -> str | None:
        got = await self._pool.fetchval(
            "SELECT id FROM payments WHERE scope = $1 AND reference = $2 "
            "ORDER BY created_at DESC LIMIT 1", scope, reference)
        return None if got is None else str(got)
