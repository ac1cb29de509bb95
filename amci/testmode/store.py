"""SQLite persistence of every account's objects and idempotent results.

One table of Stripe objects keyed by (account, id) with the public JSON, private simulator state
(test-card behaviour; never a card number or CVC) and two indexed filter columns per kind, so
every lookup and list page is an index range: cost does not grow with the store. Objects live on
disk, not in RAM (SQLite's page cache is bounded). Each API mutation runs in one transaction
(``begin``/``commit``), including its idempotent result.

The store is synchronous on purpose: each call is tens of microseconds, the event loop runs one
request's resource function at a time, so a mutation is never interleaved with another.
WAL with ``synchronous=NORMAL`` survives process crashes; a power loss may drop the last commits.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amci.testmode import jsontext

_CMP = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}

SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    seq      INTEGER PRIMARY KEY,     -- insertion order; lists are newest first
    account  TEXT NOT NULL,
    id       TEXT NOT NULL,
    kind     TEXT NOT NULL,
    f1       TEXT,                    -- per-kind list filter (customer, email, charge)
    f2       TEXT,                    -- per-kind list filter (payment_intent)
    data     TEXT NOT NULL,           -- the public Stripe JSON object
    internal TEXT NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX IF NOT EXISTS objects_by_id ON objects(account, id);
CREATE INDEX IF NOT EXISTS objects_by_kind ON objects(account, kind, seq);
CREATE INDEX IF NOT EXISTS objects_by_f1 ON objects(account, kind, f1, seq) WHERE f1 IS NOT NULL;
CREATE INDEX IF NOT EXISTS objects_by_f2 ON objects(account, kind, f2, seq) WHERE f2 IS NOT NULL;
CREATE TABLE IF NOT EXISTS idempotency (
    account     TEXT NOT NULL,
    key         TEXT NOT NULL,
    created     INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    status      INTEGER NOT NULL,
    body        TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    PRIMARY KEY (account, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idempotency_by_created ON idempotency(created);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
"""


@dataclass(slots=True)
class Row:
    seq: int
    id: str
    kind: str
    data: dict[str, Any]
    internal: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Change:
    """One write inside a transaction, as the journal records it (JSON text: the object as of
    that moment, whatever the caller does with its dict afterwards)."""

    account: str
    kind: str
    id: str
    before: str | None
    before_internal: str | None
    after: str
    after_internal: str


@dataclass(frozen=True, slots=True)
class SavedResult:
    created: int
    fingerprint: str
    status: int
    body: str
    request_id: str


_dumps = jsontext.dumps
_loads = jsontext.loads


