"""Notifications end to end: Stripe's test mode, AMCI and the billing client as three processes.

What Stripe decides later — an authorization expiring, a refund failing, a dispute, a 3D Secure
payment completed after the customer's browser went away — reaches the billing client through
the test mode's signed webhooks → AMCI (committed, deduplicated) → AMCI's signed notification,
with no request from the billing client. Faults of the test mode (a 500 after the change was
committed, a timeout, a dropped connection; duplicated, delayed and out-of-order deliveries) and
a ``kill -9`` of AMCI change nothing about the outcome. Every wait polls observable state with a
deadline."""

from __future__ import annotations

import base64
import http.client
import json
import secrets
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from .conftest import (
    LOGIN,
    STRIPE_KEY,
    Reply,
    Service,
    Stack,
    amci_service,
    billing_client_service,
    call,
    create_token,
    fernet_key,
    free_port,
)

pytestmark = pytest.mark.e2e
T = TypeVar("T")
DEADLINE_S = 20.0
DAY = 86400


def eventually(what: str, probe: Callable[[], T | None], deadline: float = DEADLINE_S) -> T:
    """Poll ``probe`` until it returns something truthy (observable state), or fail."""
    end = time.monotonic() + deadline
    last: T | None = None
    while time.monotonic() < end:
        last = probe()
        if last:
            return last
        time.sleep(0.05)  # polling interval, not synchronisation: the deadline decides
    raise AssertionError(f"not within {deadline} s: {what} (last: {last!r})")


class Notified(Stack):
    secret: str = ""

    def stripe(self, method: str, path: str, form: dict[str, Any] | None = None) -> Reply:
        """The test mode's API (and test helpers) as Stripe's clients call it: form bodies."""
        conn = http.client.HTTPConnection("127.0.0.1", self.testmode.port, timeout=15)
        body = urllib.parse.urlencode(form or {})
        conn.request(method, path, body=body if method != "GET" else None, headers={
            "Authorization": f"Bearer {STRIPE_KEY}",
            "Content-Type": "application/x-www-form-urlencoded"})
        resp = conn.getresponse()
        raw = resp.read()
        conn.close()
        return Reply(resp.status, json.loads(raw) if raw else None, dict(resp.getheaders()))

    def advance(self, seconds: int) -> None:
        r = self.stripe("POST", "/_testmode/clock/advance", {"seconds": seconds})
        assert r.status == 200, r.body

    def fault(self, **fields: Any) -> None:
        r = self.stripe("POST", "/_testmode/faults", fields)
        assert r.status == 200, r.body

    def amci_get(self, path: str) -> Reply:
        token = base64.b64encode(f"{LOGIN}:{STRIPE_KEY}".encode()).decode()
        return call("GET", self.amci.url + path, headers={"Authorization": f"Basic {token}"})

    def txn(self, txn_id: str) -> dict[str, Any]:
        r = self.api("GET", f"/api/transactions/{txn_id}")
        assert r.status == 200, r.body
        return dict(r.body)

    def txn_when(self, txn_id: str, what: str, check: Callable[[dict[str, Any]], bool]
                 ) -> dict[str, Any]:
        return eventually(what, lambda: (lambda t: t if check(t) else None)(self.txn(txn_id)))

    def amci_requests_from_bc(self) -> float:
        """How many calls the billing client has made to AMCI (its own metric)."""
        text = call("GET", self.bc.url + "/metrics").body
        return sum(float(line.rsplit(" ", 1)[1]) for line in str(text).splitlines()
                   if line.startswith("billing_client_amci_request_duration_seconds_count"))


