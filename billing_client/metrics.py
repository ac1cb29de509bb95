"""One Prometheus registry per app, with bounded labels only.

Labels are route templates, methods, status codes, operations and outcomes — never ids, keys,
emails or amounts (each distinct label value is a new time series kept forever).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

# AMCI sits on loopback or in the same cluster: most calls take milliseconds, Stripe-bound ones
# up to a few seconds.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "billing_client_http_requests_total",
            "HTTP requests served, by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.transactions = Counter(
            "billing_client_transactions_total",
            "Transactions by operation (sale, authorization, capture, refund, void) and outcome "
            "(succeeded, authorized, failed, refused, pending).",
            ["operation", "outcome"],
            registry=self.registry,
        )
        self.reconciled = Counter(
            "billing_client_reconciled_total",
            "Pending transactions seen by the background reconciler, by outcome: completed, "
            "still_pending (AMCI still unreachable), failed (refused or declined), needs_card "
            "(one-off card: only the customer can retry; counted on every pass that sees it).",
            ["outcome"],
            registry=self.registry,
        )
        self.notifications = Counter(
            "billing_client_amci_notifications_total",
            "AMCI notifications received, by outcome: applied, duplicate (same id again), stale "
            "(a sequence already passed), unmatched (no such payment or card here), "
            "signature_invalid (refused).",
            ["outcome"],
            registry=self.registry,
        )
        self.amci_latency = Histogram(
            "billing_client_amci_request_duration_seconds",
            "Latency of calls to AMCI by AMCI route template and outcome (ok, error, unavailable).",
            ["route", "outcome"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
