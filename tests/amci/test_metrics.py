"""amci.metrics: the memoised label children the hot path uses."""

from __future__ import annotations

from amci.metrics import create_metrics


def test_child_is_memoised_and_counts_in_the_registry() -> None:
    m = create_metrics()
    child = m.child(m.requests, "/v1/stripe/payments", "POST", "201")
    assert m.child(m.requests, "/v1/stripe/payments", "POST", "201") is child
    assert m.child(m.requests, "/v1/stripe/payments", "POST", "402") is not child
    child.inc()
    child.inc()
    m.child(m.request_seconds, "/v1/stripe/payments", "POST").observe(0.003)
    # Same label values on another metric: another child.
    assert m.child(m.upstream_requests, "/v1/stripe/payments", "201") is not child
    get = m.registry.get_sample_value
    labels = {"route": "/v1/stripe/payments", "method": "POST"}
    assert get("amci_http_requests_total", {**labels, "status": "201"}) == 2.0
    assert get("amci_http_requests_total", {**labels, "status": "402"}) == 0.0
    assert get("amci_http_request_duration_seconds_count", labels) == 1.0
    assert get("amci_http_request_duration_seconds_bucket", {**labels, "le": "0.0025"}) == 0.0
    assert get("amci_http_request_duration_seconds_bucket", {**labels, "le": "0.005"}) == 1.0
