"""Benchmark: AMCI's Stripe test mode vs localstripe, then AMCI's at 100,000 stored objects.

    make bench-testmode        (or: .venv/bin/python -m bench.testmode [--seconds N])

Workload (both servers, same run): 32 concurrent workers, each with its own customer and attached
card, loop "create a PaymentIntent (amount, currency, customer, payment_method)" then "confirm it"
— two POSTs per payment, each with a fresh Idempotency-Key as the stripe SDK sends. Both servers
run as separate processes on 127.0.0.1 and persist: ours to a temporary SQLite file, localstripe
to a private copy of its pickle (its Store.dump_to_disk is pointed at a temp file instead of the
shared /tmp/localstripe.pickle; the cost — pickling the whole store on every write — is unchanged).
localstripe is GPL-3.0 and is only ever run here, in a subprocess, never imported by the product.

Then the store is grown to 100,000 objects (seeded directly through amci.testmode.store.Store
.bulk_insert with copies of the objects the first run created, in the same account as the
workload — the worst case for per-account indexes) and the workload is run again; the resident
memory (VmRSS) of our server process is read from /proc after that run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import aiohttp

from amci.testmode.store import Store
from amci.testmode.wire import new_id

CONCURRENCY = 32
SAMPLE: dict[str, object] = {}  # a PaymentIntent the test mode returned: the bare server's body
KEY = "sk_test_bench" + "x" * 20
AUTH = {"Authorization": f"Bearer {KEY}"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
CARD = "card[number]=4242424242424242&card[exp_month]=12&card[exp_year]=2034&card[cvc]=123"

LOCALSTRIPE = """
import pickle, sys
from aiohttp import web
import localstripe.resources as resources
from localstripe.server import app
path = sys.argv[2]
def dump_to_disk(self):
    with open(path, "wb") as f:
        pickle.dump(self, f, protocol=pickle.HIGHEST_PROTOCOL)
# Never touch the shared /tmp/localstripe.pickle: persist to this run's private file only.
resources.Store.dump_to_disk = lambda self: None
seed = int(sys.argv[3]) if len(sys.argv) > 3 else 0
for i in range(seed):  # grow the store without pickling on each object, then persist once
    resources.Customer._api_create(email=f"seed{i}@example.com")
resources.Store.dump_to_disk = dump_to_disk
resources.store.dump_to_disk()
print("localstripe listening", flush=True)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
"""

# The ceiling: a bare aiohttp app (same event loop, no access log) answering the same routes —
# each POST's form is parsed and answered with the JSON text of a real PaymentIntent from the
# test-mode run (argv[2]), its id swapped per request, so the response body is the same size.
# With a database path (argv[3]) it also commits each body to SQLite: the durable floor.
BARE = """
import json, secrets, sqlite3, sys
from aiohttp import web
pi = json.loads(open(sys.argv[2]).read())
db = None
if len(sys.argv) > 3:  # the durable floor: one SQLite commit (WAL, synchronous=NORMAL) per POST
    db = sqlite3.connect(sys.argv[3], isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE objects (id TEXT PRIMARY KEY, data TEXT NOT NULL)")
async def post(request):
    form = await request.post()
    body = dict(pi, id="pi_" + secrets.token_hex(12), amount=int(form.get("amount", 2000)))
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    if db is not None:
        db.execute("BEGIN")
        db.execute("INSERT INTO objects VALUES (?,?)", (body["id"], text))
        db.execute("COMMIT")
    return web.Response(text=text, content_type="application/json")
async def get(request):
    return web.json_response({"object": "list", "data": []})
app = web.Application()
app.router.add_get("/v1/customers", get)
app.router.add_post("/{tail:.*}", post)
try:
    import uvloop
    uvloop.install()
except ImportError:
    pass
print("bare listening", flush=True)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def start(args: list[str], ready: bytes) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), timeout=60)
        if ready not in line:
            raise RuntimeError(f"{args[:3]} did not start: {line!r}")
    except BaseException:
        proc.kill()
        await proc.wait()
        raise
    return proc


async def wait_http(base: str, http: aiohttp.ClientSession) -> None:
    deadline = time.monotonic() + 30  # start-up polling with a deadline
    while True:
        try:
            async with http.get(base + "/v1/customers", headers=AUTH) as r:
                await r.read()
                return
        except aiohttp.ClientConnectionError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


async def stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), timeout=30)


