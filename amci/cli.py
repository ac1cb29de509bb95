"""`amci` command line: the only place that reads argv and config files.

    amci serve [--config config/amci.yaml] [--host H] [--port P]
    amci stripe-testmode --host 127.0.0.1 --port PORT [--db PATH]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def _run_testmode(args: argparse.Namespace) -> int:
    # Owned by the test-mode server work (amci/testmode): build TestmodeSettings from args and run.
    raise SystemExit("stripe-testmode: not wired yet")


def _run_serve(args: argparse.Namespace) -> int:
    # Owned by the proxy work: load settings (YAML + env), create_app, run.
    raise SystemExit("serve: not wired yet")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="amci", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the AMCI proxy (with the embedded Stripe test mode)")
    serve.add_argument("--config", default="config/amci.yaml")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(func=_run_serve)

    testmode = sub.add_parser("stripe-testmode", help="run the Stripe-compatible test-mode server")
    testmode.add_argument("--host", default="127.0.0.1")
    testmode.add_argument("--port", type=int, default=12111)
    testmode.add_argument("--db", help="SQLite file (default var/stripe-testmode.sqlite3; ':memory:' for none)")
    testmode.add_argument("--config", help="optional YAML with test-mode settings")
    testmode.set_defaults(func=_run_testmode)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))
