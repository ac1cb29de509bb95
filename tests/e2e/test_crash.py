"""The crash test: ``kill -9`` during concurrent payments whose clients retry, with real processes
on loopback (the Stripe test mode, AMCI, the billing client), bounded.

1. Through AMCI: clients pay ``POST /v1/stripe/payments`` concurrently and retry every transient
   answer (connection refused or reset, 5xx, 409 in flight, 429) with the same Idempotency-Key,
   while AMCI is killed with SIGKILL and restarted several times.
2. Through the billing client: the same with ``POST /api/customers/{id}/payments``, while the
   billing client is killed and restarted.

Then, counting what the Stripe test mode holds: 0 double charges (one PaymentIntent per payment:
AMCI puts the payment's ``reference`` in the PaymentIntent's metadata; the billing client puts its
transaction id there), 0 lost (every payment answered ``succeeded`` and its PaymentIntent is
there, succeeded, for its amount), 0 unanswered (every client got its final answer in time).
Kills are triggered by progress (after given numbers of completed payments), not by timers.
"""

from __future__ import annotations

import base64
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

from .conftest import (
    LOGIN,
    Reply,
    Service,
    amci_service,
    billing_client_service,
    call,
    create_token,
    fernet_key,
    free_port,
    stripe_testmode_service,
)

PAYMENTS = 120
WORKERS = 12
KILL_AFTER = (15, 45, 80)  # completed payments at which the process is killed (-9) and restarted
DEADLINE_S = 60.0  # per phase; a payment without a final answer by then is "unanswered"
AMCI_KEY = "sk_test_crashThroughAmci000000wxyz"  # each test its own test-mode account
BC_KEY = "sk_test_crashThroughBillingClientwxyz"
VISA = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}


@dataclass
class Crashable:
    testmode: Service
    amci: Service
    bc: Service
    bc_token: str  # the billing client's API token (billing-client create-token)


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crashable]:
    """One set of processes for both tests: each pays with its own Stripe key, so each has its
    own account in the test mode and counts only its own PaymentIntents."""
    tmp_path = tmp_path_factory.mktemp("crash")
    tm_port, amci_port, bc_port = free_port(), free_port(), free_port()
    tm_config = tmp_path / "testmode.yaml"
    # Stripe's sandbox limit (25/s) would only add 429s, which the clients retry anyway.
    tm_config.write_text("rate_limit_per_second: null\n")
    testmode = stripe_testmode_service(
        tm_port, tmp_path / "testmode.log",
        "--db", str(tmp_path / "testmode.sqlite3"), "--config", str(tm_config),
    )
    amci = amci_service(amci_port, tmp_path / "amci.log", {
        "AMCI_STORE__DB_PATH": str(tmp_path / "amci.sqlite3"),
        "AMCI_UPSTREAM__TEST_API_BASE": f"http://127.0.0.1:{tm_port}",
        "AMCI_RATE_LIMIT__ENABLED": "false",
        "AMCI_LOG_LEVEL": "WARNING",
    })
    bc_config = tmp_path / "billing_client.yaml"
    bc_config.write_text(
        f"crypto: {{encryption_key: '{fernet_key()}'}}\n"
        f"storage: {{db_path: '{tmp_path / 'bc.sqlite3'}'}}\n"
        "amci: {timeout_seconds: 10}\n"
        "reconcile: {interval_seconds: 0}\n"  # the clients' retries are what completes payments
        "log_level: WARNING\n"
    )
    bc = billing_client_service(bc_port, amci_port, str(bc_config), tmp_path / "bc.log")
    bc_token = create_token(str(bc_config), "crash-test")
    started: list[Service] = []
    try:
        for service in (testmode, amci, bc):
            started.append(service.start())
        yield Crashable(testmode, amci, bc, bc_token)
    finally:
        for service in reversed(started):
            service.stop()


def _kill_and_restart(service: Service) -> None:
    assert service.proc is not None and service.proc.poll() is None
    service.proc.kill()  # SIGKILL: no cleanup, no graceful anything
    service.proc.wait()
    service.start()  # waits for /healthz (process start-up)


def _amount(n: int) -> str:
    """Payment ``n`` is for 100 + n cents (so each PaymentIntent's amount identifies it)."""
    return f"{(100 + n) // 100}.{(100 + n) % 100:02d}"


def _transient(reply: Reply) -> bool:
    return reply.status in (409, 429) or reply.status >= 500


@dataclass
class Outcome:
    answers: dict[int, Reply]  # final answers by payment number
    kills: int
    retries: int  # attempts that met a transient failure (connection refused/reset, 5xx, 409)


def _run(pay: Callable[[int], Reply], service: Service) -> Outcome:
    """Pay ``PAYMENTS`` times with ``WORKERS`` concurrent clients; each client retries its payment
    until a final answer. Kill -9 and restart ``service`` when the completed count reaches each of
    ``KILL_AFTER``."""
    answers: dict[int, Reply] = {}
    retries = Counter[str]()
    lock = threading.Condition()
    deadline = time.monotonic() + DEADLINE_S

    def client(n: int) -> None:
        while time.monotonic() < deadline:
            try:
                reply = pay(n)
            except OSError:  # refused, reset: the process is down or dying
                reply = None
            if reply is not None and not _transient(reply):
                with lock:
                    answers[n] = reply
                    lock.notify_all()
                return
            with lock:
                retries["transient"] += 1
            time.sleep(0.05)  # a client's retry pacing, not synchronisation

    def killer() -> int:
        kills = 0
        for threshold in KILL_AFTER:
            with lock:
                lock.wait_for(
                    lambda t=threshold: len(answers) >= t,
                    timeout=max(0.0, deadline - time.monotonic()),
                )
                if len(answers) < threshold:
                    break
            _kill_and_restart(service)
            kills += 1
        return kills

    with ThreadPoolExecutor(WORKERS + 1) as pool:
        kills = pool.submit(killer)
        list(pool.map(client, range(PAYMENTS)))
        killed = kills.result(timeout=DEADLINE_S)
    return Outcome(answers, killed, retries["transient"])


