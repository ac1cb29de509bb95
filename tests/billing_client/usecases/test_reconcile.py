"""The reconciler: pending transactions complete by themselves once AMCI is back, exactly once.

Real parts throughout: the billing client app over loopback HTTP, the real AMCI app and the real
test-mode server; AMCI "goes down" by closing its server and "comes back" on the same port, as in
test_idempotency. ``usecases.reconcile.reconcile_pending()`` is called directly for the passes; the
background loop is checked through its ``on_reconcile_pass`` hook (an event, never a sleep).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from billing_client import backoff, keys
from billing_client.app import create_app
from billing_client.usecases.reconcile import ReconcileReport, reconcile_pending

from ..conftest import (
    DECLINED,
    STRIPE_KEY,
    VISA,
    Captured,
    Clock,
    amci_app,
    authorized,
    bc_settings,
    setup_stripe,
    stripe_payment_intents,
    url,
)

Client = TestClient[Any, Any]
ServerFactory = Callable[..., Awaitable[TestServer]]
ClientFactory = Callable[..., Awaitable[Client]]
MakeBilling = Callable[..., Awaitable[Client]]
DEADLINE_S = 20.0  # an upper bound on waiting for an event, never a pause


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def stripe_list(testmode: TestServer, what: str) -> list[dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as s,
        s.get(
            f"{url(testmode)}/v1/{what}?limit=100",
            headers={"Authorization": f"Bearer {STRIPE_KEY}"},
        ) as r,
    ):
        assert r.status == 200, await r.text()
        return list((await r.json())["data"])


async def txn(bc: Client, txn_id: str) -> dict[str, Any]:
    r = await bc.get(f"/api/transactions/{txn_id}")
    assert r.status == 200, await r.text()
    return dict(await r.json())


async def pay_pending(bc: Client, customer: str, body: dict[str, Any]) -> dict[str, Any]:
    """A payment while AMCI is down: recorded as pending (502 transaction_pending)."""
    r = await bc.post(f"/api/customers/{customer}/payments", json=body)
    assert r.status == 502, await r.text()
    err = (await r.json())["error"]
    assert err["code"] == "transaction_pending" and err["transaction"]["status"] == "pending"
    return dict(err["transaction"])


class Outage:
    """AMCI on a fixed loopback port that can be stopped and started again (same SQLite file)."""

    def __init__(self, aiohttp_server: ServerFactory, testmode: TestServer, tmp_path: Path):
        self._factory = aiohttp_server
        self._testmode = testmode
        self._db = str(tmp_path / "amci-reconcile.sqlite3")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server: TestServer | None = None

    async def up(self) -> None:
        self.server = await self._factory(amci_app(url(self._testmode), self._db), port=self.port)

    async def down(self) -> None:
        assert self.server is not None
        await self.server.close()


async def reconcile(bc: Client, limit: int = 50) -> ReconcileReport:
    """One reconciliation pass of ``bc``'s use cases, called directly, once every backoff has
    run out: ``bc``'s injected clock moves on by the longest delay first. (The backoff itself is
    tested in test_reconcile_schedule.py, which calls ``reconcile_pending`` at chosen instants.)"""
    ctx = bc.app[keys.USECASES]
    assert isinstance(ctx.clock, Clock), "make the billing client with clock=clock"
    ctx.clock.advance(backoff.MAX_DELAY_S)
    return await reconcile_pending(ctx, limit)


async def test_outage_then_reconcile_completes_once(
    aiohttp_server: ServerFactory, testmode: TestServer, make_billing: MakeBilling, tmp_path: Path,
    clock: Clock,
) -> None:
    amci = Outage(aiohttp_server, testmode, tmp_path)
    await amci.up()
    bc = await make_billing(amci.url, reconcile_interval_seconds=0, clock=clock)
    ids = await setup_stripe(bc)
    cust = ids["customer"]
    card = await (await bc.post(f"/api/customers/{cust}/cards", json={"card": VISA})).json()
    await amci.down()

    pending = await pay_pending(bc, cust, {"amount": "10.00", "card_id": card["id"]})
    key = pending["idempotency_key"]
    # AMCI still down: a pass tries, the transaction stays pending, one more attempt counted.
    report = await reconcile(bc)
    assert report == ReconcileReport(still_pending=1)
    got = await txn(bc, pending["id"])
    assert (got["status"], got["attempts"], got["idempotency_key"]) == ("pending", 2, key)
    assert await stripe_payment_intents(url(testmode)) == []

    await amci.up()
    report = await reconcile(bc)
    assert report == ReconcileReport(completed=1)
    done = await txn(bc, pending["id"])
    assert (done["status"], done["attempts"], done["idempotency_key"], done["message"]) == (
        "succeeded",
        3,
        key,
        None,
    )
    intents = await stripe_payment_intents(url(testmode))
    assert [(pi["id"], pi["amount"], pi["status"]) for pi in intents] == [
        (done["amci"]["payment"], 1000, "succeeded")
    ]
    # A second pass finds nothing to do and changes nothing.
    assert await reconcile(bc) == ReconcileReport()
    assert await txn(bc, pending["id"]) == done
    assert len(await stripe_payment_intents(url(testmode))) == 1
    # The manual retry now just replays the finished transaction.
    r = await bc.post(f"/api/transactions/{pending['id']}/retry")
    assert r.status == 201 and r.headers["Idempotent-Replayed"] == "true"

    metrics = await (await bc.get("/metrics")).text()
    assert 'billing_client_reconciled_total{outcome="still_pending"} 1.0' in metrics
    assert 'billing_client_reconciled_total{outcome="completed"} 1.0' in metrics


async def test_reconcile_replays_a_payment_amci_took_before_it_went_down(
    aiohttp_server: ServerFactory,
    amci: TestServer,
    testmode: TestServer,
    make_billing: MakeBilling,
    clock: Clock,
) -> None:
    """The worst case for a double charge: AMCI charged, its answer never arrived (timeout). The
    reconciler resends under the stored key and AMCI replays: still one PaymentIntent."""
    hop = Hop(url(amci))
    proxy = await aiohttp_server(hop.app())
    bc = await make_billing(url(proxy), timeout=0.5, reconcile_interval_seconds=0, clock=clock)
    ids = await setup_stripe(bc)
    card = await (
        await bc.post(f"/api/customers/{ids['customer']}/cards", json={"card": VISA})
    ).json()
    hop.hold_payments = 1
    try:
        pending = await pay_pending(bc, ids["customer"], {"amount": "7.00", "card_id": card["id"]})
        assert hop.forwarded.is_set()  # AMCI did take it
        assert len(await stripe_payment_intents(url(testmode))) == 1
    finally:
        hop.release.set()
    assert await reconcile(bc) == ReconcileReport(completed=1)
    done = await txn(bc, pending["id"])
    assert done["status"] == "succeeded" and done["idempotency_key"] == pending["idempotency_key"]
    intents = await stripe_payment_intents(url(testmode))
    assert [(pi["id"], pi["amount"]) for pi in intents] == [(done["amci"]["payment"], 700)]


async def test_one_off_card_payment_is_left_to_the_customer(
    aiohttp_server: ServerFactory, testmode: TestServer, make_billing: MakeBilling, tmp_path: Path,
    clock: Clock,
) -> None:
    amci = Outage(aiohttp_server, testmode, tmp_path)
    # AMCI down from the start
    bc = await make_billing(amci.url, reconcile_interval_seconds=0, clock=clock)
    ids = await setup_stripe(bc)
    pending = await pay_pending(bc, ids["customer"], {"amount": "3.00", "card": VISA})
    await amci.up()

    for _ in range(2):
        assert await reconcile(bc) == ReconcileReport(needs_card=1)
    got = await txn(bc, pending["id"])
    assert (got["status"], got["attempts"]) == ("pending", 1)  # never attempted
    assert await stripe_payment_intents(url(testmode)) == []
    # The customer retries with the card: done, and the reconciler has nothing left.
    r = await bc.post(f"/api/transactions/{pending['id']}/retry", json={"card": VISA})
    assert r.status == 201, await r.text()
    assert await reconcile(bc) == ReconcileReport()
    metrics = await (await bc.get("/metrics")).text()
    assert 'billing_client_reconciled_total{outcome="needs_card"} 2.0' in metrics


async def test_pending_capture_and_refund_complete_oldest_first(
    aiohttp_server: ServerFactory, testmode: TestServer, make_billing: MakeBilling, tmp_path: Path,
    clock: Clock,
) -> None:
    amci = Outage(aiohttp_server, testmode, tmp_path)
    await amci.up()
    bc = await make_billing(amci.url, reconcile_interval_seconds=0, clock=clock)
    ids = await setup_stripe(bc)
    path = f"/api/customers/{ids['customer']}/payments"
    # One-off cards: the follow-ups need no card data, so they are reconcilable all the same.
    r = await bc.post(path, json={"amount": "25.00", "type": "authorization", "card": VISA})
    auth = await r.json()
    assert auth["status"] == "authorized", auth
    sale = await (await bc.post(path, json={"amount": "10.00", "card": VISA})).json()
    assert sale["status"] == "succeeded", sale
    await amci.down()

    r = await bc.post(f"/api/transactions/{auth['id']}/capture", json={"amount": "20.00"})
    assert r.status == 502, await r.text()
    capture = (await r.json())["error"]["transaction"]
    # Two minutes later: the capture's backoff (at most 30 s) runs out well before the refund's.
    clock.advance(120)
    r = await bc.post(f"/api/transactions/{sale['id']}/refunds", json={"amount": "4.00"})
    assert r.status == 502, await r.text()
    refund = (await r.json())["error"]["transaction"]
    assert capture["status"] == refund["status"] == "pending"
    await amci.up()

    # Longest-due first: with room for one, the capture goes before the refund.
    assert await reconcile(bc, limit=1) == ReconcileReport(completed=1)
    assert (await txn(bc, capture["id"]))["status"] == "succeeded"
    assert (await txn(bc, refund["id"]))["status"] == "pending"
    assert await reconcile(bc) == ReconcileReport(completed=1)
    done = await txn(bc, refund["id"])
    assert done["status"] == "succeeded" and done["amci"]["refund"].startswith("re_")

    auth_now, sale_now = await txn(bc, auth["id"]), await txn(bc, sale["id"])
    assert (auth_now["status"], auth_now["amount_captured"]) == ("captured", "20.00")
    assert (sale_now["status"], sale_now["amount_refunded"]) == ("partially_refunded", "4.00")
    # Stripe's side: the capture and the refund happened once each.
    intents = {pi["id"]: pi for pi in await stripe_payment_intents(url(testmode))}
    assert len(intents) == 2
    assert intents[auth["amci"]["payment"]]["amount_received"] == 2000
    refunds = await stripe_list(testmode, "refunds")
    assert [(x["id"], x["amount"]) for x in refunds] == [(done["amci"]["refund"], 400)]
    assert await reconcile(bc) == ReconcileReport()


async def test_decline_is_final_and_a_deleted_saved_card_needs_the_customer(
    aiohttp_server: ServerFactory, testmode: TestServer, make_billing: MakeBilling, tmp_path: Path,
    clock: Clock,
) -> None:
    """full_card_except_cvv: the stored card goes with every attempt, so the reconciler can
    resend it; Stripe's decline is recorded as the manual retry records it. A payment whose card
    was deleted meanwhile (its number is gone) is left to the customer."""
    amci = Outage(aiohttp_server, testmode, tmp_path)
    # AMCI down from the start
    bc = await make_billing(amci.url, reconcile_interval_seconds=0, clock=clock)
    ids = await setup_stripe(bc, protection="full_card_except_cvv")
    cust = ids["customer"]
    cards = f"/api/customers/{cust}/cards"
    declined = await (await bc.post(cards, json={"card": DECLINED})).json()
    gone = await (await bc.post(cards, json={"card": VISA})).json()
    assert declined["storage"] == gone["storage"] == "encrypted"
    first = await pay_pending(bc, cust, {"amount": "5.00", "card_id": declined["id"]})
    second = await pay_pending(bc, cust, {"amount": "6.00", "card_id": gone["id"]})
    assert (await bc.delete(f"{cards}/{gone['id']}")).status == 200
    await amci.up()

    assert await reconcile(bc) == ReconcileReport(failed=1, needs_card=1)
    failed = await txn(bc, first["id"])
    assert (failed["status"], failed["message"]) == ("failed", "Your card was declined.")
    assert failed["error"]["code"] == "card_declined"
    left = await txn(bc, second["id"])
    assert (left["status"], left["attempts"]) == ("pending", 1)
    assert await reconcile(bc) == ReconcileReport(needs_card=1)
    assert (await txn(bc, first["id"]))["attempts"] == failed["attempts"]  # final: not resent


async def test_a_transaction_that_cannot_be_sent_does_not_hold_up_the_others(
    aiohttp_server: ServerFactory,
    testmode: TestServer,
    make_billing: MakeBilling,
    tmp_path: Path,
    captured_logs: Captured,
    clock: Clock,
) -> None:
    """The oldest pending transaction belongs to a payment system deleted since (USD was moved
    to another one): it is logged and stays pending; the next one still completes."""
    amci = Outage(aiohttp_server, testmode, tmp_path)
    await amci.up()
    bc = await make_billing(amci.url, reconcile_interval_seconds=0, clock=clock)
    old = await setup_stripe(bc)
    r = await bc.post(
        f"/api/customers/{old['customer']}/payments",
        json={"amount": "10.00", "type": "authorization", "card": VISA},
    )
    auth = await r.json()
    assert auth["status"] == "authorized", auth
    await amci.down()
    r = await bc.post(f"/api/transactions/{auth['id']}/capture")
    assert r.status == 502, await r.text()
    orphan = (await r.json())["error"]["transaction"]
    new = await setup_stripe(bc, protection="full_card_except_cvv")  # USD → the new system
    assert (await bc.delete(f"/api/payment-systems/{old['ps']}")).status == 200
    cards = f"/api/customers/{new['customer']}/cards"
    card = await (await bc.post(cards, json={"card": VISA})).json()
    pending = await pay_pending(bc, new["customer"], {"amount": "4.00", "card_id": card["id"]})
    await amci.up()

    assert await reconcile(bc) == ReconcileReport(completed=1, errors=1)
    assert (await txn(bc, pending["id"]))["status"] == "succeeded"
    left = await txn(bc, orphan["id"])
    assert (left["status"], left["attempts"]) == ("pending", 1)
    errors = [json.loads(x) for x in captured_logs.lines if "reconcile_transaction_error" in x]
    assert [(e["transaction"], e["operation"], e["error"]) for e in errors] == [
        (orphan["id"], "capture", "resource_missing")
    ]
    assert "exception" not in errors[0]  # an expected refusal, not a crash: no traceback


class Hop:
    """A real HTTP hop in front of AMCI. ``fail_payments``: that many payment requests answered
    503 without reaching AMCI (unavailable). ``hold_payments``: then that many forwarded to AMCI
    with their answer held until ``release`` (AMCI charged, the caller is still waiting)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.fail_payments = 0
        self.hold_payments = 0
        self.forwarded = asyncio.Event()
        self.release = asyncio.Event()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        payment = request.path == "/v1/stripe/payments"
        if payment and self.fail_payments:
            self.fail_payments -= 1
            body = {"error": {"type": "api_error", "message": "AMCI is restarting."}}
            return web.json_response(body, status=503)
        hold = payment and self.hold_payments > 0
        if hold:
            self.hold_payments -= 1
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() in ("authorization", "content-type", "idempotency-key")
        }
        async with (
            aiohttp.ClientSession() as s,
            s.request(
                request.method,
                self.upstream + request.path_qs,
                data=await request.read(),
                headers=headers,
            ) as up,
        ):
            status, payload = up.status, await up.read()
        if hold:
            self.forwarded.set()
            await self.release.wait()
        return web.Response(status=status, body=payload, content_type="application/json")


