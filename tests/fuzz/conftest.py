"""Fuzzing harness: the real services as separate processes on loopback (Stripe test mode, AMCI,
the billing client), their served ``/openapi.json`` loaded by schemathesis, and an engine that
drives schemathesis' generated cases — plus seeded, realistic ones and the hostile input classes
of issue 7 — through hypothesis with a fixed seed, counting every answer.

Scale from the environment (``make fuzz`` raises it): ``FUZZ_EXAMPLES`` examples per operation
(default 12), ``FUZZ_SEED`` (default 20261130); ``FUZZ_TRACE=1`` prints every exchange (with
``pytest -s``). Test modules reach the engine through fixtures
(importlib mode: they cannot import this file).
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, Verbosity
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

ROOT = Path(__file__).resolve().parents[2]
START_DEADLINE_S = 30.0
DEFAULT_EXAMPLES = 12
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", str(DEFAULT_EXAMPLES)))
SEED = int(os.environ.get("FUZZ_SEED", "20261130"))
TRACE = os.environ.get("FUZZ_TRACE") == "1"  # print every exchange (with pytest -s)
STRIPE_KEY = "sk_test_51FuzzAmciSubscriptionKey00000fuzz"  # AMCI's shipped demo subscription
BC_STRIPE_KEY = "sk_test_51FuzzBillingClientKey0000000bcfz"
LOGIN = "fuzz-billing-system"

# "0 server errors, 0 responses that don't match the document, 0 undocumented status codes".
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    # ... and a case the document forbids is not accepted (a 2xx to a negative case).
    negative_data_rejection,
]


# == processes ===================================================================================


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Service:
    name: str
    argv: list[str]
    port: int
    log_path: Path
    health: str
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONPATH": str(ROOT), **self.env},
            )
        deadline = time.monotonic() + START_DEADLINE_S
        while time.monotonic() < deadline:  # process start-up only
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited ({self.proc.returncode}):\n"
                                     + self.log_path.read_text()[-3000:])
            with contextlib.suppress(requests.RequestException):
                if requests.get(self.url + self.health, timeout=1).status_code == 200:
                    return
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"{self.name} not healthy in {START_DEADLINE_S} s:\n"
                             + self.log_path.read_text()[-3000:])

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def tracebacks(self) -> list[str]:
        """The last line of every traceback in the service's log (what a 500 was)."""
        text = self.log_path.read_text(errors="replace").replace("\\n", "\n")  # JSON logs
        found = re.findall(r"Traceback \(most recent call last\):.*?\n(\w[\w.]*(?:Error|Exception)"
                           r"[^\n]*)", text, flags=re.S)
        return list(dict.fromkeys(line.rstrip('"}')[:200] for line in found))


@dataclass
class Services:
    testmode: Service
    amci: Service
    bc: Service
    bc_token: str  # a bearer API token for the billing client's /api


