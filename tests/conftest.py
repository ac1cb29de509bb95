"""Suite-wide fixtures: a throwaway PostgreSQL cluster for the store and replica tests.

The Debian server binaries (``make test`` installs the ``postgresql`` package when missing)
run a cluster in a temporary directory on a free loopback port, once per session, started only
if a test asks for it. ``initdb`` refuses to run as root, so as root the cluster belongs to the
``postgres`` user. Every test gets its own database (``pg_url``)."""

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

import pytest

PG_USER = "amci"


def _bindir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if not found:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql: "
                           "run `make test` (it installs the Debian postgresql package)")
    return found[-1].parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class PostgresCluster:
    bindir: Path
    port: int
    as_user: tuple[str, ...]

    def url(self, database: str) -> str:
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        subprocess.run([str(self.bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                        "-U", PG_USER, name], check=True, capture_output=True)
        return self.url(name)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    bindir = _bindir()
    root = Path(tempfile.mkdtemp(prefix="amci-pg-"))
    as_user: tuple[str, ...] = ()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        as_user = ("runuser", "-u", "postgres", "--")
    data, log = root / "data", root / "server.log"
    port = _free_port()
    try:
        subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-U", PG_USER,
                        "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"],
                       check=True, capture_output=True)
        # fsync off: a throwaway cluster; the replicas' crashes are what these tests exercise.
        options = (f"-c port={port} -c listen_addresses=127.0.0.1 "
                   f"-c unix_socket_directories={root} -c fsync=off -c full_page_writes=off "
                   "-c max_connections=200")
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log),
                        "-w", "-t", "60", "-o", options, "start"],
                       check=True, capture_output=True)
    except subprocess.CalledProcessError as exc:
        text = log.read_text() if log.exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"PostgreSQL test cluster failed: {exc.stderr!r}\n{text}") from None
    try:
        yield PostgresCluster(bindir, port, as_user)
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                            "-w", "stop"], check=True, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_url(postgres_cluster: PostgresCluster) -> str:
    """A fresh, empty database on the session's cluster."""
    return postgres_cluster.create_database()
