"""The store contract: what ``amci.idempotency`` and the handlers rely on, on each backend
(SQLite file, PostgreSQL database), through ``open_store(url)`` as the app opens them."""

from __future__ import annotations

import asyncio
import sqlite3

import asyncpg
import pytest

from amci.store import (
    IN_FLIGHT_STALE_SECONDS,
    CardRecord,
    Claim,
    PaymentRecord,
    Records,
    open_store,
)
from amci.store.migrations import load

CARD = CardRecord("pm_1", "cus_1", "visa", "4242", 12, 2034, False)
PAYMENT = PaymentRecord("pi_1", "USD", 1000, True, "succeeded", "inv-1", False)


async def test_claim_lifecycle_and_replay_from_a_new_connection(store_url: str) -> None:
    first = await open_store(store_url)
    assert (await first.claim("s", "k1", "h1", "run-1", 100.0)).claim is Claim.STARTED
    assert (await first.claim("s", "k1", "h1", "run-1", 100.0)).claim is Claim.IN_FLIGHT
    assert (await first.claim("s", "k1", "h2", "run-1", 100.0)).claim is Claim.MISMATCH
    assert (await first.claim("other", "k1", "h2", "run-1", 100.0)).claim is Claim.STARTED
    await first.finish("s", "k1", 201, b'{"id":"pi_1"}')
    assert (await first.claim("s", "k1", "h2", "run-1", 100.0)).claim is Claim.MISMATCH
    await first.close()

    second = await open_store(store_url)
    replay = await second.claim("s", "k1", "h1", "run-2", 101.0)
    assert (replay.claim, replay.status, replay.body) == (Claim.REPLAY, 201, b'{"id":"pi_1"}')
    await second.close()


async def test_a_key_left_by_a_closed_owner_is_taken_over(store_url: str) -> None:
    first = await open_store(store_url)
    assert (await first.claim("s", "k", "h", "run-1", 100.0)).claim is Claim.STARTED
    await first.close()  # the process is gone; its claim stays in flight
    second = await open_store(store_url)
    assert (await second.claim("s", "k", "h", "run-2", 101.0)).claim is Claim.STARTED
    assert (await second.claim("s", "k", "h", "run-2", 101.0)).claim is Claim.IN_FLIGHT
    assert (await second.claim("s", "k", "h9", "run-2", 101.0)).claim is Claim.MISMATCH
    await second.finish("s", "k", 200, b"{}")
    assert (await second.claim("s", "k", "h", "run-3", 102.0)).claim is Claim.REPLAY
    await second.close()


async def test_a_stale_claim_is_taken_over_even_if_its_owner_lives(store_url: str) -> None:
    owner = await open_store(store_url)
    other = await open_store(store_url)
    assert (await owner.claim("s", "k", "h", "run-1", 100.0)).claim is Claim.STARTED
    late = 100.0 + IN_FLIGHT_STALE_SECONDS + 1
    assert (await other.claim("s", "k", "h", "run-2", late)).claim is Claim.STARTED
    await other.finish("s", "k", 201, b"{}")
    assert (await owner.claim("s", "k", "h", "run-1", late)).claim is Claim.REPLAY
    # A request of this very process, hung for as long: a duplicate starts again too.
    assert (await owner.claim("s", "k2", "h", "run-1", 100.0)).claim is Claim.STARTED
    assert (await owner.claim("s", "k2", "h", "run-1", 101.0)).claim is Claim.IN_FLIGHT
    assert (await owner.claim("s", "k2", "h", "run-1", late)).claim is Claim.STARTED
    await owner.close()
    await other.close()


async def test_concurrent_claims_start_once(store_url: str) -> None:
    store = await open_store(store_url)
    results = await asyncio.gather(*(store.claim("s", "race", "h", "run-1", 100.0)
                                     for _ in range(20)))
    assert sorted(r.claim.value for r in results) == ["in_flight"] * 19 + ["started"]
    await store.close()


async def test_finish_writes_the_result_and_records_in_one_transaction(store_url: str) -> None:
    store = await open_store(store_url)
    assert (await store.claim("s", "k", "h", "run-1", 100.0)).claim is Claim.STARTED
    await store.finish("s", "k", 201, b'{"id":"pi_1"}',
                       Records("s", 100.0, cards=[CARD], payments=[PAYMENT]))
    await store.close()

    again = await open_store(store_url)  # committed, not just cached in a connection
    replay = await again.claim("s", "k", "h", "run-2", 101.0)
    assert (replay.claim, replay.status, replay.body) == (Claim.REPLAY, 201, b'{"id":"pi_1"}')
    assert await again.card("s", "pm_1") == CARD
    assert await again.card("other", "pm_1") is None
    assert await again.payment("s", "pi_1") == PAYMENT
    await again.close()


