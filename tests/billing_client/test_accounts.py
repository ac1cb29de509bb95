"""Administrator accounts, customers' self-care logins, sessions and the sign-in throttle, on the
real store (the browser tests in ``web/`` drive the same through pages)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from billing_client import keys
from billing_client.auth import (
    AccountError,
    Admins,
    CustomerLogins,
    Password,
    hash_password,
    verify_password,
)
from billing_client.sessions import Sessions, Throttle
from billing_client.storage import Storage

from .conftest import Clock, url

Client = TestClient[Any, Any]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Storage]:
    storage = Storage(str(tmp_path / "people.sqlite3"))
    await storage.open()
    try:
        yield storage
    finally:
        await storage.close()


def test_passwords_are_salted_scrypt_hashes() -> None:
    first = hash_password(Password("a long enough password"))
    second = hash_password(Password("a long enough password"))
    assert first != second  # salted
    assert first.startswith("scrypt$16384$8$1$")
    assert verify_password("a long enough password", first)
    assert not verify_password("a long enough passworD", first)
    assert not verify_password("anything", "not-a-hash")
    assert "a long enough password" not in repr(Password("a long enough password"))


async def test_admins_verify_by_password_and_refuse_duplicates(store: Storage) -> None:
    admins = Admins(store)
    await admins.create("ops.lead", "a long enough password")
    assert await admins.verify("ops.lead", "a long enough password") == "ops.lead"
    assert await admins.verify("ops.lead", "wrong password!") is None
    assert await admins.verify("nobody", "a long enough password") is None
    with pytest.raises(AccountError, match="already exists"):
        await admins.create("ops.lead", "another long password")
    with pytest.raises(AccountError, match="10-200 characters"):
        await admins.create("second", "short")
    with pytest.raises(AccountError, match="username"):
        await admins.create("a", "a long enough password")


async def test_customer_logins_are_unique_and_replaceable(store: Storage) -> None:
    for cid in ("cust_1", "cust_2"):
        await store.execute(
            "INSERT INTO customers (id, name, email, currency, created, updated) "
            "VALUES (?, 'X', NULL, 'USD', 0, 0)",
            (cid,),
        )
    logins = CustomerLogins(store)
    with pytest.raises(AccountError) as first:
        await logins.set("cust_1", "john.doe", None)  # no password yet
    assert first.value.field == "self_care_password"
    await logins.set("cust_1", "john.doe", "john-secret-pw")
    assert await logins.verify("john.doe", "john-secret-pw") == "cust_1"
    with pytest.raises(AccountError) as taken:
        await logins.set("cust_2", "john.doe", "other-secret-pw")
    assert taken.value.field == "self_care_username"
    await logins.set("cust_1", "john", None)  # rename, password kept
    assert await logins.verify("john", "john-secret-pw") == "cust_1"
    await logins.set("cust_1", "john", "a-new-password")
    assert await logins.verify("john", "john-secret-pw") is None
    assert await logins.verify("john", "a-new-password") == "cust_1"


async def test_sessions_end_idle_at_max_age_and_on_logout(store: Storage) -> None:
    clock = Clock()
    sessions = Sessions(store, idle_seconds=600, max_seconds=3600, clock=clock)
    cookie = await sessions.start("admin", "ops")
    found = await sessions.find("admin", cookie)
    assert found is not None and found.subject == "ops" and len(found.csrf) >= 43
    assert await sessions.find("customer", cookie) is None  # another kind: not this session
    # Only the cookie's digest is stored.
    rows = await store.fetch_all("SELECT id_sha256 FROM sessions")
    assert cookie not in str(rows)
    for _ in range(6):  # kept alive by use: 6 x 9 minutes, never idle 10
        clock.advance(540)
        assert await sessions.find("admin", cookie) is not None
    clock.advance(540)
    assert await sessions.find("admin", cookie) is None  # 63 minutes: past the maximum age
    other = await sessions.start("admin", "ops")
    clock.advance(601)
    assert await sessions.find("admin", other) is None  # idle past 10 minutes
    third = await sessions.start("admin", "ops")
    await sessions.end(third)
    assert await sessions.find("admin", third) is None


async def test_throttle_counts_per_key_within_the_window(store: Storage) -> None:
    clock = Clock()
    throttle = Throttle(store, limit=3, address_limit=5, window=60, clock=clock)
    keys_ = throttle.keys("admin", "Ops", "10.0.0.1")
    for _ in range(3):
        assert await throttle.blocked_for(keys_) == 0
        await throttle.failed(keys_)
    assert await throttle.blocked_for(keys_) == 60
    assert await throttle.blocked_for(throttle.keys("admin", "ops", "10.0.0.2")) == 60  # no case
    # Another username from the same address: the address has room for two more failures.
    other = throttle.keys("admin", "other", "10.0.0.1")
    assert await throttle.blocked_for(other) == 0
    await throttle.failed(other)
    await throttle.failed(other)
    assert await throttle.blocked_for(throttle.keys("admin", "third", "10.0.0.1")) == 60
    assert await throttle.blocked_for(throttle.keys("customer", "ops", "10.0.0.1")) == 0
    clock.advance(45)
    assert await throttle.blocked_for(keys_) == 15
    clock.advance(15)
    assert await throttle.blocked_for(keys_) == 0
    await throttle.failed(keys_)  # a new window starts at one failure
    assert await throttle.blocked_for(keys_) == 0
    await throttle.succeeded(keys_)
    rows = await store.fetch_all("SELECT key FROM login_failures ORDER BY key")
    assert [r["key"] for r in rows] == ["admin:addr:10.0.0.1", "admin:user:other"]


def _cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "billing_client", *args],
        cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False,
    )


async def test_create_admin_reads_the_password_from_stdin(
    bc: Client, tmp_path: Path, fernet_key: str
) -> None:
    db = bc.app[keys.SETTINGS].db_path
    config = tmp_path / "bc.yaml"
    config.write_text(f"crypto: {{encryption_key: '{fernet_key}'}}\n")
    args = ("create-admin", "--username", "ops.lead", "--config", str(config), "--db", db)
    made = await asyncio.to_thread(_cli, *args, stdin="the operators password\n")
    assert made.returncode == 0, made.stderr
    assert made.stdout == "" and "the operators password" not in made.stderr
    assert await bc.app[keys.ADMINS].verify("ops.lead", "the operators password") == "ops.lead"
    again = await asyncio.to_thread(_cli, *args, stdin="the operators password\n")
    assert again.returncode == 1 and "already exists" in again.stderr
    short = await asyncio.to_thread(
        _cli, "create-admin", "--username", "other", "--config", str(config), "--db", db,
        stdin="short\n",
    )
    assert short.returncode == 1 and "10-200 characters" in short.stderr
    generated = await asyncio.to_thread(
        _cli, "create-admin", "--username", "gen", "--generate-password",
        "--config", str(config), "--db", db,
    )
    assert generated.returncode == 0, generated.stderr
    password = generated.stdout.strip()
    assert len(password) >= 20
    assert await bc.app[keys.ADMINS].verify("gen", password) == "gen"
    # The store keeps hashes only.
    with contextlib.closing(sqlite3.connect(db)) as conn:
        stored = conn.execute("SELECT password_hash FROM admins").fetchall()
    assert all(row[0].startswith("scrypt$") for row in stored)
    assert password not in str(stored)
    # And the account signs in to the console over HTTP.
    # unsafe: aiohttp's jar otherwise keeps no cookie from an IP address such as 127.0.0.1.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        root = url(bc.server)
        async with session.get(f"{root}/admin/login") as page:
            text = await page.text()
        token = text.split('name="csrf_token" value="')[1].split('"')[0]
        async with session.post(
            f"{root}/admin/login",
            data={"csrf_token": token, "username": "gen", "password": password},
            allow_redirects=False,
        ) as signed:
            assert signed.status == 303 and signed.headers["Location"] == "/admin/"
            assert "bc_admin" in signed.cookies
            morsel = signed.cookies["bc_admin"]
            assert morsel["httponly"] and morsel["samesite"] == "Lax"
