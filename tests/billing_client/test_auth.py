"""API tokens and the access rules by route family, over real HTTP against the real app and store.

Clients here build their own requests (a plain aiohttp session, or a raw socket for bytes aiohttp
won't send) because the ``bc`` fixture's client carries a valid token on every call."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from billing_client import cli, keys
from billing_client.access import check_routes
from billing_client.auth import ApiToken, TokenError, Tokens, digest
from billing_client.storage import Storage

from .conftest import Captured

Client = TestClient[Any, Any]
ROOT = Path(__file__).resolve().parents[2]


async def raw(
    bc: Client, method: str, path: str, *, token: str | None = None, **kw: Any
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """One request without the fixture's token: ``token`` (if any) is the only credential."""
    headers = dict(kw.pop("headers", {}))
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with (
        aiohttp.ClientSession() as s,
        s.request(method, str(bc.make_url(path)), headers=headers, **kw) as r,
    ):
        text = await r.text()
        return r.status, json.loads(text) if text.startswith("{") else {}, dict(r.headers)


async def new_token(bc: Client, name: str) -> str:
    return (await bc.app[keys.TOKENS].create(name)).reveal()


# -- 401: one answer for every kind of bad credential ------------------------------------------


async def test_no_wrong_malformed_or_revoked_token_is_one_401(bc: Client) -> None:
    token = await new_token(bc, "integration")
    status, _, _ = await raw(bc, "GET", "/api/customers", token=token)
    assert status == 200
    await bc.app[keys.TOKENS].revoke("integration")

    attempts = {
        "missing": {},
        "wrong": {"Authorization": "Bearer bct_" + "A" * 43},
        "revoked": {"Authorization": f"Bearer {token}"},
        "basic scheme": {"Authorization": f"Basic {token}"},
        "empty bearer": {"Authorization": "Bearer "},
        "huge": {"Authorization": "Bearer " + "x" * 5000},
    }
    bodies = set()
    for what, headers in attempts.items():
        status, body, hdrs = await raw(bc, "GET", "/api/customers", headers=headers)
        assert status == 401, what
        assert hdrs["WWW-Authenticate"].startswith("Bearer"), what
        assert body["error"]["type"] == "invalid_request_error", what
        assert body["error"]["code"] == "authentication_required", what
        bodies.add(json.dumps(body, sort_keys=True))
    assert len(bodies) == 1  # nothing tells a missing token from a wrong or revoked one
    assert token not in bodies.pop()


async def test_every_api_route_and_method_needs_the_token(bc: Client) -> None:
    """Known routes, unknown /api paths (401, not 404: no map without a token) and methods."""
    cases = [
        ("GET", "/api/payment-systems"),
        ("POST", "/api/customers"),
        ("PATCH", "/api/customers/cust_x"),
        ("DELETE", "/api/payment-systems/ps_x"),
        ("PUT", "/api/currencies/USD"),
        ("POST", "/api/transactions/txn_x/void"),
        ("GET", "/api/nothing-here"),
        ("GET", "/api"),
        ("GET", "/%61pi/customers"),  # percent-encoded: routed as /api/customers
    ]
    for method, path in cases:
        status, body, _ = await raw(bc, method, path, json={"name": "x"})
        assert status == 401, (method, path, body)
    assert await bc.app[keys.STORAGE].list_customers() == []
    # With the token the unknown path is an ordinary 404.
    assert (await bc.get("/api/nothing-here")).status == 404


async def test_service_routes_stay_open(bc: Client) -> None:
    for path in ("/healthz", "/metrics", "/openapi.json"):
        status, _, _ = await raw(bc, "GET", path)
        assert status == 200, path


async def test_a_non_ascii_authorization_header_is_refused_not_a_500(bc: Client) -> None:
    host, port = bc.server.host, bc.server.port
    assert port is not None
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(
            b"GET /api/customers HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Authorization: Bearer bct_\xff\xfe\xed\r\n\r\n"
        )
        await writer.drain()
        head = await reader.readline()
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    # The header check (middleware.py) answers 400 before the token is looked at; either way
    # a refusal, never a 500 and never the resource.
    assert head.split()[1] in (b"400", b"401"), head


# -- 415: state changes under /api are JSON ------------------------------------------------------


async def test_json_sent_as_text_plain_is_refused_and_changes_nothing(bc: Client) -> None:
    """The CSRF shape: a web page can POST a JSON text as text/plain without a preflight."""
    body = json.dumps({"name": "Mallory", "currency": "USD"})
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {"Content-Type": content_type} if content_type else {}
        r = await bc.post("/api/customers", data=body.encode(), headers=headers)
        assert r.status == 415, content_type
        err = (await r.json())["error"]
        assert (err["type"], err["code"]) == ("invalid_request_error", "unsupported_media_type")
    r = await bc.patch(
        "/api/payment-systems/ps_x", data=b"{}", headers={"Content-Type": "text/plain"}
    )
    assert r.status == 415
    assert await bc.app[keys.STORAGE].list_customers() == []