def _stack(tmp_path: Path) -> Iterator[Notified]:
    tm_port, amci_port, bc_port = free_port(), free_port(), free_port()
    tm_config = tmp_path / "testmode.yaml"
    tm_config.write_text("rate_limit_per_second: null\nsweep_interval_seconds: 0.2\n")
    testmode = Service(
        "stripe-testmode",
        [sys.executable, "-m", "amci", "stripe-testmode", "--host", "127.0.0.1", "--port",
         str(tm_port), "--db", str(tmp_path / "testmode.sqlite3"), "--config", str(tm_config)],
        tm_port, tmp_path / "testmode.log",
    )
    secret = secrets.token_urlsafe(32)
    amci = amci_service(amci_port, tmp_path / "amci.log", {
        "AMCI_STORE__DB_PATH": str(tmp_path / "amci.sqlite3"),
        "AMCI_UPSTREAM__TEST_API_BASE": f"http://127.0.0.1:{tm_port}",
        "AMCI_UPSTREAM__TIMEOUT_SECONDS": "1",
        "AMCI_RATE_LIMIT__ENABLED": "false",
        "AMCI_NOTIFICATIONS__CALLBACK__URL": f"http://127.0.0.1:{bc_port}/notifications/amci",
        "AMCI_NOTIFICATIONS__CALLBACK__SECRETS": json.dumps([secret]),
        "AMCI_NOTIFICATIONS__ENCRYPTION_KEY_FILE": str(tmp_path / "amci.key"),
        "AMCI_NOTIFICATIONS__RETRY_MAX_SECONDS": "0.5",
    })
    config = tmp_path / "billing_client.yaml"
    config.write_text(
        f"crypto: {{encryption_key: '{fernet_key()}'}}\n"
        f"storage: {{db_path: '{tmp_path / 'bc.sqlite3'}'}}\n"
        f"amci: {{timeout_seconds: 8, notification_secrets: ['{secret}']}}\n"
        "reconcile: {interval_seconds: 0}\n"
    )
    bc = billing_client_service(bc_port, amci_port, str(config), tmp_path / "billing_client.log")
    services = [testmode, amci, bc]
    try:
        token = create_token(str(config), "e2e-notifications")
        for service in services:
            service.start()
        stack = Notified(testmode, amci, bc, tmp_path, token)
        stack.secret = secret
        r = stack.api("POST", "/api/payment-systems", {
            "name": "Stripe", "processor": "Stripe", "login": LOGIN, "password": STRIPE_KEY,
            "test_mode": True, "enabled_methods": ["VISA", "MasterCard"],
            "data_protection": "token_only"})
        assert r.status == 201, r.body
        r = stack.api("PUT", "/api/currencies/USD", {"payment_system": r.body["id"],
                                                      "minimum_payment": "0.5"})
        assert r.status == 200, r.body
        yield stack
    finally:
        for service in reversed(services):
            service.stop()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Notified]:
    yield from _stack(tmp_path)


def card(number: str) -> dict[str, Any]:
    return {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}


def customer(stack: Stack) -> str:
    r = stack.api("POST", "/api/customers", {"name": "Jane Roe", "currency": "USD",
                                             "email": "jane@example.com"})
    assert r.status == 201, r.body
    return str(r.body["id"])


def pay(stack: Stack, cust: str, amount: str, number: str, **extra: Any) -> dict[str, Any]:
    r = stack.api("POST", f"/api/customers/{cust}/payments",
                  {"amount": amount, "card": card(number), **extra})
    assert r.status == 201, r.body
    return dict(r.body)


def test_what_stripe_decides_later_reaches_the_billing_client(stack: Notified) -> None:
    cust = customer(stack)
    # An authorization, a sale whose refund will fail, a sale that will be disputed.
    held = pay(stack, cust, "30.00", "4242424242424242", type="authorization")
    assert held["status"] == "authorized"
    sold = pay(stack, cust, "12.00", "4000000000005126")  # Stripe's refundFail card
    r = stack.api("POST", f"/api/transactions/{sold['id']}/refunds", {"amount": "5.00"})
    assert r.status == 201 and r.body["status"] == "succeeded", r.body
    refund = r.body
    assert stack.txn(sold["id"])["amount_refunded"] == "5.00"
    disputed = pay(stack, cust, "15.00", "4000000000000259")  # createDispute
    # The dispute opens right after the payment (test mode: dispute_open_delay_seconds 0).
    opened = stack.txn_when(disputed["id"], "dispute opened",
                            lambda t: (t.get("dispute") or {}).get("status") == "needs_response")
    assert opened["dispute"]["reason"] == "fraudulent" and opened["dispute"]["amount"] == "15.00"
    assert opened["status"] == "succeeded"

    # A saved card detached at Stripe (the Dashboard, say): the billing client hears of it.
    r = stack.api("POST", f"/api/customers/{cust}/cards", {"card": card("5555555555554444")})
    assert r.status == 201 and r.body["status"] == "active", r.body
    saved = r.body
    [stripe_customer] = [c for c in stack.stripe("GET", "/v1/customers?limit=100").body["data"]
                         if c["email"] == "jane@example.com"]
    methods = stack.stripe("GET", f"/v1/customers/{stripe_customer['id']}/payment_methods")
    [pm] = [m for m in methods.body["data"] if m["card"]["last4"] == "4444"]
    assert stack.stripe("POST", f"/v1/payment_methods/{pm['id']}/detach").status == 200

    def card_status() -> str | None:
        listed = stack.api("GET", f"/api/customers/{cust}/cards").body["data"]
        status = next(c["status"] for c in listed if c["id"] == saved["id"])
        return status if status == "removed" else None

    eventually("card removed", card_status)

    before = stack.amci_requests_from_bc()
    # The refund fails a minute later (docs.stripe.com/testing: "appear to be successful at
    # first and will only have the failed status on subsequent fetches").
    stack.advance(61)
    failed = stack.txn_when(refund["id"], "refund failed", lambda t: t["status"] == "failed")
    assert failed["error"]["code"] == "refund_failed"
    assert "expired_or_canceled_card" in failed["message"]
    back = stack.txn(sold["id"])
    assert back["amount_refunded"] == "0.00" and back["status"] == "succeeded", back
    # The merchant accepts the dispute: closed, lost.
    dispute_id = opened["dispute"]["id"]
    assert stack.stripe("POST", f"/v1/disputes/{dispute_id}/close").status == 200
    stack.txn_when(disputed["id"], "dispute closed",
                   lambda t: (t.get("dispute") or {}).get("status") == "lost")
    # Eight days on, the uncaptured authorization has expired.
    stack.advance(8 * DAY)
    gone = stack.txn_when(held["id"], "authorization expired", lambda t: t["status"] == "expired")
    assert gone["message"] == "The authorization expired and the funds were released."
    # None of that was asked for: the billing client made no call to AMCI meanwhile.
    assert stack.amci_requests_from_bc() == before

    # AMCI's side: each notification once, in sequence per payment, all delivered.
    notes = stack.amci_get("/v1/stripe/notifications?limit=100").body["data"]
    assert {n["state"] for n in notes} == {"delivered"}
    by_payment: dict[str, list[int]] = {}
    for n in notes:
        by_payment.setdefault(n["payment"] or n["card"], []).append(n["sequence"])
    for seqs in by_payment.values():
        assert sorted(seqs) == list(range(1, len(seqs) + 1))
    types = [n["type"] for n in notes]
    for expected in ("refund.failed", "dispute.opened", "dispute.closed",
                     "authorization.expired", "card.detached"):
        assert types.count(expected) == 1, types
    metrics = str(call("GET", stack.amci.url + "/metrics").body)
    assert "amci_notification_outbox_lag_seconds 0.0" in metrics
    assert "amci_webhook_signature_failures_total 0.0" in metrics