async def test_a_transaction_in_flight_is_left_to_its_request(
    aiohttp_server: ServerFactory,
    amci: TestServer,
    testmode: TestServer,
    make_billing: MakeBilling,
    clock: Clock,
) -> None:
    """Per-transaction exclusivity: while the payment's own first attempt is waiting on AMCI,
    a pass counts it as busy and sends nothing."""
    hop = Hop(url(amci))
    proxy = await aiohttp_server(hop.app())
    bc = await make_billing(url(proxy), reconcile_interval_seconds=0, clock=clock)
    ids = await setup_stripe(bc)
    card = await (
        await bc.post(f"/api/customers/{ids['customer']}/cards", json={"card": VISA})
    ).json()
    hop.hold_payments = 1
    paying = asyncio.create_task(
        bc.post(
            f"/api/customers/{ids['customer']}/payments",
            json={"amount": "9.00", "card_id": card["id"]},
        )
    )
    try:
        await asyncio.wait_for(hop.forwarded.wait(), DEADLINE_S)
        assert await reconcile(bc) == ReconcileReport(busy=1)
    finally:
        hop.release.set()
    r = await paying
    assert r.status == 201, await r.text()
    done = await r.json()
    assert done["attempts"] == 1
    assert [pi["id"] for pi in await stripe_payment_intents(url(testmode))] == [
        done["amci"]["payment"]
    ]


