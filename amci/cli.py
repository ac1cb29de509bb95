"""`amci` command line: the only place that reads argv and config files.

    amci serve [--config config/amci.yaml] [--host H] [--port P] [--store URL | --db PATH]
    amci stripe-testmode --host 127.0.0.1 --port PORT [--db PATH]
    amci testmode-listen --api-base URL --api-key KEY --forward-to URL [--events a,b]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from amci.testmode import TestmodeSettings

DEFAULT_CONFIG = "config/amci.yaml"


def _testmode_settings(args: argparse.Namespace) -> TestmodeSettings:
    """--config YAML (keys = TestmodeSettings fields, optionally under ``stripe_testmode:``),
    --db on top. A missing or invalid file, or an unknown key, exits with one line naming it."""
    from pathlib import Path

    import yaml
    from pydantic import ValidationError

    from amci.settings import describe
    from amci.testmode import TestmodeSettings

    values: dict[str, object] = {}
    if args.config:
        try:
            loaded = yaml.safe_load(Path(args.config).read_text()) or {}
        except OSError as exc:
            raise SystemExit(f"amci stripe-testmode: {args.config}: cannot read "
                             f"({exc.strerror})") from None
        except yaml.YAMLError as exc:
            raise SystemExit(f"amci stripe-testmode: {args.config}: not valid YAML "
                             f"({exc})") from None
        section = loaded.get("stripe_testmode", loaded) if isinstance(loaded, dict) else None
        if not isinstance(section, dict):
            raise SystemExit(f"amci stripe-testmode: {args.config}: expected a mapping of "
                             "test-mode settings")
        values.update(section)
    db = args.db or values.get("db_path") or "var/stripe-testmode.sqlite3"
    values["db_path"] = None if db == ":memory:" else db
    try:
        settings = TestmodeSettings.model_validate(values)
    except ValidationError as exc:
        raise SystemExit(
            f"amci stripe-testmode: {args.config or 'settings'}: {describe(exc)}"
        ) from None
    if settings.db_path is not None:
        Path(settings.db_path).parent.mkdir(parents=True, exist_ok=True)
    return settings


def _run_testmode(args: argparse.Namespace) -> int:
    """``amci stripe-testmode``: settings from --config YAML (keys = TestmodeSettings fields),
    --db on top; default store var/stripe-testmode.sqlite3 (':memory:' keeps it in memory)."""
    from amci.testmode import create_app

    settings = _testmode_settings(args)
    try:
        app = create_app(settings)
    except ValueError as exc:
        raise SystemExit(f"amci stripe-testmode: {exc}") from None

    from amci import logs
    from httpkit import serving

    logs.configure("INFO")
    return serving.serve(
        app, host=args.host, port=args.port, name="amci stripe-testmode",
        header_timeout=settings.request_header_timeout_seconds,
        on_listening=lambda: print(f"Stripe test mode listening on http://{args.host}:{args.port}"
                                   f" (store: {settings.db_path or 'memory'})", flush=True),
    )


def _encryption_key(path: str) -> Any:
    """AMCI's sealing key from ``path``, made (mode 0600) on first start; never printed."""
    import os
    from pathlib import Path

    from pydantic import SecretStr

    from amci.sealing import Sealer

    file = Path(path)
    if not file.exists():
        file.parent.mkdir(parents=True, exist_ok=True)
        # Written whole under a private name, then linked into place: replicas starting
        # together never read a file another one has created but not written yet.
        draft = file.with_name(f".{file.name}.{os.getpid()}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(Sealer.generate() + "\n")
        try:
            os.link(draft, file)
        except FileExistsError:
            pass  # another AMCI process made it first: read theirs
        finally:
            draft.unlink()
    return SecretStr(file.read_text().strip())


def _run_serve(args: argparse.Namespace) -> int:
    """The AMCI proxy: settings from YAML + ``AMCI_*`` environment, flags last."""
    import os
    import sys
    from pathlib import Path

    from amci.settings import SettingsError, load_settings

    # An explicit --config must exist; the default may be absent (then: built-in defaults and
    # AMCI_* variables, said once on stderr).
    config: Path | None = Path(args.config or DEFAULT_CONFIG)
    assert config is not None
    if not config.exists():
        if args.config:
            raise SystemExit(f"amci serve: {args.config}: no such file")
        print(f"amci serve: {DEFAULT_CONFIG} not found; using built-in defaults and AMCI_* "
              "variables", file=sys.stderr, flush=True)
        config = None
    flags: dict[str, object] = {}
    if args.host:
        flags["host"] = args.host
    if args.port is not None:
        flags["port"] = args.port
    overrides: dict[str, dict[str, object]] = {"server": flags} if flags else {}
    if args.store or args.db:
        overrides["store"] = {"url": args.store or f"sqlite:///{args.db}"}
    try:
        settings = load_settings(config, os.environ, overrides or None)
    except SettingsError as exc:
        raise SystemExit(f"amci serve: {config or 'settings'}: {exc}") from None
    if settings.notifications.encryption_key is None:
        settings = settings.model_copy(update={"notifications": settings.notifications.model_copy(
            update={"encryption_key": _encryption_key(settings.notifications.encryption_key_file)}
        )})
    server = settings.server
    # Imported once the settings are known good: a bad setting answers fast.
    from amci import logs
    from amci.app import create_app
    from httpkit import serving

    logs.configure(settings.log_level)
    return serving.serve(
        create_app(settings), host=server.host, port=server.port, name="amci serve",
        header_timeout=server.request_header_timeout_seconds,
        on_listening=lambda: print(f"AMCI on http://{server.host}:{server.port}"
                                   "  (OpenAPI /openapi.json, metrics /metrics)", flush=True),
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="amci", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the AMCI proxy (with the embedded Stripe test mode)")
    serve.add_argument(
        "--config", help=f"YAML settings (default {DEFAULT_CONFIG}, which may be absent)"
    )
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    where = serve.add_mutually_exclusive_group()
    where.add_argument("--store", metavar="URL",
                       help="sqlite:///PATH or postgresql://USER@HOST:PORT/DB (store.url)")
    where.add_argument("--db", metavar="PATH", help="shorthand for --store sqlite:///PATH")
    serve.set_defaults(func=_run_serve)

    testmode = sub.add_parser("stripe-testmode", help="run the Stripe-compatible test-mode server")
    testmode.add_argument("--host", default="127.0.0.1")
    testmode.add_argument("--port", type=int, default=12111)
    testmode.add_argument(
        "--db", help="SQLite file (default var/stripe-testmode.sqlite3; ':memory:' for none)"
    )
    testmode.add_argument("--config", help="YAML with test-mode settings (must exist if given)")
    testmode.set_defaults(func=_run_testmode)

    listen = sub.add_parser("testmode-listen",
                            help="like `stripe listen`: forward the test mode's webhooks")
    listen.add_argument("--api-base", required=True, help="the test-mode server's URL")
    listen.add_argument("--api-key", required=True, help="the account's sk_test_ key")
    listen.add_argument("--forward-to", required=True, help="URL to POST each event to")
    listen.add_argument("--events", help="comma-separated event types (default: all)")
    listen.add_argument("--port", type=int, default=0, help="local port to receive on")
    listen.set_defaults(func=_run_listen)
    return parser


def _run_listen(args: argparse.Namespace) -> int:
    """``amci testmode-listen``: amci.testmode.listen until ^C/SIGTERM."""
    import asyncio
    import signal

    from amci.testmode.listen import ListenError, listen

    events = [e.strip() for e in args.events.split(",") if e.strip()] if args.events else None

    async def run() -> None:
        task = asyncio.ensure_future(listen(args.api_base, args.api_key, args.forward_to, events,
                                            port=args.port,
                                            out=lambda line: print(line, flush=True)))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            pass

    try:
        asyncio.run(run())
    except ListenError as exc:
        raise SystemExit(f"amci testmode-listen: {exc}") from None
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))