async def test_json_with_a_charset_and_bodiless_posts_pass(bc: Client) -> None:
    r = await bc.post(
        "/api/customers",
        data=json.dumps({"name": "Jane", "currency": "USD"}).encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert r.status == 201, await r.text()
    # A bodiless POST (void, retry) needs no content type: it reaches the handler (404 here).
    r = await bc.post("/api/transactions/txn_missing/void", headers={"Content-Type": "text/plain"})
    assert r.status == 404
    # GET with a stray content type is not a state change.
    r = await bc.get("/api/customers", headers={"Content-Type": "text/plain"})
    assert r.status == 200


# -- tokens: the CLI, the store, the logs -----------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "billing_client", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )


async def _main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``billing-client ARGS`` in-process (in a thread: it runs its own event loop)."""
    capsys.readouterr()
    rc = await asyncio.to_thread(cli.main, list(args))
    out, err = capsys.readouterr()
    return rc, out, err


async def test_create_and_revoke_token_commands_against_a_running_service(
    bc: Client,
    tmp_path: Path,
    fernet_key: str,
    captured_logs: Captured,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = bc.app[keys.SETTINGS].db_path
    config = tmp_path / "bc.yaml"
    config.write_text(f"crypto: {{encryption_key: '{fernet_key}'}}\n")
    where = ("--config", str(config), "--db", db)
    made = await asyncio.to_thread(_cli, "create-token", "--name", "ops", *where)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert made.stdout == token + "\n" and token.startswith("bct_") and len(token) == 4 + 43
    assert "shown only this once" in made.stderr and token not in made.stderr

    status, _, _ = await raw(bc, "GET", "/api/customers", token=token)
    assert status == 200
    # The refusals, in-process (the same cli.main; a process start costs more than the rest).
    rc, out, err = await _main(capsys, "create-token", "--name", "ops", *where)
    assert (rc, out) == (1, "") and "already exists" in err

    # Only the digest is stored: the plaintext is nowhere in the database file.
    with contextlib.closing(sqlite3.connect(db)) as conn:
        rows = conn.execute("SELECT name, token_sha256 FROM api_tokens").fetchall()
    assert ("ops", digest(token)) in rows
    for path in Path(db).parent.glob(Path(db).name + "*"):
        assert token.encode() not in path.read_bytes()

    gone = await asyncio.to_thread(_cli, "revoke-token", "--name", "ops", *where)
    assert gone.returncode == 0, gone.stderr
    status, _, _ = await raw(bc, "GET", "/api/customers", token=token)
    assert status == 401  # revoked by another process: effective at once
    rc, _, err = await _main(capsys, "revoke-token", "--name", "ops", *where)
    assert rc == 1 and "no token named 'ops'" in err
    missing = ("--config", str(tmp_path / "none.yaml"), "--db", db)
    rc, out, err = await _main(capsys, "create-token", "--name", "x", *missing)
    assert (rc, out) == (2, "") and "configuration error" in err

    assert captured_logs.lines  # the requests above were logged…
    assert not [line for line in captured_logs.lines if token in line]  # …without the token


async def test_the_token_never_reaches_a_log_line(bc: Client, captured_logs: Captured) -> None:
    token = await new_token(bc, "logged")
    await raw(bc, "GET", "/api/customers", token=token)
    await raw(bc, "POST", "/api/customers", token=token, data=b"{}",
              headers={"Content-Type": "text/plain"})
    await raw(bc, "GET", "/api/customers", token=token[:-1] + "x")
    await raw(bc, "GET", "/api/nothing-here", token=token)
    events = [json.loads(line)["event"] for line in captured_logs.lines]
    assert events.count("request") == 4 and "request_refused" in events
    for line in captured_logs.lines:
        assert token not in line and token[4:] not in line
        assert token[:-1] not in line


def test_a_token_prints_masked() -> None:
    token = ApiToken("bct_" + "s" * 43)
    assert "s" * 8 not in f"{token} {token!r} {[token]}"
    assert str(token) == "bct_•••••"


@pytest.mark.parametrize("name", ["", "-x", "a b", "x" * 65, "naïve", "a/b"])
async def test_token_names_are_checked(tmp_path: Path, name: str) -> None:
    storage = Storage(str(tmp_path / "t.sqlite3"))
    await storage.open()
    try:
        with pytest.raises(TokenError):
            await Tokens(storage).create(name)
    finally:
        await storage.close()


async def test_tokens_are_random_and_verify_by_name(tmp_path: Path) -> None:
    storage = Storage(str(tmp_path / "t.sqlite3"))
    await storage.open()
    try:
        tokens = Tokens(storage)
        a, b = await tokens.create("a"), await tokens.create("b")
        assert a != b
        assert await tokens.verify(a.reveal()) == "a"
        assert await tokens.verify(b.reveal()) == "b"
        assert await tokens.verify(a.reveal() + "x") is None
        assert await tokens.verify(digest(a.reveal())) is None  # the stored digest is no key
        assert await tokens.names() == ["a", "b"]
        with pytest.raises(TokenError, match="already exists"):
            await tokens.create("a")
        await tokens.revoke("a")
        assert await tokens.verify(a.reveal()) is None
        assert await tokens.verify(b.reveal()) == "b"
    finally:
        await storage.close()


def test_a_route_outside_every_family_is_refused_at_start() -> None:
    app = web.Application()

    async def page(request: web.Request) -> web.Response:
        return web.Response()

    app.router.add_get("/api/fine", page)
    app.router.add_get("/healthz", page)
    check_routes(app)
    app.router.add_get("/console", page)
    with pytest.raises(RuntimeError, match="/console"):
        check_routes(app)


async def test_the_openapi_document_declares_the_token_on_api_routes_only(bc: Client) -> None:
    status, doc, _ = await raw(bc, "GET", "/openapi.json")
    assert status == 200
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if method == "parameters":
                continue
            if path.startswith("/api/"):
                assert op["security"] == [{"bearerAuth": []}], (method, path)
                assert "401" in op["responses"], (method, path)
                if method in ("post", "put", "patch", "delete"):
                    assert "415" in op["responses"], (method, path)
            else:
                assert "security" not in op, (method, path)