# == the background loop ===========================================================================


class Passes:
    """``on_reconcile_pass`` for tests: records every report, sets ``completed`` on a pass that
    completed something and ``ran`` on any pass."""

    def __init__(self) -> None:
        self.reports: list[ReconcileReport | None] = []
        self.ran = asyncio.Event()
        self.completed = asyncio.Event()

    def __call__(self, report: ReconcileReport | None) -> None:
        self.reports.append(report)
        self.ran.set()
        if report is not None and report.completed:
            self.completed.set()


async def test_background_loop_completes_a_pending_payment(
    aiohttp_server: ServerFactory,
    aiohttp_client: ClientFactory,
    testmode: TestServer,
    tmp_path: Path,
    fernet_key: str,
    captured_logs: Captured,
    clock: Clock,
) -> None:
    amci = Outage(aiohttp_server, testmode, tmp_path)
    await amci.up()
    passes = Passes()
    settings = bc_settings(
        amci.url, str(tmp_path / "bc.sqlite3"), fernet_key, reconcile_interval_seconds=0.05
    )
    bc = await authorized(
        aiohttp_client, create_app(settings, on_reconcile_pass=passes, clock=clock)
    )
    ids = await setup_stripe(bc)
    card = await (
        await bc.post(f"/api/customers/{ids['customer']}/cards", json={"card": VISA})
    ).json()
    await amci.down()
    pending = await pay_pending(bc, ids["customer"], {"amount": "12.00", "card_id": card["id"]})

    await amci.up()  # nobody calls retry: the loop finds it, once its backoff has run out
    clock.advance(backoff.MAX_DELAY_S)
    await asyncio.wait_for(passes.completed.wait(), DEADLINE_S)
    done = await txn(bc, pending["id"])
    assert done["status"] == "succeeded"
    assert done["idempotency_key"] == pending["idempotency_key"]
    intents = await stripe_payment_intents(url(testmode))
    assert [(pi["id"], pi["amount"]) for pi in intents] == [(done["amci"]["payment"], 1200)]
    assert sum(r.completed for r in passes.reports if r is not None) == 1
    assert None not in passes.reports  # no pass raised

    lines = [json.loads(x) for x in captured_logs.lines]
    finished = [x for x in lines if x["event"] == "reconcile_pass" and x["completed"]]
    assert len(finished) == 1
    assert set(finished[0]) >= {"completed", "still_pending", "failed", "needs_card"}
    text = json.dumps(finished[0])
    for secret in (pending["id"], pending["idempotency_key"], card["id"], VISA["number"]):
        assert secret not in text  # counts only


