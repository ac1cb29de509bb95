"""The fuzzing engine: drives one service's served OpenAPI document through schemathesis and
hypothesis with a fixed seed, counting every answer and collecting every finding.

Scale from the environment (``make fuzz`` raises it): ``FUZZ_EXAMPLES`` examples per operation
(default 12), ``FUZZ_SEED`` (default 20261130); ``FUZZ_TRACE=1`` prints every exchange (with
``pytest -s``).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import hypothesis
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

from .hostile import HOSTILE, Hostile

DEFAULT_EXAMPLES = 12
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", str(DEFAULT_EXAMPLES)))
SEED = int(os.environ.get("FUZZ_SEED", "20261130"))
TRACE = os.environ.get("FUZZ_TRACE") == "1"

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


@dataclass
class Finding:
    operation: str
    kind: str  # a schemathesis check's title, "hostile <class> accepted", "seed failed"...
    status: int | None
    source: str  # positive / negative / seeded, "+<hostile class>" when one altered it
    detail: str
    count: int = 1


Resolver = Callable[[Any], Any]  # (case) -> None: puts real objects in place of placeholders


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
        if how is not None and 200 <= response.status_code < 300:
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


def minimum(at_default_scale: int) -> int:
    """A route's minimum count of 2xx answers, chosen at the default scale; at a larger one,
    half the proportional growth (longer runs draw rarer, often refused, realistic cases:
    a brand outside ``enabled_brands``, an unusual email)."""
    return max(at_default_scale, at_default_scale * EXAMPLES // DEFAULT_EXAMPLES // 2)


def load(url: str) -> Any:
    """The document a running service serves at ``url``/openapi.json."""
    return schemathesis.openapi.from_url(url + "/openapi.json")
