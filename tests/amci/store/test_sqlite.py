"""SQLite specifics: one process per file, and files made before versioned migrations."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from amci.store import Claim, SqliteStore, open_store
from amci.store.migrations import load

LEGACY_SCHEMA = """
CREATE TABLE idempotency (scope TEXT NOT NULL, key TEXT NOT NULL, request_hash TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('in_flight', 'done')), owner TEXT NOT NULL,
    status INTEGER, body BLOB, created_at REAL NOT NULL, PRIMARY KEY (scope, key));
CREATE INDEX idempotency_created ON idempotency (created_at);
CREATE TABLE cards (scope TEXT NOT NULL, token TEXT NOT NULL, customer TEXT NOT NULL,
    brand TEXT NOT NULL, last4 TEXT NOT NULL, exp_month INTEGER NOT NULL,
    exp_year INTEGER NOT NULL, livemode INTEGER NOT NULL, created_at REAL NOT NULL,
    PRIMARY KEY (scope, token));
CREATE TABLE payments (scope TEXT NOT NULL, id TEXT NOT NULL, currency TEXT NOT NULL,
    amount_minor INTEGER NOT NULL, capture INTEGER NOT NULL, status TEXT NOT NULL,
    reference TEXT, livemode INTEGER NOT NULL, created_at REAL NOT NULL,
    updated_at REAL NOT NULL, PRIMARY KEY (scope, id));
INSERT INTO idempotency VALUES ('s', 'done-key', 'h', 'done', 'old-run', 201, X'7B7D', 100.0);
INSERT INTO idempotency VALUES ('s', 'flying', 'h', 'in_flight', 'old-run', NULL, NULL, 100.0);
"""


async def test_a_file_from_before_migrations_is_adopted_and_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "amci.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(LEGACY_SCHEMA)
    store = await open_store(f"sqlite:///{path}")
    assert await store.schema_version() == len(load("sqlite"))
    replay = await store.claim("s", "done-key", "h", "new-run", 200.0)
    assert (replay.claim, replay.status, replay.body) == (Claim.REPLAY, 201, b"{}")
    # Left in flight by the old process (no claimed_at yet): this process takes it over.
    assert (await store.claim("s", "flying", "h", "new-run", 200.0)).claim is Claim.STARTED
    await store.close()


async def test_memory_and_relative_urls(tmp_path: Path) -> None:
    memory = await open_store("sqlite:///:memory:")
    assert isinstance(memory, SqliteStore)
    assert (await memory.claim("s", "k", "h", "r", 1.0)).claim is Claim.STARTED
    await memory.close()
    absolute = await open_store(f"sqlite:///{tmp_path}/nested/dir/amci.sqlite3")
    await absolute.close()
    assert (tmp_path / "nested" / "dir" / "amci.sqlite3").exists()