async def test_a_failing_record_rolls_the_result_back(store_url: str) -> None:
    """All or nothing: the key stays in flight and no record is half-written."""
    store = await open_store(store_url)
    assert (await store.claim("s", "k", "h", "run-1", 100.0)).claim is Claim.STARTED
    bad = PaymentRecord("pi_2", None, 1000, True, "succeeded", None, False)  # type: ignore[arg-type]
    with pytest.raises((sqlite3.IntegrityError, asyncpg.NotNullViolationError)):
        await store.finish("s", "k", 201, b"{}", Records("s", 100.0, payments=[PAYMENT, bad]))
    assert (await store.claim("s", "k", "h", "run-1", 100.0)).claim is Claim.IN_FLIGHT
    assert await store.payment("s", "pi_1") is None
    await store.finish("s", "k", 201, b"{}", Records("s", 100.0, payments=[PAYMENT]))
    assert await store.payment("s", "pi_1") == PAYMENT
    await store.close()


async def test_abandon_frees_the_key_and_keeps_the_records(store_url: str) -> None:
    store = await open_store(store_url)
    declined = PaymentRecord("pi_d", "EUR", 500, True, "requires_payment_method", None, False)
    assert (await store.claim("s", "k", "h", "run-1", 100.0)).claim is Claim.STARTED
    await store.abandon("s", "k", Records("s", 100.0, payments=[declined]))
    assert (await store.claim("s", "k", "h2", "run-1", 100.0)).claim is Claim.STARTED
    assert await store.payment("s", "pi_d") == declined
    await store.abandon("s", "k")
    assert (await store.claim("s", "k", "h3", "run-1", 100.0)).claim is Claim.STARTED
    card = CardRecord("pm_n", "cus_n", "mastercard", "4444", 1, 2030, True)
    await store.save(Records("s", 100.0, cards=[card]))
    assert await store.card("s", "pm_n") == card
    await store.save(Records("s", 100.0))  # nothing to write: no error
    await store.close()


async def test_records_upsert_and_forget(store_url: str) -> None:
    store = await open_store(store_url)
    await store.put_card("s", CARD, 1.0)
    await store.put_card("s", CardRecord("pm_1", "cus_2", "visa", "4242", 12, 2034, False), 2.0)
    assert (await store.card("s", "pm_1")) == CardRecord("pm_1", "cus_2", "visa", "4242", 12,
                                                         2034, False)
    await store.forget_card("s", "pm_1")
    assert await store.card("s", "pm_1") is None
    big = PaymentRecord("pi_big", "JPY", 9_007_199_254_740_993, False, "requires_capture", None,
                        True)  # past 2**53: integers stay exact
    await store.put_payment("s", big, 1.0)
    await store.put_payment("s", PaymentRecord("pi_big", "JPY", 9_007_199_254_740_993, False,
                                               "succeeded", None, True), 2.0)
    got = await store.payment("s", "pi_big")
    assert got is not None and (got.status, got.amount_minor) == ("succeeded",
                                                                  9_007_199_254_740_993)
    assert await store.payment("t", "pi_big") is None
    await store.close()


async def test_prune_drops_old_results_not_claims_in_flight(store_url: str) -> None:
    store = await open_store(store_url)
    for key in ("old-done", "old-flight", "new-done"):
        now = 200.0 if key.startswith("new") else 100.0
        assert (await store.claim("s", key, "h", "run-1", now)).claim is Claim.STARTED
    await store.finish("s", "old-done", 200, b"{}")
    await store.finish("s", "new-done", 200, b"{}")
    assert await store.prune(older_than=150.0) == 1
    assert (await store.claim("s", "old-done", "h9", "run-1", 300.0)).claim is Claim.STARTED
    assert (await store.claim("s", "old-flight", "h", "run-1", 300.0)).claim is Claim.IN_FLIGHT
    assert (await store.claim("s", "new-done", "h", "run-1", 300.0)).claim is Claim.REPLAY
    await store.ping()
    await store.close()


async def test_migrations_are_applied_once(store_url: str) -> None:
    backend = "sqlite" if store_url.startswith("sqlite") else "postgres"
    expected = len(load(backend))
    assert expected >= 2
    stores = await asyncio.gather(*(open_store(store_url) for _ in range(3)))  # replicas start
    for store in stores:
        assert await store.schema_version() == expected
    await stores[0].put_card("s", CARD, 1.0)
    for store in stores:
        await store.close()
    reopened = await open_store(store_url)
    assert await reopened.schema_version() == expected
    assert await reopened.card("s", "pm_1") == CARD
    await reopened.close()