def _payment_intents(testmode: Service, stripe_key: str) -> list[dict[str, Any]]:
    """Every PaymentIntent the test mode holds for the key, following the list's pages."""
    out: list[dict[str, Any]] = []
    after = ""
    while True:
        r = call("GET", f"{testmode.url}/v1/payment_intents?limit=100{after}",
                 headers={"Authorization": f"Bearer {stripe_key}"})
        assert r.status == 200, r.body
        out.extend(r.body["data"])
        if not r.body["has_more"]:
            return out
        after = f"&starting_after={r.body['data'][-1]['id']}"


def _assert_each_charged_once(
    answers: dict[int, Reply], intents: list[dict[str, Any]], reference_of: Callable[[Reply], str]
) -> None:
    unanswered = sorted(set(range(PAYMENTS)) - set(answers))
    assert unanswered == [], f"{len(unanswered)} unanswered payments: {unanswered[:10]}"
    failed = {n: (r.status, r.body) for n, r in answers.items() if r.status != 201}
    assert failed == {}, f"{len(failed)} payments not charged: {list(failed.items())[:3]}"
    per_reference = Counter(pi["metadata"].get("reference") for pi in intents)
    doubles = {ref: count for ref, count in per_reference.items() if count > 1}
    assert doubles == {}, f"double charges: {doubles}"
    by_reference = {pi["metadata"].get("reference"): pi for pi in intents}
    lost = []
    for n, reply in answers.items():
        pi = by_reference.get(reference_of(reply))
        if pi is None or pi["status"] != "succeeded" or pi["amount"] != 100 + n:
            lost.append(n)
    assert lost == [], f"lost payments: {lost[:10]}"
    assert len(intents) == PAYMENTS


def test_kill_9_amci_during_concurrent_payments(services: Crashable) -> None:
    auth = base64.b64encode(f"{LOGIN}:{AMCI_KEY}".encode()).decode()

    def pay(n: int) -> Reply:
        return call(
            "POST", f"{services.amci.url}/v1/stripe/payments",
            {"amount": _amount(n), "currency": "USD", "card": VISA,
             "reference": f"crash-amci-{n}"},
            {"Authorization": f"Basic {auth}", "Idempotency-Key": f"crash-amci-{n}"},
            timeout=15,
        )

    started = time.monotonic()
    outcome = _run(pay, services.amci)
    elapsed = time.monotonic() - started
    answers = outcome.answers
    # The kills happened, and hit requests in flight (their clients had to retry).
    assert outcome.kills == len(KILL_AFTER)
    assert outcome.retries >= len(KILL_AFTER), outcome.retries
    intents = _payment_intents(services.testmode, AMCI_KEY)
    _assert_each_charged_once(answers, intents, lambda reply: str(reply.body["reference"]))
    assert {r.body["status"] for r in answers.values()} == {"succeeded"}
    assert elapsed < DEADLINE_S, elapsed


def billing_client_call(
    services: Crashable, method: str, path: str, body: Any, headers: dict[str, str] | None = None
) -> Reply:
    """The one place the crash test calls the billing client's API, with its API token."""
    auth = {"Authorization": f"Bearer {services.bc_token}"}
    return call(method, services.bc.url + path, body, {**auth, **(headers or {})}, timeout=15)


def _billing_client_setup(services: Crashable) -> tuple[str, str]:
    def api(method: str, path: str, body: Any) -> Any:
        r = billing_client_call(services, method, path, body)
        assert r.status in (200, 201), r.body
        return r.body

    ps = api("POST", "/api/payment-systems", {
        "name": "Stripe", "processor": "Stripe", "login": LOGIN, "password": BC_KEY,
        "enabled_methods": ["VISA"],
    })
    api("PUT", "/api/currencies/USD", {"payment_system": ps["id"], "minimum_payment": "0.5"})
    customer = api("POST", "/api/customers", {
        "name": "Crash Test", "currency": "USD", "email": "crash@example.com",
    })["id"]
    card = api("POST", f"/api/customers/{customer}/cards", {"card": VISA})["id"]
    return customer, card


def test_kill_9_billing_client_during_concurrent_payments(services: Crashable) -> None:
    customer, card = _billing_client_setup(services)

    def pay(n: int) -> Reply:
        return billing_client_call(
            services, "POST", f"/api/customers/{customer}/payments",
            {"amount": _amount(n), "card_id": card}, {"Idempotency-Key": f"crash-bc-{n}"},
        )

    started = time.monotonic()
    outcome = _run(pay, services.bc)
    elapsed = time.monotonic() - started
    answers = outcome.answers
    assert outcome.kills == len(KILL_AFTER)
    assert outcome.retries >= len(KILL_AFTER), outcome.retries
    intents = _payment_intents(services.testmode, BC_KEY)
    # The billing client's transaction id is the payment's reference at AMCI and in Stripe.
    _assert_each_charged_once(answers, intents, lambda reply: str(reply.body["id"]))
    assert {r.body["status"] for r in answers.values()} == {"succeeded"}
    assert len({r.body["id"] for r in answers.values()}) == PAYMENTS
    assert elapsed < DEADLINE_S, elapsed
