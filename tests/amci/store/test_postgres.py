"""PostgreSQL specifics: claims shared by replicas (each a store with its own owner id and
connections), owners that die, and the shared GCRA on the database server's clock."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import pytest

from amci.errors import StoreUnavailable
from amci.store import Claim, open_store
from amci.store.postgres import PostgresStore

ROOT = Path(__file__).resolve().parents[3]


async def _pg(url: str) -> PostgresStore:
    store = await open_store(url)
    assert isinstance(store, PostgresStore)
    return store


async def test_a_live_replica_keeps_its_claim_until_it_closes(pg_url: str) -> None:
    a, b = await _pg(pg_url), await _pg(pg_url)
    assert (await a.claim("s", "k", "h", "replica-a", 100.0)).claim is Claim.STARTED
    assert (await b.claim("s", "k", "h", "replica-b", 100.0)).claim is Claim.IN_FLIGHT
    assert (await b.claim("s", "k", "h2", "replica-b", 100.0)).claim is Claim.MISMATCH
    await a.close()
    assert (await b.claim("s", "k", "h", "replica-b", 101.0)).claim is Claim.STARTED
    await b.close()


async def test_duplicates_on_two_replicas_start_once(pg_url: str) -> None:
    a, b = await _pg(pg_url), await _pg(pg_url)
    for key in ("k1", "k2", "k3"):
        results = await asyncio.gather(*(
            (a if i % 2 else b).claim("s", key, "h", "replica-a" if i % 2 else "replica-b", 1.0)
            for i in range(20)))
        assert sum(r.claim is Claim.STARTED for r in results) == 1, results
    await a.close()
    await b.close()


async def test_racing_takeovers_of_a_dead_owner_start_once(pg_url: str) -> None:
    dead = await _pg(pg_url)
    assert (await dead.claim("s", "k", "h", "gone", 1.0)).claim is Claim.STARTED
    await dead.close()
    stores = [await _pg(pg_url) for _ in range(3)]
    results = await asyncio.gather(*(
        stores[i % 3].claim("s", "k", "h", f"replica-{i % 3}", 2.0) for i in range(15)))
    assert sum(r.claim is Claim.STARTED for r in results) == 1, results
    for store in stores:
        await store.close()


async def test_a_killed_process_frees_its_claims(pg_url: str) -> None:
    """kill -9 runs no cleanup: PostgreSQL ends the dead process's sessions, which releases its
    owner lock, and the claim it left is taken over."""
    script = (
        "import asyncio, sys\n"
        "from amci.store import open_store\n"
        "async def main():\n"
        f"    store = await open_store({pg_url!r})\n"
        "    print((await store.claim('s', 'k', 'h', 'doomed', 1.0)).claim.value, flush=True)\n"
        "    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)\n"
        "asyncio.run(main())\n"
    )
    proc = subprocess.Popen(  # noqa: ASYNC220 - the process under test, once
        [sys.executable, "-c", script], cwd=ROOT, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout is not None
    line = await asyncio.get_running_loop().run_in_executor(None, proc.stdout.readline)
    assert line.strip() == b"started"
    store = await _pg(pg_url)
    assert (await store.claim("s", "k", "h", "survivor", 2.0)).claim is Claim.IN_FLIGHT
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdin.close()  # type: ignore[union-attr]
    proc.stdout.close()
    admin = await asyncpg.connect(pg_url)
    deadline = time.monotonic() + 10
    # The server notices the closed sockets on its own; wait for its sessions to end.
    while await admin.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = 'amci-liveness' AND pid <> ALL($1::int[])",
            [c.get_server_pid() for c in [store._liveness]]):
        assert time.monotonic() < deadline, "the killed process's session is still there"
        await asyncio.sleep(0.02)
    await admin.close()
    assert (await store.claim("s", "k", "h", "survivor", 3.0)).claim is Claim.STARTED
    await store.close()


async def test_shared_gcra_spaces_calls_across_replicas(pg_url: str) -> None:
    """Three replicas book concurrently: every bucket's slots are one emission apart, on the
    server's clock; the account bucket is shared by two endpoints' buckets."""
    stores = [await _pg(pg_url) for _ in range(3)]
    account, ep_a, ep_b = ("test:acme", 0.02), ("test:acme:A", 0.05), ("test:acme:B", 0.05)
    booked = await asyncio.gather(*(
        stores[i % 3].book_slot_at([account, ep_a if i % 2 else ep_b], max_wait=5.0)
        for i in range(24)))
    slots = [b for b in booked if b is not None]
    assert len(slots) == 24
    times = sorted(t for t, _ in slots)
    assert min(b - a for a, b in itertools.pairwise(times)) >= 0.02 - 1e-6
    for parity in (0, 1):
        mine = sorted(booked[i][0] for i in range(24) if i % 2 == parity)  # type: ignore[index]
        assert min(b - a for a, b in itertools.pairwise(mine)) >= 0.05 - 1e-6
    # 12 calls per endpoint at 20/s: at least 0.55 s from first to last; first come, first
    # booked, so at most both endpoints' spans one after the other.
    assert 0.55 - 1e-6 <= times[-1] - times[0] <= 1.2 + 1e-6
    for store in stores:
        await store.close()


async def test_shared_gcra_refuses_beyond_max_wait_without_booking(pg_url: str) -> None:
    store = await _pg(pg_url)
    bucket = [("live:acme", 2.0)]
    booked = [await store.book_slot_at(bucket, max_wait=5.0) for _ in range(3)]
    assert all(b is not None for b in booked)
    first = booked[0][0]  # type: ignore[index]
    assert [b[0] - first for b in booked] == pytest.approx([0.0, 2.0, 4.0])  # type: ignore[index]
    assert booked[0][0] == booked[0][1]  # type: ignore[index]  # an idle bucket: at once
    # The next slot is 6 s after the first: beyond a 5 s wait, refused…
    assert await store.book_slot(bucket, max_wait=5.0) is None
    later = await store.book_slot_at(bucket, max_wait=10.0)
    # …and nothing was booked: the slot after the refusal is still first + 6 s.
    assert later is not None and later[0] - first == pytest.approx(6.0)
    # An emptied table (what a database crash does to an UNLOGGED one) is recreated.
    await store.pool.execute("TRUNCATE rate_limits")
    assert await store.book_slot(bucket, max_wait=0.5) == 0.0
    await store.close()


async def test_a_lost_liveness_connection_is_replaced_before_the_next_claim(pg_url: str) -> None:
    a, b = await _pg(pg_url), await _pg(pg_url)
    assert (await a.claim("s", "k1", "h", "replica-a", 1.0)).claim is Claim.STARTED
    admin = await asyncpg.connect(pg_url)
    # What a database restart or a network cut does to the liveness session.
    assert await admin.fetchval("SELECT pg_terminate_backend($1)",
                                a._liveness.get_server_pid())
    await admin.close()
    # Its lock is gone with it: b may take a's key over (the upstream key keeps that safe).
    assert (await b.claim("s", "k1", "h", "replica-b", 2.0)).claim is Claim.STARTED
    # a's next claim connects again and holds its lock again: b sees a live owner.
    assert (await a.claim("s", "k2", "h", "replica-a", 3.0)).claim is Claim.STARTED
    assert (await b.claim("s", "k2", "h", "replica-b", 3.0)).claim is Claim.IN_FLIGHT
    await a.close()
    await b.close()


class Cable:
    """A TCP path to the database that the test can cut (a network failure or a database
    that went away), forwarding bytes both ways until then."""

    def __init__(self, target_port: int) -> None:
        self._target = target_port
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> Cable:
        self._server = await asyncio.start_server(self._pipe, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.cut()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._target)
        self._writers += [writer, up_writer]

        async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer))

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in self._writers:
            writer.transport.abort()


async def test_an_unreachable_database_is_a_503_not_a_500(pg_url: str) -> None:
    port = int(pg_url.rsplit(":", 1)[1].split("/", 1)[0])
    async with Cable(port) as cable:
        store = await _pg(pg_url.replace(f":{port}/", f":{cable.port}/"))
        assert (await store.claim("s", "k", "h", "replica-a", 1.0)).claim is Claim.STARTED
        await cable.cut()
        for attempt in (
            store.claim("s", "k2", "h", "replica-a", 1.0),
            store.finish("s", "k", 201, b"{}"),
            store.card("s", "pm_1"),
            store.book_slot([("test:acme", 0.1)], max_wait=1.0),
            store.ping(),
        ):
            with pytest.raises(StoreUnavailable) as caught:
                await attempt
            assert (caught.value.status, caught.value.code) == (503, "store_unavailable")
        assert await store.prune(older_than=10.0) == 0  # best effort: the pruner keeps going
        await store.close()