async def post(http: aiohttp.ClientSession, url: str, body: str) -> dict[str, object]:
    headers = {**AUTH, **FORM, "Idempotency-Key": str(uuid.uuid4())}
    async with http.post(url, data=body, headers=headers) as r:
        data = await r.json()
        if r.status != 200:
            raise RuntimeError(f"{url}: {r.status} {data}")
        return data  # type: ignore[no-any-return]


async def setup_worker(http: aiohttp.ClientSession, base: str) -> tuple[str, str]:
    cus = await post(http, base + "/v1/customers", "email=bench%40example.com")
    pm = await post(http, base + "/v1/payment_methods", "type=card&" + CARD)
    await post(http, f"{base}/v1/payment_methods/{pm['id']}/attach", f"customer={cus['id']}")
    return str(cus["id"]), str(pm["id"])


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (/proc/<pid>/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run_load(base: str, seconds: float, pid: int | None = None) -> dict[str, float]:
    """create+confirm at CONCURRENCY for ``seconds``; returns req/s, latency percentiles and,
    given the server's ``pid``, its CPU per request (less sensitive to a busy machine)."""
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=CONCURRENCY * 2)
    async with aiohttp.ClientSession(connector=connector) as http:
        await wait_http(base, http)
        workers = await asyncio.gather(*(setup_worker(http, base) for _ in range(CONCURRENCY)))
        deadline = time.perf_counter() + seconds

        async def timed(url: str, body: str) -> dict[str, object] | None:
            nonlocal errors
            t0 = time.perf_counter()
            try:
                data = await post(http, url, body)
            except (RuntimeError, aiohttp.ClientError):
                errors += 1
                return None
            latencies.append(time.perf_counter() - t0)
            return data

        async def worker(cus: str, pm: str) -> None:
            create = f"amount=2000&currency=usd&customer={cus}&payment_method={pm}"
            while time.perf_counter() < deadline:
                pi = await timed(base + "/v1/payment_intents", create)
                if pi is not None:
                    SAMPLE.setdefault("pi", pi)
                if pi is not None and time.perf_counter() < deadline:
                    await timed(f"{base}/v1/payment_intents/{pi['id']}/confirm", "")

        t0 = time.perf_counter()
        cpu0 = cpu_seconds(pid) if pid else 0.0
        await asyncio.gather(*(worker(c, p) for c, p in workers))
        elapsed = time.perf_counter() - t0
        cpu = cpu_seconds(pid) - cpu0 if pid else float("nan")
    latencies.sort()
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {"requests": len(latencies), "errors": errors, "seconds": elapsed,
            "rps": len(latencies) / elapsed, "p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000,
            "cpu_ms": cpu / max(1, len(latencies)) * 1000}


def seed(db: str, total: int) -> int:
    """Grow the store to ``total`` objects with copies of what the first run created."""
    store = Store(db)
    have = store.count()
    rows = store._db.execute(  # bench-only: read the templates straight from the table
        "SELECT account, kind, f1, f2, data, internal FROM objects WHERE kind IN"
        " ('customer','payment_method','payment_intent','charge') GROUP BY kind").fetchall()
    prefix = {"customer": "cus", "payment_method": "pm", "payment_intent": "pi", "charge": "ch"}
    templates = [(a, k, f1, f2, json.loads(d), i) for a, k, f1, f2, d, i in rows]

    def gen() -> object:
        for n in range(total - have):
            account, kind, f1, f2, data, internal = templates[n % len(templates)]
            data = {**data, "id": new_id(prefix[kind])}
            yield (account, data["id"], kind, f1, f2, json.dumps(data, separators=(",", ":")),
                   internal)

    store.bulk_insert(gen())  # type: ignore[arg-type]
    count = store.count()
    store.close()
    return count


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def fmt(name: str, r: dict[str, float]) -> str:
    return (f"{name:<34} {r['rps']:9.1f} req/s   p50 {r['p50_ms']:7.1f} ms   p99 "
            f"{r['p99_ms']:8.1f} ms   ({int(r['requests'])} requests, {int(r['errors'])} errors,"
            f" {r['seconds']:.1f} s)" + (f"   server CPU {r['cpu_ms']:.3f} ms/req"
                                           if r["cpu_ms"] == r["cpu_ms"] else ""))


