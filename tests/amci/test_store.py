"""amci.store: idempotency claims and records on a real SQLite file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from amci.store import CardRecord, Claim, PaymentRecord, Records, SqliteStore


async def test_claims_survive_a_restart(tmp_path: Path) -> None:
    db = str(tmp_path / "amci.sqlite3")
    first = SqliteStore(db)
    assert (await first.claim("s", "k1", "h1", "run-1", 100.0)).claim is Claim.STARTED
    assert (await first.claim("s", "k1", "h1", "run-1", 100.0)).claim is Claim.IN_FLIGHT
    assert (await first.claim("s", "k1", "h2", "run-1", 100.0)).claim is Claim.MISMATCH
    assert (await first.claim("other", "k1", "h2", "run-1", 100.0)).claim is Claim.STARTED
    await first.finish("s", "k1", 201, b'{"id":"pi_1"}')
    assert (await first.claim("s", "k2", "h1", "run-1", 100.0)).claim is Claim.STARTED
    await first.put_card("s", CardRecord("pm_1", "cus_1", "visa", "4242", 12, 2034, False), 1.0)
    await first.put_payment("s", PaymentRecord("pi_1", "USD", 1000, True, "succeeded", "inv-1",
                                               False), 1.0)
    await first.close()

    second = SqliteStore(db)
    replay = await second.claim("s", "k1", "h1", "run-2", 101.0)
    assert (replay.claim, replay.status, replay.body) == (Claim.REPLAY, 201, b'{"id":"pi_1"}')
    # Left in flight by the first process: the new one takes it over.
    assert (await second.claim("s", "k2", "h1", "run-2", 101.0)).claim is Claim.STARTED
    assert (await second.card("s", "pm_1")) == CardRecord("pm_1", "cus_1", "visa", "4242", 12,
                                                          2034, False)
    assert await second.card("other", "pm_1") is None
    assert (await second.payment("s", "pi_1")) is not None
    await second.forget_card("s", "pm_1")
    assert await second.card("s", "pm_1") is None
    assert await second.prune(older_than=100.5) == 1  # k1 (done, old) goes; k2 is in flight
    assert (await second.claim("s", "k1", "h9", "run-2", 102.0)).claim is Claim.STARTED
    await second.abandon("s", "k1")
    assert (await second.claim("s", "k1", "h8", "run-2", 102.0)).claim is Claim.STARTED
    await second.close()


async def test_finish_writes_the_result_and_records_in_one_transaction(tmp_path: Path) -> None:
    db = str(tmp_path / "amci.sqlite3")
    store = SqliteStore(db)
    card = CardRecord("pm_9", "cus_9", "visa", "4242", 12, 2034, False)
    payment = PaymentRecord("pi_9", "USD", 1000, True, "succeeded", "inv-9", False)
    assert (await store.claim("s", "k", "h", "run-1", 100.0)).claim is Claim.STARTED
    await store.finish("s", "k", 201, b'{"id":"pi_9"}',
                       Records("s", 100.0, cards=[card], payments=[payment]))
    await store.close()

    again = SqliteStore(db)  # committed, not just cached in the connection
    replay = await again.claim("s", "k", "h", "run-2", 101.0)
    assert (replay.claim, replay.status, replay.body) == (Claim.REPLAY, 201, b'{"id":"pi_9"}')
    assert await again.card("s", "pm_9") == card
    assert await again.payment("s", "pi_9") == payment
    await again.close()


async def test_a_failing_record_rolls_the_result_back(tmp_path: Path) -> None:
    """All or nothing: if a record can't be written, the key stays in flight (not 'done' with
    a result whose records are missing) and no record is half-written."""
    store = SqliteStore(str(tmp_path / "amci.sqlite3"))
    assert (await store.claim("s", "k", "h", "run-1", 100.0)).claim is Claim.STARTED
    good = PaymentRecord("pi_1", "USD", 1000, True, "succeeded", None, False)
    bad = PaymentRecord("pi_2", None, 1000, True, "succeeded", None, False)  # type: ignore[arg-type]
    with pytest.raises(sqlite3.IntegrityError):
        await store.finish("s", "k", 201, b"{}", Records("s", 100.0, payments=[good, bad]))
    assert (await store.claim("s", "k", "h", "run-1", 100.0)).claim is Claim.IN_FLIGHT
    assert await store.payment("s", "pi_1") is None
    # The connection is usable afterwards (no transaction left open).
    await store.finish("s", "k", 201, b"{}", Records("s", 100.0, payments=[good]))
    assert await store.payment("s", "pi_1") == good
    await store.close()


async def test_abandon_and_save_keep_the_records(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "amci.sqlite3"))
    declined = PaymentRecord("pi_d", "EUR", 500, True, "requires_payment_method", None, False)
    assert (await store.claim("s", "k", "h", "run-1", 100.0)).claim is Claim.STARTED
    await store.abandon("s", "k", Records("s", 100.0, payments=[declined]))
    assert (await store.claim("s", "k", "h2", "run-1", 100.0)).claim is Claim.STARTED  # freed
    assert await store.payment("s", "pi_d") == declined
    card = CardRecord("pm_n", "cus_n", "mastercard", "4444", 1, 2030, True)
    await store.save(Records("s", 100.0, cards=[card]))
    assert await store.card("s", "pm_n") == card
    await store.save(Records("s", 100.0))  # nothing to write: no transaction, no error
    await store.close()