def _no_redirects(url: str, data: bytes | None = None) -> tuple[int, str]:
    parts = urllib.parse.urlsplit(url)
    assert parts.hostname == "127.0.0.1"
    conn = http.client.HTTPConnection("127.0.0.1", parts.port, timeout=15)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    if data is None:
        conn.request("GET", path)
    else:
        conn.request("POST", path, body=data,
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    resp = conn.getresponse()
    text = resp.read().decode()
    conn.close()
    return resp.status, text


def test_3ds_completed_after_the_browser_left_is_settled_by_the_notification(
    stack: Notified,
) -> None:
    cust = customer(stack)
    txn = pay(stack, cust, "20.00", "4000002760003184")
    assert txn["status"] == "requires_action"
    # The customer authenticates, but the browser never comes back to the billing client.
    status, page = _no_redirects(txn["action_url"])
    assert status == 200 and "Complete authentication" in page
    status, _ = _no_redirects(txn["action_url"], b"result=complete")
    assert status == 303
    done = stack.txn_when(txn["id"], "3DS payment settled", lambda t: t["status"] == "succeeded")
    assert done["amount_captured"] == "20.00" and done["action_url"] is None
    # The return page was never visited: only the notification settled it.
    assert "/return/payments/" not in (stack.tmp / "billing_client.log").read_text()


def test_indeterminate_answers_end_in_exactly_one_charge(stack: Notified) -> None:
    cust = customer(stack)
    # Stripe commits the confirmation, then answers 500 (and replays the 500 under its key).
    stack.fault(kind="api_error_after_commit", method="POST",
                path="/v1/payment_intents/*/confirm")
    first = pay(stack, cust, "11.00", "4242424242424242")
    assert first["status"] == "succeeded", first
    # No answer to the create (a timeout): retried under the same key.
    stack.fault(kind="timeout", method="POST", path="/v1/payment_intents", latency_ms=1500)
    second = pay(stack, cust, "12.00", "4242424242424242")
    assert second["status"] == "succeeded", second
    # A refund whose connection drops: retried under the same key, one refund.
    stack.fault(kind="disconnect", method="POST", path="/v1/refunds")
    r = stack.api("POST", f"/api/transactions/{second['id']}/refunds", {"amount": "2.00"})
    assert r.status == 201 and r.body["status"] == "succeeded", r.body

    intents = stack.stripe("GET", "/v1/payment_intents?limit=100").body["data"]
    charges = stack.stripe("GET", "/v1/charges?limit=100").body["data"]
    refunds = stack.stripe("GET", "/v1/refunds?limit=100").body["data"]
    for txn, minor in ((first, 1100), (second, 1200)):
        mine = [pi for pi in intents if pi["metadata"].get("reference") == txn["id"]]
        assert [pi["status"] for pi in mine] == ["succeeded"], mine
        assert len([c for c in charges if c["payment_intent"] == mine[0]["id"]]) == 1
        assert mine[0]["amount_received"] == minor
    assert [rf["amount"] for rf in refunds] == [200]
    # The billing system can find a payment by its own reference.
    found = stack.amci_get(f"/v1/stripe/payments?reference={first['id']}")
    assert found.status == 200 and found.body["status"] == "succeeded"
    assert found.body["id"] == first["amci"]["payment"]


def test_notifications_survive_kill_9_a_billing_client_down_and_webhook_faults(
    stack: Notified,
) -> None:
    cust = customer(stack)
    # Stripe's deliveries duplicated, delayed and out of order: nothing changes because of it.
    stack.fault(kind="duplicate_delivery", path="charge.dispute.*", count=5)
    stack.fault(kind="out_of_order_delivery", path="payment_intent.*", count=5)
    stack.fault(kind="delayed_delivery", path="charge.expired", latency_ms=30_000)
    held = pay(stack, cust, "40.00", "4242424242424242", type="authorization")
    disputed = pay(stack, cust, "15.00", "4000000000000259")
    stack.txn_when(disputed["id"], "dispute opened",
                   lambda t: (t.get("dispute") or {}).get("status") == "needs_response")

    # The billing client goes down; the authorization expires meanwhile.
    stack.bc.stop()
    stack.advance(8 * DAY)
    stack.advance(60)  # the delayed delivery's time comes

    def pending_expiry() -> dict[str, Any] | None:
        """The expiry, undelivered, after AMCI tried to deliver (it, or the payment's earlier
        notification still waiting ahead of it in sequence: a Stripe delivery held out of
        order can arrive after the billing client went down)."""
        notes = stack.amci_get(f"/v1/stripe/notifications?payment={held['amci']['payment']}")
        data = notes.body["data"]
        expiry = [n for n in data if n["type"] == "authorization.expired"]
        tried = any(n["attempts"] >= 1 and n["state"] == "pending" for n in data)
        return dict(expiry[0]) if expiry and tried else None

    note = eventually("AMCI tried to deliver the expiry", pending_expiry)
    assert note["state"] == "pending"
    # AMCI dies without a chance to clean up, with the notification still undelivered.
    assert stack.amci.proc is not None
    stack.amci.proc.kill()
    stack.amci.proc.wait()
    stack.bc.start()
    assert stack.txn(held["id"])["status"] == "authorized"  # not yet told
    stack.amci.start()
    gone = stack.txn_when(held["id"], "expiry delivered after the restart",
                          lambda t: t["status"] == "expired")
    assert gone["status"] == "expired"
    again = eventually("delivered", lambda: (lambda n: n if n and n["state"] == "delivered"
                                             else None)(next(
        (n for n in stack.amci_get("/v1/stripe/notifications?limit=100").body["data"]
         if n["id"] == note["id"]), None)))
    assert again["attempts"] >= 1
    # One notification per change despite Stripe's duplicates.
    notes = stack.amci_get("/v1/stripe/notifications?limit=100").body["data"]
    types = [n["type"] for n in notes]
    assert types.count("dispute.opened") == 1 and types.count("authorization.expired") == 1
    # A redelivery is applied once: the billing client answers 2xx and changes nothing.
    r = call("POST", f"{stack.amci.url}/v1/stripe/notifications/{note['id']}/redeliver",
             headers={"Authorization": "Basic " + base64.b64encode(
                 f"{LOGIN}:{STRIPE_KEY}".encode()).decode()})
    assert r.status == 202, r.body
    eventually("redelivered", lambda: next(
        (n for n in stack.amci_get("/v1/stripe/notifications?limit=100").body["data"]
         if n["id"] == note["id"] and n["state"] == "delivered"
         and n["attempts"] > again["attempts"]), None))
    assert stack.txn(held["id"])["status"] == "expired"
    # A forged notification is refused.
    body = json.dumps({"id": "ntf_forged", "type": "payment.succeeded", "sequence": 99,
                       "payment": held["amci"]["payment"], "data": {}}).encode()
    forged = call("POST", stack.bc.url + "/notifications/amci", json.loads(body),
                  {"AMCI-Signature": f"t={int(time.time())},v1={'0' * 64}"})
    assert forged.status == 400 and forged.body["error"]["code"] == "signature_invalid"