@pytest.fixture(scope="session")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """Stripe test mode (no rate limit: the fuzzer is not testing Stripe's), AMCI with its shipped
    config (the demo subscription takes any sk_test_ key) pointed at it, and the billing client
    pointed at AMCI; temp SQLite files, no background reconciler (nothing here goes pending)."""
    tmp = tmp_path_factory.mktemp("fuzz")
    tm_port, amci_port, bc_port = free_port(), free_port(), free_port()
    (tmp / "testmode.yaml").write_text("rate_limit_per_second: null\n")
    testmode = Service(
        "stripe-testmode",
        [sys.executable, "-m", "amci", "stripe-testmode", "--host", "127.0.0.1",
         "--port", str(tm_port), "--db", ":memory:", "--config", str(tmp / "testmode.yaml")],
        tm_port, tmp / "testmode.log", "/_testmode/clock",
    )
    amci = Service(
        "amci",
        [sys.executable, "-m", "amci", "serve", "--config", "config/amci.yaml",
         "--host", "127.0.0.1", "--port", str(amci_port)],
        amci_port, tmp / "amci.log", "/healthz",
        env={
            "AMCI_STORE__DB_PATH": str(tmp / "amci.sqlite3"),
            "AMCI_UPSTREAM__TEST_API_BASE": testmode.url,
            "AMCI_UPSTREAM__MAX_NETWORK_RETRIES": "0",
            "AMCI_RATE_LIMIT__ENABLED": "false",
            "AMCI_LOG_LEVEL": "WARNING",
        },
    )
    from cryptography.fernet import Fernet

    (tmp / "billing_client.yaml").write_text(
        f"crypto: {{encryption_key: '{Fernet.generate_key().decode()}'}}\n"
        f"storage: {{db_path: '{tmp / 'bc.sqlite3'}'}}\n"
        "amci: {timeout_seconds: 10}\n"
        "reconcile: {interval_seconds: 0}\n"
        "log_level: WARNING\n"
    )
    bc = Service(
        "billing-client",
        [sys.executable, "-m", "billing_client", "serve", "--config",
         str(tmp / "billing_client.yaml"), "--host", "127.0.0.1", "--port", str(bc_port),
         "--amci", amci.url],
        bc_port, tmp / "billing_client.log", "/healthz",
    )
    made = subprocess.run(  # as an operator does: `billing-client create-token`, same config
        [sys.executable, "-m", "billing_client", "create-token", "--name", "fuzz", "--config",
         str(tmp / "billing_client.yaml")],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[-1]
    started: list[Service] = []
    try:
        for s in (testmode, amci, bc):
            s.start()
            started.append(s)
        yield Services(testmode, amci, bc, token)
    finally:
        for s in reversed(started):
            s.stop()


# == hostile input classes (issue 7) ==============================================================
# Each takes the request about to be sent (requests' keyword arguments) and returns it altered, or
# None when it does not apply. ``must_refuse``: a 2xx to it is a failure of its own.


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, (*path, i))
    else:
        yield path, value


def _set(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _set(value[head], rest, new)}
    copy = list(value)
    copy[head] = _set(copy[head], rest, new)
    return copy


def _json_body(kwargs: dict[str, Any]) -> Any:
    return kwargs.get("json")


def _with_body(kwargs: dict[str, Any], body: Any) -> dict[str, Any]:
    return {**kwargs, "json": body}


def _with_raw(kwargs: dict[str, Any], raw: bytes, content_type: str = "application/json"
              ) -> dict[str, Any]:
    out = {k: v for k, v in kwargs.items() if k != "json"}
    headers = {k: v for k, v in dict(out.get("headers") or {}).items()
               if k.lower() != "content-type"}
    out["headers"] = {**headers, "Content-Type": content_type}
    out["data"] = raw
    return out


AMOUNT_FIELDS = frozenset({"amount", "minimum_payment"})


def _string_leaf(kwargs: dict[str, Any], pick: int, names: frozenset[str] | None = None
                 ) -> tuple[Any, tuple[Any, ...]] | None:
    """A string in the JSON body (one named in ``names``, if given), chosen by ``pick``."""
    body = _json_body(kwargs)
    leaves = [p for p, v in _leaves(body) if isinstance(v, str)
              and (names is None or (p and p[-1] in names))]
    if not leaves:
        return None
    return body, leaves[pick % len(leaves)]


def deep_json(kwargs: dict[str, Any], pick: int, case: Any) -> dict[str, Any] | None:
    """JSON nested deeper than Python's recursion limit, inside a body small enough for the
    services' body-size limits (so it is the depth that is tested, not the size)."""
    if not case.operation.body:
        return None
    depth = (1_500, 5_000, 12_000)[pick % 3]
    if isinstance(_json_body(kwargs), dict) and _json_body(kwargs):
        key = sorted(_json_body(kwargs))[pick % len(_json_body(kwargs))]
        import json

        rest = {k: v for k, v in _json_body(kwargs).items() if k != key}
        prefix = json.dumps(rest)[:-1] + (", " if rest else "")
        raw = f'{prefix}"{key}": ' + "[" * depth + "]" * depth + "}"
    else:
        raw = "[" * depth + "]" * depth
    return _with_raw(kwargs, raw.encode())