async def test_shutdown_cancels_the_loop_mid_pass_and_nothing_is_charged_twice(
    aiohttp_server: ServerFactory,
    aiohttp_client: ClientFactory,
    amci: TestServer,
    testmode: TestServer,
    tmp_path: Path,
    fernet_key: str,
    clock: Clock,
) -> None:
    """Shutdown while a pass waits on AMCI (which did charge): the task ends cancelled, the
    transaction stays pending under its key, and the next run completes it as a replay."""
    hop = Hop(url(amci))
    proxy = await aiohttp_server(hop.app())
    db = str(tmp_path / "bc.sqlite3")
    passes = Passes()
    bc = await authorized(
        aiohttp_client,
        create_app(
            bc_settings(url(proxy), db, fernet_key, reconcile_interval_seconds=0.01),
            on_reconcile_pass=passes,
            clock=clock,
        ),
    )
    task = bc.app[keys.RECONCILER]
    ids = await setup_stripe(bc)
    card = await (
        await bc.post(f"/api/customers/{ids['customer']}/cards", json={"card": VISA})
    ).json()
    hop.fail_payments, hop.hold_payments = 1, 1
    try:
        pending = await pay_pending(bc, ids["customer"], {"amount": "8.00", "card_id": card["id"]})
        clock.advance(backoff.MAX_DELAY_S)  # due: the loop resends it
        await asyncio.wait_for(hop.forwarded.wait(), DEADLINE_S)  # the loop's resend is in AMCI
        assert not task.done()
        await bc.close()
        assert task.cancelled()
    finally:
        hop.release.set()
    assert len(await stripe_payment_intents(url(testmode))) == 1  # AMCI did charge

    again = await authorized(
        aiohttp_client,
        create_app(
            bc_settings(url(proxy), db, fernet_key, reconcile_interval_seconds=0), clock=clock
        ),
    )
    assert keys.RECONCILER not in again.app  # 0 disables the loop
    row = await txn(again, pending["id"])  # as the interrupted pass left it
    assert (row["status"], row["attempts"]) == ("pending", 2)
    assert await reconcile(again) == ReconcileReport(completed=1)
    done = await txn(again, pending["id"])
    assert (done["status"], done["attempts"]) == ("succeeded", 3)
    intents = await stripe_payment_intents(url(testmode))
    assert [pi["id"] for pi in intents] == [done["amci"]["payment"]]


