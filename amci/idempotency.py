"""AMCI's own idempotency layer, in front of Stripe's (docs.stripe.com/api/idempotent_requests).

- The first result (status and body) for an ``Idempotency-Key`` is stored, persisted, scoped to
  the subscription and its Stripe account (key), and replayed for 24 h with
  ``Idempotent-Replayed: true``.
- The same key with other parameters → 400 ``idempotency_error``; while the first request is in
  flight → 409 ``idempotency_key_in_use``. Concurrent duplicates therefore make one upstream call.
- Like Stripe, only results of executed work are stored: a refusal before the network (policy,
  auth) and a transient failure (Stripe unreachable, 5xx) are not, so the caller can retry.
- Upstream, AMCI sends a key derived from (scope, client key, path, step): a retry after a crash
  reaches Stripe with the same key and Stripe dedupes it too.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from amci import keys
from amci.auth import Principal
from amci.errors import AmciError, idempotency_key_in_use, idempotency_key_reused, parameter_invalid
from amci.store import Claim, Records

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"


class NotSettled(Exception):
    """The work ran but its outcome is not known yet: answer ``202`` with ``payload`` and keep
    nothing under the key, so a retry runs the work again (and settles it)."""

    def __init__(self, payload: Any) -> None:
        super().__init__("not settled")
        self.payload = payload


@dataclass(frozen=True, slots=True)
class UpstreamKeys:
    """Derives the idempotency key for each upstream step of one AMCI request."""

    base: str

    def step(self, name: str) -> str:
        digest = hashlib.sha256(f"{self.base}\n{name}".encode()).hexdigest()
        return f"amci-{digest[:40]}"


def _json(status: int, payload: Any) -> tuple[int, bytes]:
    """Encoded once: the same bytes are stored for replays and sent."""
    return status, json.dumps(payload, separators=(",", ":")).encode()


async def run(
    request: web.Request,
    principal: Principal,
    body: Any,
    work: Callable[[UpstreamKeys, Records], Awaitable[tuple[int, Any]]],
) -> web.Response:
    """Run ``work`` at most once per (scope, Idempotency-Key); answer with its (status, payload).

    Writes per request: the claim (committed before ``work`` makes any upstream call, so a crash
    never loses it), then one transaction with the result and the records ``work`` added to
    ``Records`` (committed before the response). Without a key: only the records' transaction.
    """
    app = request.app
    store = app[keys.STORE]
    scope = principal.scope
    now = app[keys.CLOCK]()
    records = Records(scope, now)
    client_key = request.headers.get(HEADER)
    if client_key is None:
        # No key: nothing to replay; a random base still gives Stripe per-step keys.
        try:
            status, raw = _json(*await work(UpstreamKeys(f"auto\n{uuid.uuid4().hex}"), records))
        except NotSettled as pending:
            status, raw = _json(202, pending.payload)
        finally:
            if records:
                await store.save(records)
        return _respond(status, raw, replayed=False)
    if not 1 <= len(client_key) <= 255 or not _printable_ascii(client_key):
        # aiohttp hands undecodable header bytes over as surrogates: refused here, never stored.
        raise parameter_invalid(
            HEADER, "Idempotency-Key must be 1–255 printable ASCII characters."
        )

    path = request.path
    canonical = json.dumps(
        [request.method, path, body], sort_keys=True, separators=(",", ":")
    ).encode()
    # Bodies hold card numbers: keep only an HMAC keyed by the caller's Stripe key.
    request_hash = principal.key.mac(canonical)
    metrics = app[keys.METRICS]
    claim = await store.claim(scope, client_key, request_hash, app[keys.INSTANCE], now)
    if claim.claim is Claim.REPLAY:
        metrics.child(metrics.idempotent_replays, _route(request)).inc()
        return _respond(claim.status, claim.body, replayed=True)
    if claim.claim is Claim.MISMATCH:
        metrics.child(metrics.idempotency_conflicts, "reused").inc()
        raise idempotency_key_reused("this one")
    if claim.claim is Claim.IN_FLIGHT:
        metrics.child(metrics.idempotency_conflicts, "in_flight").inc()
        raise idempotency_key_in_use()

    upstream = UpstreamKeys(f"{scope}\n{client_key}\n{path}")
    try:
        status, raw = _json(*await work(upstream, records))
    except NotSettled as pending:
        await store.abandon(scope, client_key, records)
        return _respond(*_json(202, pending.payload), replayed=False)
    except AmciError as exc:
        if exc.cacheable:
            await store.finish(scope, client_key, exc.status,
                               _json(exc.status, exc.envelope())[1], records)
        else:
            await store.abandon(scope, client_key, records)
        raise
    except BaseException:
        await store.abandon(scope, client_key, records)
        raise
    await store.finish(scope, client_key, status, raw, records)
    return _respond(status, raw, replayed=False)


def _printable_ascii(value: str) -> bool:
    return value.isascii() and value.isprintable()


def _respond(status: int, raw: bytes, *, replayed: bool) -> web.Response:
    resp = web.Response(status=status, body=raw, content_type="application/json")
    if replayed:
        resp.headers[REPLAYED] = "true"
    return resp


def _route(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"