def long_number(kwargs: dict[str, Any], pick: int, case: Any) -> dict[str, Any] | None:
    found = _string_leaf(kwargs, pick, AMOUNT_FIELDS | {"number"})
    if found is None:
        return None
    body, path = found
    digits = "9" * 5_000 + ("" if path[-1] == "number" else ".00")
    return _with_body(kwargs, _set(body, path, digits))


def lone_surrogate(kwargs: dict[str, Any], pick: int, case: Any) -> dict[str, Any] | None:
    found = _string_leaf(kwargs, pick)
    if found is None:
        return None
    body, path = found
    value: str = _leaves_value(body, path)
    return _with_body(kwargs, _set(body, path, value + "\ud800"))


def _leaves_value(body: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        body = body[p]
    return body


def unknown_field(kwargs: dict[str, Any], pick: int, case: Any) -> dict[str, Any] | None:
    body = _json_body(kwargs)
    if not isinstance(body, dict):
        return None
    name = ("captrue", "amount_extra", "metadata_", "customer_id")[pick % 4]
    if name in body:
        return None
    return _with_body(kwargs, {**body, name: False})


def non_ascii_digits(kwargs: dict[str, Any], pick: int, case: Any) -> dict[str, Any] | None:
    found = _string_leaf(kwargs, pick, AMOUNT_FIELDS)
    if found is None:
        return None
    body, path = found
    arabic = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
    value: str = _leaves_value(body, path)
    if not value.isascii() or not any(c.isdigit() for c in value):
        return None
    return _with_body(kwargs, _set(body, path, value.translate(arabic)))


def bad_header_bytes(kwargs: dict[str, Any], pick: int, case: Any) -> dict[str, Any] | None:
    declared = {p.name.lower() for p in case.operation.headers}
    if "idempotency-key" not in declared:
        return None
    headers = dict(kwargs.get("headers") or {})
    headers["Idempotency-Key"] = (b"\xff\xfe", b"key-\xc3\x28", b"\xed\xa0\x80")[pick % 3]
    return {**kwargs, "headers": headers}


def text_plain(kwargs: dict[str, Any], pick: int, case: Any) -> dict[str, Any] | None:
    import json

    if kwargs["method"] in ("GET", "HEAD") or _json_body(kwargs) is None:
        return None
    return _with_raw(kwargs, json.dumps(_json_body(kwargs)).encode(), "text/plain")


@dataclass(frozen=True)
class Hostile:
    name: str
    mutate: Callable[[dict[str, Any], int, Any], dict[str, Any] | None]
    must_refuse: bool  # a 2xx answer to it is a failure


# Both services: "Bad input gets a clear 4xx, never a 500; unknown fields are refused"; amounts are
# ASCII digits only; header values must be ASCII.
HOSTILE = (
    Hostile("deep_json", deep_json, True),
    Hostile("long_number", long_number, True),
    Hostile("lone_surrogate", lone_surrogate, True),
    Hostile("unknown_field", unknown_field, True),
    Hostile("non_ascii_digits", non_ascii_digits, True),
    Hostile("bad_idempotency_key_bytes", bad_header_bytes, True),
)
# The billing client's /api: state-changing requests must be application/json (415 otherwise).
JSON_ONLY = Hostile("json_as_text_plain", text_plain, True)


# == the engine ===================================================================================


@dataclass
class Finding:
    operation: str
    kind: str  # check title, "hostile:<class> accepted", "seed failed"
    status: int | None
    source: str  # positive / negative / seeded / hostile:<class>
    detail: str
    count: int = 1


Resolver = Callable[[Any], Any]  # (case) -> None: replaces "@…" placeholders before sending


@dataclass
class Report:
    statuses: dict[str, Counter[int]] = field(default_factory=dict)
    sources: dict[str, Counter[str]] = field(default_factory=dict)
    hostile: dict[str, Counter[int]] = field(default_factory=dict)
    findings: dict[tuple[str, str, int | None, str], Finding] = field(default_factory=dict)
    sent: int = 0
    seconds: float = 0.0

    def ok(self, operation: str) -> int:
        return sum(n for s, n in self.statuses.get(operation, Counter()).items() if 200 <= s < 300)

    def ok_by_source(self, operation: str) -> str:
        by = self.sources.get(operation, Counter())
        return " ".join(f"{k}={by[k]}" for k in ("positive", "negative", "seeded") if by[k])

    def add(self, f: Finding) -> None:
        key = (f.operation, f.kind, f.status, f.source)
        if key in self.findings:
            self.findings[key].count += 1
        else:
            self.findings[key] = f

    def table(self) -> str:
        lines = [f"{self.sent} requests in {self.seconds:.1f} s"]
        for op in sorted(self.statuses):
            st_ = ", ".join(f"{s}×{n}" for s, n in sorted(self.statuses[op].items()))
            lines.append(f"  {op:<48} 2xx={self.ok(op):<4} ({self.ok_by_source(op)}) [{st_}]")
        lines.append("hostile classes (all operations):")
        for name in sorted(self.hostile):
            st_ = ", ".join(f"{s}×{n}" for s, n in sorted(self.hostile[name].items()))
            lines.append(f"  {name:<48} [{st_}]")
        return "\n".join(lines)

    def failures(self) -> str:
        out = []
        for f in sorted(self.findings.values(), key=lambda f: (f.kind, f.operation)):
            out.append(f"- {f.kind} ×{f.count} | {f.operation} | {f.source} | "
                       f"status {f.status}\n    {f.detail}")
        return "\n".join(out)


@dataclass
class Fuzzer:
    """Drives one service: every operation of its document gets schemathesis' positive and
    negative cases, the test module's seeded strategy of realistic cases where it gives one (real
    ids, Stripe test cards, amounts in range), and each hostile class."""

    schema: Any
    base_url: str
    headers: dict[str, str]
    seeded: dict[str, Callable[[Any], st.SearchStrategy[Any]]]
    resolve: Resolver
    order: Callable[[str], int] = lambda label: 0
    hostile: tuple[Hostile, ...] = HOSTILE
    session: requests.Session = field(default_factory=requests.Session)
    report: Report = field(default_factory=Report)

    def operations(self) -> list[Any]:
        ops = [r.ok() for r in self.schema.get_all_operations()]
        return sorted(ops, key=lambda op: (self.order(op.label), op.label))

    def run(self, examples: int = EXAMPLES) -> Report:
        """Per operation: ``examples`` cases — half seeded (where the test module gives a seeded
        strategy), the rest schemathesis' positive and negative cases — then each hostile class
        applied to a tenth as many (at least one) seeded-or-positive cases. One hypothesis run per
        source and class: a ``one_of`` would favour its first branch."""
        started = time.monotonic()
        for op in self.operations():
            positive = op.as_strategy(generation_mode=GenerationMode.POSITIVE)
            negative = op.as_strategy(generation_mode=GenerationMode.NEGATIVE)
            seeded = self.seeded[op.label](op) if op.label in self.seeded else None
            quarter = max(1, examples // 4)
            plan: list[tuple[str, Any, int, Hostile | None]] = [
                ("positive", positive, quarter if seeded is not None else 2 * quarter, None),
                ("negative", negative, quarter if seeded is not None else 2 * quarter, None),
            ]
            if seeded is not None:
                plan.append(("seeded", seeded, 2 * quarter, None))
            base = ("seeded", seeded) if seeded is not None else ("positive", positive)
            plan += [(*base, max(1, examples // 10), how) for how in self.hostile]
            for source, strategy, n, how in plan:
                self._explore(op, source, strategy, n, how)
        self.report.seconds = time.monotonic() - started
        return self.report

    def _explore(self, op: Any, source: str, strategy: Any, examples: int,
                 how: Hostile | None) -> None:
        @hypothesis.settings(
            max_examples=examples, database=None, deadline=None, derandomize=False,
            phases=[Phase.explicit, Phase.generate], verbosity=Verbosity.quiet,
            suppress_health_check=list(HealthCheck),
        )
        @hypothesis.seed(SEED)
        @hypothesis.given(case=strategy, pick=st.integers(0, 1000))
        def explore(case: Any, pick: int) -> None:
            self.exercise(op, source, case, how, pick)

        try:
            explore()
        except hypothesis.errors.Unsatisfiable:
            # Nothing to negate (an operation without parameters or body): no negative cases.
            assert source == "negative", f"{op.label}: no {source} case could be generated"

    def exercise(self, op: Any, source: str, case: Any, how: Hostile | None, pick: int) -> None:
        try:
            self.resolve(case)
        except SeedFailed as exc:
            self.report.add(Finding(op.label, "seed failed", exc.status, source, exc.detail))
            return
        kwargs = case.as_transport_kwargs(base_url=self.base_url, headers=self.headers)
        if how is not None:
            altered = how.mutate(kwargs, pick, case)
            if altered is None:
                return  # the class does not apply to this case
            kwargs, source = altered, f"{source}+{how.name}"
        kwargs.setdefault("timeout", 30)
        try:
            response = self.session.request(**kwargs)
        except requests.RequestException as exc:
            self.report.add(Finding(op.label, "no answer", None, source, repr(exc)[:300]))
            return
        self.report.sent += 1
        self.report.statuses.setdefault(op.label, Counter())[response.status_code] += 1
        if how is not None:
            self.report.hostile.setdefault(how.name, Counter())[response.status_code] += 1
        if 200 <= response.status_code < 300:
            self.report.sources.setdefault(op.label, Counter())[source.split("+")[0]] += 1
        detail = _describe(kwargs, response)
        if TRACE:
            print(f"[{source}] {detail}")
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:
            for failure in group.exceptions:
                self.report.add(Finding(op.label, _title(failure), response.status_code, source,
                                        detail))
        if how is not None and how.must_refuse and 200 <= response.status_code < 300:
            self.report.add(Finding(op.label, f"hostile {how.name} accepted",
                                    response.status_code, source, detail))


class SeedFailed(Exception):
    def __init__(self, status: int | None, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


def _title(failure: Failure | BaseException) -> str:
    title = getattr(failure, "title", None) or type(failure).__name__
    return str(title)


def _describe(kwargs: dict[str, Any], response: requests.Response) -> str:
    """One line to reproduce a finding from: the request (body cut short) and the answer."""
    body = kwargs.get("json", kwargs.get("data"))
    shown = repr(body)
    if len(shown) > 160:
        shown = shown[:160] + f"…({len(shown)} chars)"
    headers = {k: v for k, v in (kwargs.get("headers") or {}).items()
               if k.lower() in ("idempotency-key", "content-type")}
    url = response.request.url or ""
    return (f"{kwargs['method']} {url.split('//', 1)[-1].split('/', 1)[-1][:120]} "
            f"{headers or ''} body={shown} -> {response.status_code} {response.text[:200]!r}")


# == fixtures for the test modules ================================================================


def basic_auth(login: str, key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{login}:{key}".encode()).decode()}


@dataclass
class Kit:
    """What the test modules need from here (they cannot import conftest)."""

    Fuzzer = Fuzzer
    SeedFailed = SeedFailed
    HOSTILE = HOSTILE
    JSON_ONLY = JSON_ONLY
    STRIPE_KEY = STRIPE_KEY
    BC_STRIPE_KEY = BC_STRIPE_KEY
    LOGIN = LOGIN
    EXAMPLES = EXAMPLES
    SEED = SEED
    basic_auth = staticmethod(basic_auth)

    @staticmethod
    def minimum(at_default_scale: int) -> int:
        """A route's minimum count of 2xx answers, chosen at the default scale; at a larger one,
        half the proportional growth (longer runs draw rarer, often refused, realistic cases:
        a brand outside ``enabled_brands``, an unusual email)."""
        return max(at_default_scale, at_default_scale * EXAMPLES // DEFAULT_EXAMPLES // 2)

    @staticmethod
    def load(url: str) -> Any:
        return schemathesis.openapi.from_url(url + "/openapi.json")


@pytest.fixture(scope="session")
def kit() -> Kit:
    return Kit()
