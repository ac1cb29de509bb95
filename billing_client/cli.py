"""`billing-client` command line: the only place that reads argv, config files and the environment.

billing-client serve [--config config/billing_client.yaml] [--host H] [--port P] [--amci URL]
                     [--store URL | --db FILE]
billing-client create-token --name NAME [--config …] [--store URL | --db FILE]   (prints it once)
billing-client revoke-token --name NAME [--config …] [--store URL | --db FILE]
billing-client create-admin --username NAME [--config …] [--store URL | --db FILE]
                            [--generate-password]   (password from stdin, or made and printed once)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from billing_client import logs
from billing_client.app import create_app
from billing_client.auth import AccountError, Admins, TokenError, Tokens, generate_password
from billing_client.settings import DEFAULT_CONFIG, Settings, SettingsError, load_settings
from billing_client.storage import Storage, StorageError
from httpkit import serving


def _load(args: argparse.Namespace) -> Settings:
    """Settings from --config (default: config/billing_client.yaml when present), the
    environment and the flags; an explicitly given --config must exist."""
    path = args.config if args.config is not None else DEFAULT_CONFIG
    if args.config is None and not Path(path).is_file():
        path = None
    flags = {"server.host": args.host, "server.port": args.port, "amci.url": args.amci}
    if args.store is not None or args.db is not None:
        # --db is the shorthand for a SQLite file; either wins over the file's store.url.
        flags["store.url"] = args.store if args.store is not None else f"sqlite:///{args.db}"
    return load_settings(path, os.environ, {k: v for k, v in flags.items() if v is not None})


def _serve(args: argparse.Namespace) -> int:
    try:
        settings = _load(args)
    except SettingsError as exc:
        print(f"billing-client: configuration error: {exc}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level)
    try:
        return serving.serve(
            create_app(settings), host=settings.host, port=settings.port, name="billing-client",
            header_timeout=settings.request_header_timeout_seconds,
            on_listening=lambda: print(
                f"billing-client listening on http://{settings.host}:{settings.port} "
                f"(AMCI at {settings.amci_url})", file=sys.stderr, flush=True),
        )
    except SettingsError as exc:
        print(f"billing-client: configuration error: {exc}", file=sys.stderr)
        return 2
    except StorageError as exc:
        print(f"billing-client: storage error: {exc}", file=sys.stderr)
        return 2


def _db_path(args: argparse.Namespace) -> str:
    """The store ``serve`` would use with the same ``--config``/``--store``/``--db`` (and
    environment)."""
    return _load(args).store


async def _with_tokens(db_path: str, name: str, create: bool) -> str | None:
    storage = Storage(db_path)
    await storage.open()
    try:
        tokens = Tokens(storage)
        if create:
            return (await tokens.create(name)).reveal()
        await tokens.revoke(name)
        return None
    finally:
        await storage.close()


def _token_command(args: argparse.Namespace, *, create: bool) -> int:
    try:
        db_path = _db_path(args)
    except SettingsError as exc:
        print(f"billing-client: configuration error: {exc}", file=sys.stderr)
        return 2
    try:
        token = asyncio.run(_with_tokens(db_path, args.name, create))
    except (TokenError, StorageError) as exc:
        print(f"billing-client: {exc}", file=sys.stderr)
        return 1
    if token is not None:
        # The one place the plaintext is shown: stdout alone (scripts capture it), the notice on
        # stderr.
        print(token, flush=True)
        print(
            f"billing-client: API token {args.name!r} created; it is shown only this once "
            "(the store keeps its SHA-256 only).",
            file=sys.stderr,
        )
    else:
        print(f"billing-client: API token {args.name!r} revoked.", file=sys.stderr)
    return 0


async def _create_admin(db_path: str, username: str, password: str) -> None:
    storage = Storage(db_path)
    await storage.open()
    try:
        await Admins(storage).create(username, password)
    finally:
        await storage.close()


def _admin_command(args: argparse.Namespace) -> int:
    """An administrator for the console. The password comes from standard input (its first
    line), never from argv (which other users of the machine can read); or, with
    ``--generate-password``, is made here and printed once on stdout."""
    try:
        db_path = _db_path(args)
    except SettingsError as exc:
        print(f"billing-client: configuration error: {exc}", file=sys.stderr)
        return 2
    if args.generate_password:
        password = generate_password()
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        asyncio.run(_create_admin(db_path, args.username, password))
    except AccountError as exc:
        print(f"billing-client: {exc.message}", file=sys.stderr)
        return 1
    except StorageError as exc:
        print(f"billing-client: {exc}", file=sys.stderr)
        return 1
    if args.generate_password:
        print(password, flush=True)
    print(
        f"billing-client: administrator {args.username!r} created "
        "(the store keeps a scrypt hash of the password only).",
        file=sys.stderr,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="billing-client", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the billing client's JSON API")
    serve.add_argument(
        "--config", help=f"YAML settings file (default: {DEFAULT_CONFIG}, if it exists)"
    )
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--amci", help="AMCI base URL, e.g. http://127.0.0.1:8080")
    where = serve.add_mutually_exclusive_group()
    where.add_argument("--store", metavar="URL",
                       help="sqlite:///PATH or postgresql://USER@HOST:PORT/DB (store.url)")
    where.add_argument("--db", help="SQLite file (default var/billing_client.sqlite3)")
    serve.set_defaults(func=_serve)
    for command, create, help_ in (
        ("create-token", True, "create an API token for /api and print it (once)"),
        ("revoke-token", False, "revoke an API token by name"),
    ):
        tok = sub.add_parser(command, help=help_)
        tok.add_argument("--name", required=True, help="unique name, e.g. the integration's")
        tok.add_argument(
            "--config", help=f"YAML settings file (default: {DEFAULT_CONFIG}, if it exists)"
        )
        where = tok.add_mutually_exclusive_group()
        where.add_argument("--store", metavar="URL", help="the store URL (default: the settings')")
        where.add_argument("--db", help="SQLite file (default: the settings' store)")
        tok.set_defaults(
            func=lambda a, create=create: _token_command(a, create=create),
            host=None,
            port=None,
            amci=None,
        )
    admin = sub.add_parser(
        "create-admin", help="create a console administrator (password read from stdin)"
    )
    admin.add_argument("--username", required=True)
    admin.add_argument(
        "--generate-password", action="store_true",
        help="make a random password and print it (once) instead of reading stdin",
    )
    admin.add_argument(
        "--config", help=f"YAML settings file (default: {DEFAULT_CONFIG}, if it exists)"
    )
    where = admin.add_mutually_exclusive_group()
    where.add_argument("--store", metavar="URL", help="the store URL (default: the settings')")
    where.add_argument("--db", help="SQLite file (default: the settings' store)")
    admin.set_defaults(func=_admin_command, host=None, port=None, amci=None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))
