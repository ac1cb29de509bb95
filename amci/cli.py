"""`amci` command line: the only place that reads argv and config files.

    amci serve [--config config/amci.yaml] [--host H] [--port P] [--store URL | --db PATH]
    amci stripe-testmode --host 127.0.0.1 --port PORT [--db PATH]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING

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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))
