"""SQLite specifics: one process per file, and files made before versioned migrations."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from amci.store import Claim, SqliteStore, open_store
from amci.store.migrations import load
from amci.store.sqlite import StoreInUse

ROOT = Path(__file__).resolve().parents[3]

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


async def test_a_second_process_on_one_file_is_refused_until_the_first_dies(
    tmp_path: Path,
) -> None:
    """Two processes on one file would each claim the same duplicates and both call Stripe."""
    path = tmp_path / "amci.sqlite3"
    script = (
        "import asyncio, sys\n"
        "from amci.store import open_store\n"
        "async def main():\n"
        f"    store = await open_store({f'sqlite:///{path}'!r})\n"
        "    print('open', flush=True)\n"
        "    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)\n"
        "    await store.close()\n"
        "asyncio.run(main())\n"
    )
    proc = subprocess.Popen(  # noqa: ASYNC220 - the other process, once
        [sys.executable, "-c", script], cwd=ROOT, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout is not None and proc.stdin is not None
    line = await asyncio.get_running_loop().run_in_executor(None, proc.stdout.readline)
    assert line.strip() == b"open"
    with pytest.raises(StoreInUse, match="another AMCI process uses this SQLite file"):
        SqliteStore(str(path))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdin.close()
    proc.stdout.close()
    store = SqliteStore(str(path))  # the kernel dropped the dead process's lock
    again = SqliteStore(str(path))  # this process may open it twice (a restart in place)
    await again.close()
    await store.close()