async def main(seconds: float, local_seconds: float, objects: int, local_objects: int) -> int:
    py = sys.executable
    out: Callable[[str], None] = lambda s: print(s, flush=True)  # noqa: E731
    with tempfile.TemporaryDirectory(prefix="amci-bench-") as tmp:
        db = os.path.join(tmp, "testmode.sqlite3")
        cfg = os.path.join(tmp, "testmode.yaml")
        with open(cfg, "w") as f:  # noqa: ASYNC230 - a one-line file before any load
            f.write("rate_limit_per_second: null\n")
        port = free_port()
        ours_cmd = [py, "-m", "amci", "stripe-testmode", "--host", "127.0.0.1", "--port",
                    str(port), "--db", db, "--config", cfg]
        ours_base = f"http://127.0.0.1:{port}"

        out(f"concurrency {CONCURRENCY}; workload: create + confirm PaymentIntent (2 POSTs)")
        proc = await start(ours_cmd, b"listening")
        try:
            empty = await run_load(ours_base, seconds, proc.pid)
        finally:
            await stop(proc)
        out(fmt("amci test mode (SQLite, empty)", empty))

        sample = os.path.join(tmp, "pi.json")
        pi_text = json.dumps(SAMPLE["pi"], separators=(",", ":"), ensure_ascii=False)
        with open(sample, "w") as f:  # noqa: ASYNC230 - one small file between runs
            f.write(pi_text)
        bport = free_port()
        bproc = await start([py, "-c", BARE, str(bport), sample], b"bare listening")
        try:
            bare = await run_load(f"http://127.0.0.1:{bport}", seconds, bproc.pid)
        finally:
            await stop(bproc)
        size = len(pi_text.encode())
        out(fmt(f"bare aiohttp ({size} B body)", bare))
        bproc = await start([py, "-c", BARE, str(bport), sample, os.path.join(tmp, "bare.sqlite3")],
                            b"bare listening")
        try:
            durable = await run_load(f"http://127.0.0.1:{bport}", seconds, bproc.pid)
        finally:
            await stop(bproc)
        out(fmt("bare aiohttp + 1 SQLite commit", durable))
        out(f"ratio amci / bare aiohttp: {100 * empty['rps'] / bare['rps']:.0f}% of its req/s"
            f" (target >= 50%); server CPU per request {empty['cpu_ms'] / bare['cpu_ms']:.1f}x"
            f" the bare app's; vs bare + 1 commit: {100 * empty['rps'] / durable['rps']:.0f}%,"
            f" CPU {empty['cpu_ms'] / durable['cpu_ms']:.1f}x")

        lport = free_port()
        lproc = await start([py, "-c", LOCALSTRIPE, str(lport), os.path.join(tmp, "ls.pickle")],
                            b"localstripe listening")
        try:
            local = await run_load(f"http://127.0.0.1:{lport}", local_seconds)
        finally:
            await stop(lproc)
        out(fmt("localstripe (pickle, empty)", local))
        ratio = empty["rps"] / local["rps"] if local["rps"] else float("inf")
        out(f"ratio amci / localstripe: {ratio:.0f}x (target >= 50x)")
        if local_objects:
            # localstripe's persisted throughput falls as its store grows (it pickles all of it on
            # every write): measure it again with a seeded store, time-boxed.
            lproc = await start([py, "-c", LOCALSTRIPE, str(lport),
                                 os.path.join(tmp, "ls2.pickle"), str(local_objects)],
                                b"localstripe listening")
            try:
                local_big = await run_load(f"http://127.0.0.1:{lport}", local_seconds)
            finally:
                await stop(lproc)
            out(fmt(f"localstripe ({local_objects // 1000}k objects)", local_big))

        t0 = time.perf_counter()
        count = seed(db, objects)
        out(f"seeded to {count} stored objects in {time.perf_counter() - t0:.1f} s")
        proc = await start(ours_cmd, b"listening")
        try:
            full = await run_load(ours_base, seconds, proc.pid)
            rss = rss_mb(proc.pid)
        finally:
            await stop(proc)
        out(fmt(f"amci test mode ({count // 1000}k objects)", full))
        if local_objects and local_big["rps"]:
            out(f"ratio amci at {count} objects / localstripe at {local_objects} objects:"
                f" {full['rps'] / local_big['rps']:.0f}x")
        out(f"at {count} objects: {100 * full['rps'] / empty['rps']:.0f}% of empty-store"
            f" throughput (target >= 90%); server RSS {rss:.0f} MB (target < 300 MB)")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=10.0, help="per run of our server")
    parser.add_argument("--localstripe-seconds", type=float, default=10.0)
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--localstripe-objects", type=int, default=10_000,
                        help="store size for localstripe's second run (0: skip)")
    a = parser.parse_args()
    try:
        import uvloop

        factory = uvloop.new_event_loop
    except ImportError:
        factory = asyncio.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        raise SystemExit(runner.run(main(a.seconds, a.localstripe_seconds, a.objects,
                                            a.localstripe_objects)))
