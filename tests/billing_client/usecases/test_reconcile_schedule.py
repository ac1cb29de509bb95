"""When the reconciler resends, and when never again: AMCI's 429 and 5xx leave a transaction
pending; resends back off exponentially with jitter, longest-due first, so rows that keep failing
don't starve newer ones; 23 hours after creation a pending transaction becomes ``unknown`` and is
never sent again.

Real parts: the billing client over loopback HTTP with an injected clock (moved by the tests,
never slept on), real AMCI app instances (one with its real rate limiter, to get a real 429),
the real test-mode server, and a small real HTTP server in front of AMCI that answers 503 for
chosen payments. Passes are run directly with ``reconcile_pending`` at chosen instants.
"""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from amci.settings import RateLimitSettings
from billing_client import keys
from billing_client.usecases.context import Context
from billing_client.usecases.reconcile import ReconcileReport, reconcile_pending

from ..conftest import (
    LOGIN,
    STRIPE_KEY,
    VISA,
    Captured,
    Clock,
    amci_app,
    setup_stripe,
    stripe_payment_intents,
    url,
)

Client = TestClient[Any, Any]
ServerFactory = Callable[..., Awaitable[TestServer]]
MakeBilling = Callable[..., Awaitable[Client]]
DAY_23 = 23 * 3600
# One upstream call per 1000 s, no waiting: AMCI's own limiter refuses the next call with 429.
LIMITED = RateLimitSettings(enabled=True, test_per_second=0.001, max_wait_seconds=0.0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Amci:
    """AMCI on a fixed loopback port, restartable (same SQLite file) with other settings."""

    def __init__(self, aiohttp_server: ServerFactory, testmode: TestServer, tmp_path: Path):
        self._factory = aiohttp_server
        self._testmode = testmode
        self._db = str(tmp_path / "amci-schedule.sqlite3")
        self.url = f"http://127.0.0.1:{free_port()}"
        self.server: TestServer | None = None

    async def up(self, rate_limit: RateLimitSettings | None = None) -> None:
        app = amci_app(url(self._testmode), self._db, rate_limit)
        self.server = await self._factory(app, port=int(self.url.rsplit(":", 1)[1]))

    async def down(self) -> None:
        assert self.server is not None
        await self.server.close()

    async def get(self, path: str) -> tuple[int, str]:
        basic = base64.b64encode(f"{LOGIN}:{STRIPE_KEY}".encode()).decode()
        async with (
            aiohttp.ClientSession() as s,
            s.get(self.url + path, headers={"Authorization": f"Basic {basic}"}) as r,
        ):
            return r.status, await r.text()


class Gate:
    """A real HTTP server in front of AMCI: payments whose amount is in ``failing`` get a 503
    (AMCI restarting, say); everything else is forwarded. ``payments`` records the amount and
    Idempotency-Key of every payment request that arrived."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.failing: set[str] = set()
        # Payments in ``lost`` reach AMCI, but their answer is lost on the way back (a 503).
        self.lost: set[str] = set()
        self.payments: list[tuple[str, str]] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if request.method == "POST" and request.path == "/v1/stripe/payments":
            amount = str(json.loads(body)["amount"])
            self.payments.append((amount, request.headers["Idempotency-Key"]))
            if amount in self.failing:
                error = {"error": {"type": "api_error", "message": "AMCI is restarting."}}
                return web.json_response(error, status=503)
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() in ("authorization", "content-type", "idempotency-key")
        }
        async with (
            aiohttp.ClientSession() as s,
            s.request(request.method, self.upstream + request.path_qs, data=body,
                      headers=headers) as up,
        ):
            status, payload = up.status, await up.read()
        if (request.method == "POST" and request.path == "/v1/stripe/payments"
                and str(json.loads(body)["amount"]) in self.lost):
            error = {"error": {"type": "api_error", "message": "The answer was lost."}}
            return web.json_response(error, status=503)
        return web.Response(status=status, body=payload, content_type="application/json")


def ctx_of(bc: Client) -> Context:
    return bc.app[keys.USECASES]


async def row(bc: Client, txn_id: str) -> dict[str, Any]:
    found = await ctx_of(bc).db.get_transaction(txn_id)
    assert found is not None
    return found


async def pay_pending(
    bc: Client, customer: str, body: dict[str, Any], key: str | None = None
) -> dict[str, Any]:
    headers = {"Idempotency-Key": key} if key else {}
    r = await bc.post(f"/api/customers/{customer}/payments", json=body, headers=headers)
    assert r.status == 502, await r.text()
    err = (await r.json())["error"]
    assert err["code"] == "transaction_pending" and err["transaction"]["status"] == "pending"
    return dict(err["transaction"])


async def test_amci_429_leaves_the_payment_pending_and_it_completes_under_the_same_key(
    aiohttp_server: ServerFactory,
    testmode: TestServer,
    make_billing: MakeBilling,
    clock: Clock,
    tmp_path: Path,
) -> None:
    amci = Amci(aiohttp_server, testmode, tmp_path)
    await amci.up(LIMITED)
    bc = await make_billing(amci.url, reconcile_interval_seconds=0, clock=clock)
    ids = await setup_stripe(bc, protection="full_card_except_cvv")  # saving needs no AMCI call
    r = await bc.post(f"/api/customers/{ids['customer']}/cards", json={"card": VISA})
    assert r.status == 201, await r.text()
    card = await r.json()
    # One upstream call takes the key's only slot; the payment's call is then over the rate.
    assert (await amci.get("/v1/stripe/payments/pi_none"))[0] == 404

    pending = await pay_pending(bc, ids["customer"], {"amount": "10.00", "card_id": card["id"]})
    refused = 'amci_limiter_waits_total{mode="test",outcome="refused"}'
    assert f"{refused} 1.0" in (await amci.get("/metrics"))[1]  # AMCI's own limiter said 429
    first = await row(bc, pending["id"])
    t0 = int(clock.now)
    assert (first["status"], first["attempts"], first["error_code"]) == ("pending", 1, None)
    assert t0 + 15 <= first["next_attempt_at"] <= t0 + 30
    assert pending["next_attempt_at"] == first["next_attempt_at"]  # shown in the view

    # Not due yet: a pass sends nothing.
    clock.now = first["next_attempt_at"] - 1
    assert await reconcile_pending(ctx_of(bc)) == ReconcileReport()
    assert (await row(bc, pending["id"]))["attempts"] == 1
    # Due, AMCI still over the rate: another 429, still pending, the next delay doubled.
    clock.now = first["next_attempt_at"]
    assert await reconcile_pending(ctx_of(bc)) == ReconcileReport(still_pending=1)
    second = await row(bc, pending["id"])
    assert (second["status"], second["attempts"]) == ("pending", 2)
    assert clock.now + 30 <= second["next_attempt_at"] <= clock.now + 60
    assert f"{refused} 2.0" in (await amci.get("/metrics"))[1]

    # AMCI restarted without the limiter (same store): the next due pass completes it, once,
    # under the key it was given when it was created.
    await amci.down()
    await amci.up()
    clock.now = second["next_attempt_at"]
    assert await reconcile_pending(ctx_of(bc)) == ReconcileReport(completed=1)
    done = await row(bc, pending["id"])
    assert (done["status"], done["attempts"]) == ("succeeded", 3)
    assert done["idempotency_key"] == pending["idempotency_key"]
    intents = await stripe_payment_intents(url(testmode))
    assert [(pi["id"], pi["amount"]) for pi in intents] == [(done["amci_payment"], 1000)]


async def test_5xx_resends_back_off_exponentially_under_one_key(
    aiohttp_server: ServerFactory,
    amci: TestServer,
    testmode: TestServer,
    make_billing: MakeBilling,
    clock: Clock,
) -> None:
    gate = Gate(url(amci))
    proxy = await aiohttp_server(gate.app())
    bc = await make_billing(url(proxy), reconcile_interval_seconds=0, clock=clock)
    ids = await setup_stripe(bc, protection="full_card_except_cvv")
    card = await (
        await bc.post(f"/api/customers/{ids['customer']}/cards", json={"card": VISA})
    ).json()
    gate.failing = {"5.00"}
    pending = await pay_pending(bc, ids["customer"], {"amount": "5.00", "card_id": card["id"]})

    for attempts in range(1, 7):
        current = await row(bc, pending["id"])
        assert (current["status"], current["attempts"]) == ("pending", attempts)
        full = min(3600, 30 * 2 ** (attempts - 1))
        wait = current["next_attempt_at"] - clock.now
        assert full / 2 <= wait <= full, (attempts, wait)
        clock.now = current["next_attempt_at"] - 1
        assert await reconcile_pending(ctx_of(bc)) == ReconcileReport()  # never early
        clock.now = current["next_attempt_at"]
        if attempts == 6:
            gate.failing.clear()  # AMCI is back
            assert await reconcile_pending(ctx_of(bc)) == ReconcileReport(completed=1)
        else:
            assert await reconcile_pending(ctx_of(bc)) == ReconcileReport(still_pending=1)

    done = await row(bc, pending["id"])
    assert (done["status"], done["attempts"]) == ("succeeded", 7)
    assert gate.payments == [("5.00", pending["idempotency_key"])] * 7
    assert len(await stripe_payment_intents(url(testmode))) == 1


async def test_rows_that_keep_failing_do_not_starve_newer_ones(
    aiohttp_server: ServerFactory,
    amci: TestServer,
    testmode: TestServer,
    make_billing: MakeBilling,
    clock: Clock,
) -> None:
    """Five old payments AMCI keeps refusing with 503, one newer that would go through; passes
    of three. Oldest-due first, and a resent row moves behind the others: the newer one is sent
    on the second pass (it used to wait behind the same failing rows for ever)."""
    gate = Gate(url(amci))
    proxy = await aiohttp_server(gate.app())
    bc = await make_billing(url(proxy), reconcile_interval_seconds=0, clock=clock)
    ids = await setup_stripe(bc, protection="full_card_except_cvv")
    card = await (
        await bc.post(f"/api/customers/{ids['customer']}/cards", json={"card": VISA})
    ).json()
    gate.failing = {"1.00", "2.00"}
    old = []
    for _ in range(5):
        body = {"amount": "1.00", "card_id": card["id"]}
        old.append((await pay_pending(bc, ids["customer"], body))["id"])
        clock.advance(1)
    clock.advance(60)  # newer: due after every old row (a first backoff is at most 30 s)
    newer = (await pay_pending(bc, ids["customer"], {"amount": "2.00", "card_id": card["id"]}))[
        "id"
    ]
    rows = [await row(bc, t) for t in old]
    dues = {r["next_attempt_at"] - r["created"] for r in rows}
    by_due = [r["id"] for r in sorted(rows, key=lambda r: (r["next_attempt_at"], r["created"]))]
    gate.failing = {"1.00"}
    clock.now = (await row(bc, newer))["next_attempt_at"]  # every row is due

    assert await reconcile_pending(ctx_of(bc), limit=3) == ReconcileReport(still_pending=3)
    # Longest-due first: the three whose backoff ran out earliest.
    assert [(await row(bc, t))["attempts"] for t in by_due] == [2, 2, 2, 1, 1]
    assert await reconcile_pending(ctx_of(bc), limit=3) == ReconcileReport(
        still_pending=2, completed=1
    )
    assert [(await row(bc, t))["attempts"] for t in by_due] == [2, 2, 2, 2, 2]
    assert (await row(bc, newer))["status"] == "succeeded"
    # Jitter: rows that failed together don't all come back in the same second (16 possible
    # delays each; five equal ones would be a one-in-65,536 coincidence).
    assert len(dues) > 1


async def test_a_transaction_that_cannot_be_sent_waits_the_longest_delay(
    aiohttp_server: ServerFactory,
    amci: TestServer,
    testmode: TestServer,
    make_billing: MakeBilling,
    clock: Clock,
) -> None:
    """A pending capture whose payment system was deleted can't be sent at all: it is pushed
    back by the longest delay instead of heading the queue on every pass."""
    gate = Gate(url(amci))
    proxy = await aiohttp_server(gate.app())
    bc = await make_billing(url(proxy), reconcile_interval_seconds=0, clock=clock)
    old = await setup_stripe(bc)
    auth = await (
        await bc.post(
            f"/api/customers/{old['customer']}/payments",
            json={"amount": "10.00", "type": "authorization", "card": VISA},
        )
    ).json()
    assert auth["status"] == "authorized", auth
    await amci.close()
    r = await bc.post(f"/api/transactions/{auth['id']}/capture")
    assert r.status == 502, await r.text()
    orphan = (await r.json())["error"]["transaction"]["id"]
    await setup_stripe(bc, protection="full_card_except_cvv")  # USD → a new payment system
    assert (await bc.delete(f"/api/payment-systems/{old['ps']}")).status == 200
    clock.advance(30)
    assert await reconcile_pending(ctx_of(bc)) == ReconcileReport(errors=1)
    pushed = (await row(bc, orphan))["next_attempt_at"] - clock.now
    assert 1800 <= pushed <= 3600
    assert await reconcile_pending(ctx_of(bc)) == ReconcileReport()  # not again at once


async def test_after_23_hours_a_pending_payment_becomes_unknown_and_is_never_sent_again(
    aiohttp_server: ServerFactory,
    testmode: TestServer,
    make_billing: MakeBilling,
    clock: Clock,
    tmp_path: Path,
    captured_logs: Captured,
) -> None:
    amci = Amci(aiohttp_server, testmode, tmp_path)
    await amci.up()
    bc = await make_billing(amci.url, reconcile_interval_seconds=0, clock=clock)
    ids = await setup_stripe(bc)
    cust = ids["customer"]
    card = await (await bc.post(f"/api/customers/{cust}/cards", json={"card": VISA})).json()
    assert card["storage"] == "token"
    await amci.down()
    created = int(clock.now)
    saved_body = {"amount": "10.00", "card_id": card["id"]}
    saved = await pay_pending(bc, cust, saved_body, key="invoice-7")  # the reconciler's to send
    late = await pay_pending(bc, cust, {"amount": "11.00", "card": VISA})  # customer: too late
    left = await pay_pending(bc, cust, {"amount": "12.00", "card": VISA})  # nobody retries

    # A second before the deadline the reconciler still sends (AMCI is down), and schedules the
    # next attempt no later than the deadline itself.
    clock.now = created + DAY_23 - 1
    assert await reconcile_pending(ctx_of(bc)) == ReconcileReport(still_pending=1, needs_card=2)
    assert (await row(bc, saved["id"]))["next_attempt_at"] == created + DAY_23
    await amci.up()

    # From the deadline on nothing is sent: the customer's retry with the card …
    clock.now = created + DAY_23
    r = await bc.post(f"/api/transactions/{late['id']}/retry", json={"card": VISA})
    assert r.status == 502, await r.text()
    err = (await r.json())["error"]
    assert (err["type"], err["code"]) == ("api_error", "transaction_outcome_unknown")
    assert err["transaction"]["status"] == "unknown"
    # … and the reconciler's pass both turn unknown, with a message for the administrator.
    assert await reconcile_pending(ctx_of(bc)) == ReconcileReport(unknown=2)
    for txn, attempts in ((saved, 2), (late, 1), (left, 1)):
        got = await row(bc, txn["id"])
        assert (got["status"], got["attempts"]) == ("unknown", attempts)
        assert "unknown" in got["message"] and "administrator" in got["message"]
        assert txn["id"] in got["message"] and got["idempotency_key"] in got["message"]
    assert await stripe_payment_intents(url(testmode)) == []

    # Never again, and never under a new key: the client's replay, the retry route and later
    # passes all answer with the same unknown transaction.
    clock.advance(7 * 86400)
    r = await bc.post(
        f"/api/customers/{cust}/payments", json=saved_body, headers={"Idempotency-Key": "invoice-7"}
    )
    assert r.status == 502
    err = (await r.json())["error"]
    assert (err["code"], err["transaction"]["id"]) == ("transaction_outcome_unknown", saved["id"])
    r = await bc.post(f"/api/transactions/{saved['id']}/retry")
    assert r.status == 502 and (await r.json())["error"]["code"] == "transaction_outcome_unknown"
    assert await reconcile_pending(ctx_of(bc)) == ReconcileReport()
    listed = await (await bc.get(f"/api/customers/{cust}/transactions")).json()
    assert sorted(t["id"] for t in listed["data"]) == sorted(
        t["id"] for t in (saved, late, left)
    )
    assert await stripe_payment_intents(url(testmode)) == []
    assert (await row(bc, saved["id"]))["attempts"] == 2

    lines = [json.loads(x) for x in captured_logs.lines]
    unknown = [x for x in lines if x["event"] == "transaction_outcome_unknown"]
    assert sorted(x["transaction"] for x in unknown) == sorted(
        t["id"] for t in (saved, late, left)
    )
    assert {x["level"] for x in unknown} == {"error"}
    metrics = await (await bc.get("/metrics")).text()
    assert 'billing_client_reconciled_total{outcome="unknown"} 2.0' in metrics
    assert 'billing_client_transactions_total{operation="sale",outcome="unknown"} 3.0' in metrics


async def test_a_refund_of_unknown_outcome_stays_reserved(
    aiohttp_server: ServerFactory,
    testmode: TestServer,
    make_billing: MakeBilling,
    clock: Clock,
    tmp_path: Path,
) -> None:
    """It may have gone through: refunding "the rest" leaves its amount out, so the payment
    can't be refunded beyond what was captured."""
    amci = Amci(aiohttp_server, testmode, tmp_path)
    await amci.up()
    bc = await make_billing(amci.url, reconcile_interval_seconds=0, clock=clock)
    ids = await setup_stripe(bc)
    path = f"/api/customers/{ids['customer']}/payments"
    sale = await (await bc.post(path, json={"amount": "10.00", "card": VISA})).json()
    assert sale["status"] == "succeeded", sale
    await amci.down()
    r = await bc.post(f"/api/transactions/{sale['id']}/refunds", json={"amount": "4.00"})
    assert r.status == 502, await r.text()
    refund = (await r.json())["error"]["transaction"]
    clock.advance(DAY_23)
    assert await reconcile_pending(ctx_of(bc)) == ReconcileReport(unknown=1)
    assert (await row(bc, refund["id"]))["status"] == "unknown"
    await amci.up()

    r = await bc.post(f"/api/transactions/{sale['id']}/refunds", json={"amount": "6.01"})
    assert r.status == 400 and (await r.json())["error"]["param"] == "amount"
    r = await bc.post(f"/api/transactions/{sale['id']}/refunds")
    assert r.status == 201, await r.text()
    assert (await r.json())["amount"] == "6.00"


async def test_an_unknown_payment_is_settled_by_its_reference(
    aiohttp_server: ServerFactory,
    testmode: TestServer,
    make_billing: MakeBilling,
    clock: Clock,
    tmp_path: Path,
) -> None:
    """AMCI made the payment but its answer never arrived, and AMCI stayed out of reach until
    the resend window closed: the transaction is ``unknown``, never sent again — and then
    settled by looking the payment up by reference (the transaction id) once AMCI is back."""
    amci = Amci(aiohttp_server, testmode, tmp_path)
    await amci.up()
    gate = Gate(amci.url)
    proxy = await aiohttp_server(gate.app())
    bc = await make_billing(url(proxy), reconcile_interval_seconds=0, clock=clock)
    ids = await setup_stripe(bc)
    card = await (await bc.post(f"/api/customers/{ids['customer']}/cards",
                                json={"card": VISA})).json()
    gate.lost.add("13.00")
    lost = await pay_pending(bc, ids["customer"], {"amount": "13.00", "card_id": card["id"]})
    assert [pi["status"] for pi in await stripe_payment_intents(url(testmode))] == ["succeeded"]
    await amci.down()
    clock.advance(DAY_23)
    # Past the window: unknown (AMCI down, nothing to look at yet).
    assert await reconcile_pending(ctx_of(bc)) == ReconcileReport(unknown=1)
    assert (await row(bc, lost["id"]))["status"] == "unknown"
    await amci.up()
    assert await reconcile_pending(ctx_of(bc)) == ReconcileReport(completed=1)
    settled = await row(bc, lost["id"])
    assert (settled["status"], settled["amount_captured_minor"]) == ("succeeded", 1300)
    assert settled["message"] is None and settled["attempts"] == 1  # looked up, not resent
    assert len(await stripe_payment_intents(url(testmode))) == 1
    assert [amount for amount, _ in gate.payments] == ["13.00"]
    assert await reconcile_pending(ctx_of(bc)) == ReconcileReport()
