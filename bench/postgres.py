"""A throwaway PostgreSQL cluster for the benchmarks (the Debian server binaries, as the tests
use): a temporary directory, a free loopback port, run as the ``postgres`` user when we are
root (``initdb`` refuses root). Unlike the test cluster it keeps PostgreSQL's durable defaults
(fsync, synchronous_commit, full_page_writes on), so the figures are those of a real setup.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

USER = "amci"


def _bindir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if not found:
        raise SystemExit("no PostgreSQL server binaries: apt-get install postgresql "
                         "(`make test` installs it too)")
    return found[-1].parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Cluster:
    bindir: Path
    port: int
    data: Path

    def create_database(self) -> str:
        name = f"b_{uuid.uuid4().hex[:10]}"
        subprocess.run([str(self.bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                        "-U", USER, name], check=True, capture_output=True)
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{name}"

    def server_pids(self) -> list[int]:
        """The postmaster and every backend it forked (for their CPU time)."""
        first = (self.data / "postmaster.pid").read_text().split()[0]
        pids = [int(first)]
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pids[0]:
                    pids.append(int(stat.parent.name))
        return pids


@contextlib.contextmanager
def cluster() -> Iterator[Cluster]:
    bindir = _bindir()
    root = Path(tempfile.mkdtemp(prefix="amci-bench-pg-"))
    as_user: tuple[str, ...] = ()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        as_user = ("runuser", "-u", "postgres", "--")
    data, port = root / "data", _free_port()
    try:
        subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-U", USER,
                        "-A", "trust", "-E", "UTF8", "--locale=C"],
                       check=True, capture_output=True)
        options = (f"-c port={port} -c listen_addresses=127.0.0.1 "
                   f"-c unix_socket_directories={root} -c max_connections=200")
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-l",
                        str(root / "server.log"), "-w", "-t", "60", "-o", options, "start"],
                       check=True, capture_output=True)
        yield Cluster(bindir, port, data)
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast",
                            "-w", "stop"], check=True, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
