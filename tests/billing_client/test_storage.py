"""The store's versioned schema: old files are brought up to date at open, newer ones refused."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from billing_client.auth import Tokens
from billing_client.storage import MIGRATIONS, SCHEMA, Storage, StorageError


async def test_a_database_from_before_versioning_is_brought_up_to_date(tmp_path: Path) -> None:
    """Its rows stay; it gains the tokens table, and its pending transaction (no
    next_attempt_at yet) is due for the reconciler at once."""
    db = tmp_path / "old.sqlite3"
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.executescript(SCHEMA)
        conn.execute(
            "INSERT INTO customers (id, name, currency, created, updated) "
            "VALUES ('cust_old', 'Old', 'USD', 1, 1)"
        )
        conn.execute(
            "INSERT INTO transactions (id, customer_id, operation, currency, status, "
            "idempotency_key, created, updated) "
            "VALUES ('txn_old', 'cust_old', 'capture', 'USD', 'pending', 'bc-old', 100, 100)"
        )
        conn.commit()
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
    storage = Storage(str(db))
    await storage.open()
    try:
        assert [c["id"] for c in await storage.list_customers()] == ["cust_old"]
        await Tokens(storage).create("after-upgrade")
        assert [t["id"] for t in await storage.due_transactions(100, 10)] == ["txn_old"]
        assert await storage.due_transactions(99, 10) == []
    finally:
        await storage.close()
    with contextlib.closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    # Opening again applies nothing twice (an ALTER TABLE would fail if it did).
    storage = Storage(str(db))
    await storage.open()
    await storage.close()


async def test_a_database_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "new.sqlite3"
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    storage = Storage(str(db))
    with pytest.raises(StorageError, match="newer"):
        await storage.open()
    await storage.close()


def test_serve_on_a_newer_database_exits_with_one_line(tmp_path: Path, fernet_key: str) -> None:
    db = tmp_path / "new.sqlite3"
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    config = tmp_path / "bc.yaml"
    config.write_text(f"crypto: {{encryption_key: '{fernet_key}'}}\n")
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-m", "billing_client", "serve", "--config", str(config),
         "--db", str(db), "--port", "0"],
        cwd=root, capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert done.returncode == 2, done.stderr
    assert "storage error" in done.stderr and "newer" in done.stderr
    assert "Traceback" not in done.stderr
