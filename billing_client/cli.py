"""`billing-client` command line: the only place that reads argv, config files and the environment.

billing-client serve [--config config/billing_client.yaml] [--host H] [--port P] [--amci URL]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Sequence

from billing_client import logs, serving
from billing_client.app import create_app
from billing_client.settings import SettingsError, load_settings


def _serve(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args.config, os.environ)
        overrides: dict[str, object] = {}
        if args.host:
            overrides["host"] = args.host
        if args.port is not None:
            overrides["port"] = args.port
        if args.amci:
            overrides["amci_url"] = args.amci
        if args.db:
            overrides["db_path"] = args.db
        settings = dataclasses.replace(settings, **overrides)  # type: ignore[arg-type]
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="billing-client", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the billing client's JSON API")
    serve.add_argument("--config", default="config/billing_client.yaml")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--amci", help="AMCI base URL, e.g. http://127.0.0.1:8080")
    serve.add_argument("--db", help="SQLite file (default var/billing_client.sqlite3)")
    serve.set_defaults(func=_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))
