"""Persisted due work, in the store's SQLite file and transactions: timers (an authorization
expiring, a refund failing, a dispute being decided) and the webhook outbox (one row per event
and endpoint, with its attempt count and when it is next due).

A timer is written in the same transaction as the change that schedules it, and deleted in the
transaction that runs it, so a restart neither loses nor repeats one. A delivery row is written
with its event; it is marked done only after a 2xx, so a restart re-sends what was in flight
(at-least-once, as Stripe: "might occasionally receive the same event more than once").
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS timers (
    id       INTEGER PRIMARY KEY,
    account  TEXT NOT NULL,
    due      INTEGER NOT NULL,
    kind     TEXT NOT NULL,          -- what to run (amci.testmode.timers.HANDLERS)
    ref      TEXT NOT NULL,          -- the object it is about
    payload  TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS timers_by_due ON timers(due, id);
CREATE TABLE IF NOT EXISTS deliveries (
    seq       INTEGER PRIMARY KEY,
    account   TEXT NOT NULL,
    event     TEXT NOT NULL,
    endpoint  TEXT NOT NULL,
    due       INTEGER NOT NULL,
    attempts  INTEGER NOT NULL DEFAULT 0,
    state     TEXT NOT NULL DEFAULT 'pending',  -- pending | delivered | failed | dropped
    held      INTEGER NOT NULL DEFAULT 0,       -- out-of-order fault: wait for a later one
    created   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries(due, seq) WHERE state='pending';
CREATE INDEX IF NOT EXISTS deliveries_by_event ON deliveries(account, event);
"""


@dataclass(frozen=True, slots=True)
class Timer:
    id: int
    account: str
    due: int
    kind: str
    ref: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Delivery:
    seq: int
    account: str
    event: str
    endpoint: str
    due: int
    attempts: int


class Queue:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        db.executescript(SCHEMA)

    # --- timers ------------------------------------------------------------------------------

    def schedule(self, account: str, kind: str, ref: str, due: int,
                 payload: dict[str, Any] | None = None) -> None:
        self._db.execute(
            "INSERT INTO timers(account, due, kind, ref, payload) VALUES (?,?,?,?,?)",
            (account, due, kind, ref, json.dumps(payload or {})))

    def next_due(self, now: int) -> Timer | None:
        r = self._db.execute(
            "SELECT id, account, due, kind, ref, payload FROM timers WHERE due<=?"
            " ORDER BY due, id LIMIT 1", (now,)).fetchone()
        return None if r is None else Timer(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]))

    def remove(self, timer_id: int) -> None:
        self._db.execute("DELETE FROM timers WHERE id=?", (timer_id,))

    def timers_for(self, account: str, ref: str) -> list[Timer]:
        return [Timer(r[0], r[1], r[2], r[3], r[4], json.loads(r[5])) for r in self._db.execute(
            "SELECT id, account, due, kind, ref, payload FROM timers WHERE account=? AND ref=?",
            (account, ref))]

    # --- the webhook outbox --------------------------------------------------------------------

    def enqueue(self, account: str, event: str, endpoint: str, due: int, now: int, *,
                held: bool = False) -> None:
        self._db.execute(
            "INSERT INTO deliveries(account, event, endpoint, due, held, created)"
            " VALUES (?,?,?,?,?,?)", (account, event, endpoint, due, int(held), now))

    def due_deliveries(self, now: int, limit: int, skip: set[int]) -> list[Delivery]:
        """Pending deliveries due by ``now``, oldest first; a held one (out-of-order fault) only
        once a later delivery to the same endpoint has been attempted."""
        rows = self._db.execute(
            "SELECT seq, account, event, endpoint, due, attempts, held FROM deliveries d"
            " WHERE state='pending' AND due<=? ORDER BY due, seq LIMIT ?",
            (now, limit + len(skip))).fetchall()
        out = []
        for r in rows:
            if r[0] in skip:
                continue
            if r[6] and not self._db.execute(
                    "SELECT 1 FROM deliveries WHERE endpoint=? AND seq>? AND attempts>0 LIMIT 1",
                    (r[3], r[0])).fetchone():
                continue
            out.append(Delivery(*r[:6]))
        return out[:limit]

    def next_delivery_due(self) -> int | None:
        r = self._db.execute(
            "SELECT min(due) FROM deliveries WHERE state='pending'").fetchone()
        return None if r is None or r[0] is None else int(r[0])

    def attempted(self, seq: int, *, state: str, due: int | None = None) -> None:
        self._db.execute(
            "UPDATE deliveries SET attempts=attempts+1, state=?, due=coalesce(?, due),"
            " held=0 WHERE seq=?", (state, due, seq))

    def drop(self, seq: int) -> None:
        self._db.execute("UPDATE deliveries SET state='dropped' WHERE seq=?", (seq,))

    def pending_count(self, account: str, event: str) -> int:
        """``pending_webhooks``: endpoints this event has not yet been delivered to."""
        r = self._db.execute(
            "SELECT count(*) FROM deliveries WHERE account=? AND event=? AND state='pending'",
            (account, event)).fetchone()
        return int(r[0])

    def pending_total(self) -> int:
        return int(self._db.execute(
            "SELECT count(*) FROM deliveries WHERE state='pending'").fetchone()[0])

    def prune(self, created_before: int) -> None:
        self._db.execute("DELETE FROM deliveries WHERE created<? AND state!='pending'",
                         (created_before,))
