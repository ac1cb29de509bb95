"""`amci` command line: the only place that reads argv and config files.

    amci serve [--config config/amci.yaml] [--host H] [--port P] [--store URL | --db PATH]
    amci stripe-testmode --host 127.0.0.1 --port PORT [--db PATH]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def _run_testmode(args: argparse.Namespace) -> int:
    """``amci stripe-testmode``: settings from --config YAML (keys = TestmodeSettings fields),
    --db on top; default store var/stripe-testmode.sqlite3 (':memory:' keeps it in memory)."""
    import asyncio
    import dataclasses
    from collections.abc import Callable
    from pathlib import Path

    import yaml
    from aiohttp import web

    from amci.testmode import TestmodeSettings, create_app

    fields = {f.name for f in dataclasses.fields(TestmodeSettings)}
    values: dict[str, object] = {}
    if args.config:
        loaded = yaml.safe_load(Path(args.config).read_text()) or {}
        if not isinstance(loaded, dict):
            raise SystemExit(f"{args.config}: expected a mapping of test-mode settings")
        section = loaded.get("stripe_testmode", loaded)
        unknown = sorted(set(section) - fields)
        if unknown:
            raise SystemExit(f"{args.config}: unknown test-mode setting {unknown[0]!r}"
                             f" (known: {', '.join(sorted(fields))})")
        values.update(section)
    db = args.db or values.get("db_path") or "var/stripe-testmode.sqlite3"
    if db != ":memory:":
        Path(str(db)).parent.mkdir(parents=True, exist_ok=True)
    values["db_path"] = None if db == ":memory:" else str(db)
    try:
        settings = TestmodeSettings(**values)  # type: ignore[arg-type]
        app = create_app(settings)
    except (TypeError, ValueError) as exc:
        raise SystemExit(f"stripe-testmode: {exc}") from None

    async def serve() -> None:
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, args.host, args.port)
        await site.start()
        print(f"Stripe test mode listening on http://{args.host}:{args.port}"
              f" (store: {settings.db_path or 'memory'})", flush=True)
        stop = asyncio.Event()
        import signal

        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    factory: Callable[[], asyncio.AbstractEventLoop] = asyncio.new_event_loop
    try:
        import uvloop

        factory = uvloop.new_event_loop
    except ImportError:
        pass
    try:
        with asyncio.Runner(loop_factory=factory) as runner:
            runner.run(serve())
    except KeyboardInterrupt:
        pass
    return 0


def _run_serve(args: argparse.Namespace) -> int:
    """The AMCI proxy: settings from YAML + ``AMCI_*`` environment, flags last."""
    import dataclasses
    import os
    from pathlib import Path

    from aiohttp import web

    from amci import logs
    from amci.app import create_app
    from amci.settings import SettingsError, load_settings

    config = Path(args.config)
    try:
        settings = load_settings(config if config.exists() else None, os.environ)
        server = dataclasses.replace(
            settings.server,
            host=args.host or settings.server.host,
            port=args.port if args.port is not None else settings.server.port,
        )
        settings = dataclasses.replace(settings, server=server)
        if args.store or args.db:
            url = args.store or f"sqlite:///{args.db}"
            settings = dataclasses.replace(
                settings, store=dataclasses.replace(settings.store, url=url))
    except SettingsError as exc:
        raise SystemExit(f"amci serve: {args.config}: {exc}") from None
    logs.configure(settings.log_level)
    try:
        import uvloop  # the `speed` extra

        uvloop.install()
    except ImportError:
        pass
    print(
        f"AMCI on http://{server.host}:{server.port}  (OpenAPI /openapi.json, metrics /metrics)",
        flush=True,
    )
    web.run_app(
        create_app(settings), host=server.host, port=server.port, access_log=None, print=None
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="amci", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the AMCI proxy (with the embedded Stripe test mode)")
    serve.add_argument("--config", default="config/amci.yaml")
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
    testmode.add_argument("--config", help="optional YAML with test-mode settings")
    testmode.set_defaults(func=_run_testmode)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))
