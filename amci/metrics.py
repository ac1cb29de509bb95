"""Prometheus metrics: one ``CollectorRegistry`` per app, bounded labels only.

Labels are route templates, methods, statuses, operations, outcomes, modes, currency codes (a
fixed table of 139), refusal reasons and Stripe endpoint templates — never ids, keys, emails,
logins or amounts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

M = TypeVar("M", Counter, Histogram)

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True, slots=True)
class Metrics:
    registry: CollectorRegistry
    requests: Counter
    request_seconds: Histogram
    payments: Counter
    policy_refusals: Counter
    upstream_requests: Counter
    upstream_seconds: Histogram
    idempotent_replays: Counter
    idempotency_conflicts: Counter
    limiter_waits: Counter
    limiter_wait_seconds: Histogram
    webhooks: Counter
    signature_failures: Counter
    notifications: Counter
    delivery_failures: Counter
    outbox_lag: Gauge
    # (id(metric), label values) → the labelled child; see ``child``.
    _children: dict[tuple[int, tuple[str, ...]], Any] = field(default_factory=dict, repr=False)

    def child(self, metric: M, *values: str) -> M:
        """``metric.labels(*values)``, memoised: ``labels()`` validates, converts and takes a
        lock on every call, and the hot path labels about five series per request. Label values
        are bounded (see the module docstring), so the cache is too."""
        key = (id(metric), values)
        found: M | None = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*values)
        return found


def create_metrics() -> Metrics:
    r = CollectorRegistry(auto_describe=True)
    return Metrics(
        registry=r,
        requests=Counter(
            "amci_http_requests_total",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=r,
        ),
        request_seconds=Histogram(
            "amci_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template and method.",
            ["route", "method"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        ),
        payments=Counter(
            "amci_payments_total",
            "Card and payment operations, by operation (save_card, delete_card, sale, "
            "authorization, authenticate, capture, refund, void), outcome (succeeded, "
            "requires_action, processing, declined, refused, failed), mode (test, live) and "
            "currency.",
            ["operation", "outcome", "mode", "currency"],
            registry=r,
        ),
        policy_refusals=Counter(
            "amci_policy_refusals_total",
            "Requests refused by AMCI's Stripe limits before any network call, by reason.",
            ["reason"],
            registry=r,
        ),
        upstream_requests=Counter(
            "amci_upstream_requests_total",
            "Calls to Stripe (or the test-mode server), by endpoint template and HTTP status "
            "(0: no response).",
            ["endpoint", "status"],
            registry=r,
        ),
        upstream_seconds=Histogram(
            "amci_upstream_request_duration_seconds",
            "Latency of calls to Stripe, by endpoint template.",
            ["endpoint"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        ),
        idempotent_replays=Counter(
            "amci_idempotent_replays_total",
            "Requests answered from a stored idempotent result, by route template.",
            ["route"],
            registry=r,
        ),
        idempotency_conflicts=Counter(
            "amci_idempotency_conflicts_total",
            "Idempotency-Key refusals, by kind (reused, in_flight).",
            ["kind"],
            registry=r,
        ),
        limiter_waits=Counter(
            "amci_limiter_waits_total",
            "Upstream calls that waited for the per-key rate limiter, by mode and outcome "
            "(waited, refused).",
            ["mode", "outcome"],
            registry=r,
        ),
        limiter_wait_seconds=Histogram(
            "amci_limiter_wait_seconds",
            "Time upstream calls waited for the per-key rate limiter, by mode.",
            ["mode"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        ),
        webhooks=Counter(
            "amci_webhooks_total",
            "Stripe webhook deliveries received, by outcome (notified, duplicate, ignored).",
            ["outcome"],
            registry=r,
        ),
        signature_failures=Counter(
            "amci_webhook_signature_failures_total",
            "Stripe webhook deliveries refused because Stripe-Signature did not verify.",
            registry=r,
        ),
        notifications=Counter(
            "amci_notifications_delivered_total",
            "Notifications the billing system accepted (2xx), by type.",
            ["type"],
            registry=r,
        ),
        delivery_failures=Counter(
            "amci_notification_delivery_failures_total",
            "Failed notification delivery attempts, by reason (status, network, upstream, "
            "no_callback, gave_up).",
            ["reason"],
            registry=r,
        ),
        outbox_lag=Gauge(
            "amci_notification_outbox_lag_seconds",
            "Age of the oldest notification not yet delivered (0: none waiting).",
            registry=r,
        ),
    )