class Store:
    def __init__(self, path: str | None) -> None:
        memory = path in (None, ":memory:")
        if not memory:
            Path(str(path)).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(":memory:" if memory else str(path), isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA cache_size=-16000")  # 16 MB page cache, whatever the store size
        self._db.execute("PRAGMA temp_store=MEMORY")
        self._db.executescript(SCHEMA)
        self._in_tx = False
        self._writes = 0
        # Writes of the open transaction, in order: events are derived from them at commit.
        self.journal: list[Change] = []

    @property
    def db(self) -> sqlite3.Connection:
        """The connection, for the modules owning the other tables (timers, deliveries), so
        their writes share the API's transactions."""
        return self._db

    def close(self) -> None:
        self._db.close()

    # --- transactions ----------------------------------------------------------------------

    def begin(self) -> None:
        self._db.execute("BEGIN")
        self._in_tx = True
        self.journal = []

    def commit(self) -> None:
        if self._in_tx:
            self._db.execute("COMMIT")
            self._in_tx = False

    def rollback(self) -> None:
        if self._in_tx:
            self._db.execute("ROLLBACK")
            self._in_tx = False
        self.journal = []

    @property
    def in_transaction(self) -> bool:
        return self._in_tx

    # --- meta (the clock's reading, across restarts) ---------------------------------------

    def meta(self, name: str) -> str | None:
        r = self._db.execute("SELECT value FROM meta WHERE name=?", (name,)).fetchone()
        return None if r is None else str(r[0])

    def set_meta(self, name: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?,?)", (name, value))

    # --- objects ----------------------------------------------------------------------------

    def get(self, account: str, ident: str) -> Row | None:
        cur = self._db.execute(
            "SELECT seq, id, kind, data, internal FROM objects WHERE account=? AND id=?",
            (account, ident),
        )
        r = cur.fetchone()
        if r is None:
            return None
        return Row(r[0], r[1], r[2], _loads(r[3]), _loads(r[4]))

    def insert(
        self,
        account: str,
        kind: str,
        data: dict[str, Any],
        internal: dict[str, Any] | None = None,
        *,
        f1: str | None = None,
        f2: str | None = None,
    ) -> None:
        text, itext = _dumps(data), _dumps(internal or {})
        self._db.execute(
            "INSERT INTO objects(account, id, kind, f1, f2, data, internal) VALUES (?,?,?,?,?,?,?)",
            (account, data["id"], kind, f1, f2, text, itext),
        )
        if self._in_tx:
            self.journal.append(Change(account, kind, data["id"], None, None, text, itext))

    def update(
        self,
        account: str,
        data: dict[str, Any],
        internal: dict[str, Any] | None = None,
        *,
        f1: str | None = None,
        f2: str | None = None,
    ) -> None:
        text, itext = _dumps(data), _dumps(internal or {})
        old = self._db.execute(
            "SELECT kind, data, internal FROM objects WHERE account=? AND id=?",
            (account, data["id"])).fetchone() if self._in_tx else None
        self._db.execute(
            "UPDATE objects SET data=?, internal=?, f1=?, f2=? WHERE account=? AND id=?",
            (text, itext, f1, f2, account, data["id"]),
        )
        if old is not None and (old[1] != text or old[2] != itext):
            self.journal.append(Change(account, old[0], data["id"], old[1], old[2], text, itext))

    def delete(self, account: str, ident: str) -> None:
        self._db.execute("DELETE FROM objects WHERE account=? AND id=?", (account, ident))

    def prune_kind(self, kind: str, created_before: int) -> int:
        """Drop objects of ``kind`` created before a time (events past their retention)."""
        cur = self._db.execute(
            "DELETE FROM objects WHERE kind=? AND json_extract(data, '$.created')<?",
            (kind, created_before))
        return cur.rowcount

    def seq_of(self, account: str, ident: str, kind: str) -> int | None:
        r = self._db.execute(
            "SELECT seq FROM objects WHERE account=? AND id=? AND kind=?", (account, ident, kind)
        ).fetchone()
        return None if r is None else int(r[0])

    def page(
        self,
        account: str,
        kind: str,
        *,
        f1: str | None = None,
        f2: str | None = None,
        limit: int = 10,
        before_seq: int | None = None,
        after_seq: int | None = None,
        created: Mapping[str, int] | None = None,
        equal: Mapping[str, str] | None = None,
        f1_any: list[str] | None = None,
    ) -> tuple[list[Row], bool]:
        """Newest first. ``before_seq`` = Stripe's starting_after, ``after_seq`` = ending_before,
        ``created`` = bounds on the object's ``created`` ({"gt"|"gte"|"lt"|"lte": seconds}).
        Returns the rows and whether more exist in the paging direction."""
        where = ["account=?", "kind=?"]
        args: list[Any] = [account, kind]
        if f1 is not None:
            where.append("f1=?")
            args.append(f1)
        if f2 is not None:
            where.append("f2=?")
            args.append(f2)
        if f1_any:
            # Exact names, or "group.*" prefixes (events' type filters).
            alts = []
            for value in f1_any:
                if value.endswith("*"):
                    alts.append("f1 LIKE ? ESCAPE '\\'")
                    args.append(value[:-1].replace("\\", "\\\\").replace("%", "\\%")
                                .replace("_", "\\_") + "%")
                else:
                    alts.append("f1=?")
                    args.append(value)
            where.append("(" + " OR ".join(alts) + ")")
        for op, bound in (created or {}).items():
            where.append(f"json_extract(data, '$.created'){_CMP[op]}?")
            args.append(bound)
        for field, value in (equal or {}).items():
            where.append("json_extract(data, ?)=?")
            args.extend((f"$.{field}", value))
        ascending = False
        if before_seq is not None:
            where.append("seq<?")
            args.append(before_seq)
        elif after_seq is not None:
            where.append("seq>?")
            args.append(after_seq)
            ascending = True
        sql = (
            f"SELECT seq, id, kind, data, internal FROM objects WHERE {' AND '.join(where)}"  # noqa: S608 - fixed fragments
            f" ORDER BY seq {'ASC' if ascending else 'DESC'} LIMIT ?"
        )
        args.append(limit + 1)
        rows = [
            Row(r[0], r[1], r[2], _loads(r[3]), _loads(r[4]))
            for r in self._db.execute(sql, args)
        ]
        more = len(rows) > limit
        rows = rows[:limit]
        if ascending:
            rows.reverse()
        return rows, more

    def scan(self, account: str, kind: str, *, before_seq: int | None = None,
             batch: int = 200) -> Iterator[Row]:
        """Every object of ``kind``, newest first, from below ``before_seq`` (search walks this,
        filtering in Python: the query language is richer than an index)."""
        bound = before_seq if before_seq is not None else 2**62
        while True:
            rows = [
                Row(r[0], r[1], r[2], _loads(r[3]), _loads(r[4]))
                for r in self._db.execute(
                    "SELECT seq, id, kind, data, internal FROM objects WHERE account=? AND kind=?"
                    " AND seq<? ORDER BY seq DESC LIMIT ?", (account, kind, bound, batch))
            ]
            yield from rows
            if len(rows) < batch:
                return
            bound = rows[-1].seq

    def by_filter(self, account: str, kind: str, f1: str) -> list[Row]:
        """Every object of ``kind`` whose f1 is ``f1`` (e.g. a customer's payment methods)."""
        return [
            Row(r[0], r[1], r[2], _loads(r[3]), _loads(r[4]))
            for r in self._db.execute(
                "SELECT seq, id, kind, data, internal FROM objects WHERE account=? AND kind=?"
                " AND f1=? ORDER BY seq",
                (account, kind, f1),
            )
        ]

    def bulk_insert(
        self, rows: Iterable[tuple[str, str, str, str | None, str | None, str, str]]
    ) -> None:
        """(account, id, kind, f1, f2, data_json, internal_json) rows in one transaction: used to
        seed large stores (bench/testmode.py), not by the API."""
        self._db.execute("BEGIN")
        try:
            self._db.executemany(
                "INSERT INTO objects(account, id, kind, f1, f2, data, internal)"
                " VALUES (?,?,?,?,?,?,?)",
                rows,
            )
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def all_with_status(self, kind: str, status: str) -> list[tuple[str, Row]]:
        """(account, row) of every object of ``kind`` in ``status``, across accounts (a full
        scan: for start-up only)."""
        return [
            (r[0], Row(r[1], r[2], r[3], _loads(r[4]), _loads(r[5])))
            for r in self._db.execute(
                "SELECT account, seq, id, kind, data, internal FROM objects WHERE kind=?"
                " AND json_extract(data, '$.status')=?", (kind, status))
        ]

    def count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM objects").fetchone()[0])

    # --- idempotency --------------------------------------------------------------------------

    def saved_result(self, account: str, key: str, not_before: int) -> SavedResult | None:
        r = self._db.execute(
            "SELECT created, fingerprint, status, body, request_id FROM idempotency"
            " WHERE account=? AND key=? AND created>=?",
            (account, key, not_before),
        ).fetchone()
        return None if r is None else SavedResult(*r)

    def save_result(self, account: str, key: str, result: SavedResult) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO idempotency VALUES (?,?,?,?,?,?,?)",
            (account, key, result.created, result.fingerprint, result.status, result.body,
             result.request_id),
        )

    def maybe_prune(self, older_than: int, every: int = 1000) -> None:
        """Drop expired idempotent results now and then (an index range on ``created``)."""
        self._writes += 1
        if self._writes % every == 1:
            self.prune_results(older_than)

    def prune_results(self, older_than: int) -> int:
        cur = self._db.execute("DELETE FROM idempotency WHERE created<?", (older_than,))
        return cur.rowcount
