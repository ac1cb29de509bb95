"""amci.store: idempotency claims and records on a real SQLite file."""

from __future__ import annotations

from pathlib import Path

from amci.store import CardRecord, Claim, PaymentRecord, SqliteStore


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