async def test_a_failing_pass_is_logged_and_the_loop_goes_on(
    aiohttp_client: ClientFactory,
    tmp_path: Path,
    fernet_key: str,
    captured_logs: Captured,
    clock: Clock,
) -> None:
    """A pass that raises (here: the transactions table moved away under it, a real SQLite
    error) is logged, and once the table is back the next pass works again."""
    db = tmp_path / "bc.sqlite3"
    passes = Passes()
    settings = bc_settings(
        "http://127.0.0.1:9", str(db), fernet_key, reconcile_interval_seconds=0.01
    )
    bc = await authorized(aiohttp_client, create_app(settings, on_reconcile_pass=passes))
    await asyncio.wait_for(passes.ran.wait(), DEADLINE_S)
    assert passes.reports[-1] == ReconcileReport()

    def rename(old: str, new: str) -> None:
        with contextlib.closing(sqlite3.connect(db)) as conn:
            conn.execute(f"ALTER TABLE {old} RENAME TO {new}")

    rename("transactions", "transactions_away")
    passes.ran.clear()
    await asyncio.wait_for(passes.ran.wait(), DEADLINE_S)
    assert passes.reports[-1] is None  # that pass raised
    rename("transactions_away", "transactions")
    passes.ran.clear()
    await asyncio.wait_for(passes.ran.wait(), DEADLINE_S)
    passes.ran.clear()
    await asyncio.wait_for(passes.ran.wait(), DEADLINE_S)
    assert passes.reports[-1] == ReconcileReport()  # the loop went on
    assert not bc.app[keys.RECONCILER].done()
    failures = [json.loads(x) for x in captured_logs.lines if "reconcile_pass_failed" in x]
    assert failures and failures[0]["level"] == "error"
    assert failures[0]["error"] == "OperationalError" and "exception" in failures[0]
