"""The notification records on each backend: events recorded once, a second event for the same
change dropped, sequence numbers per subject, delivery in sequence order with leases, redelivery,
lookups by reference — committed (a new connection sees them)."""

from __future__ import annotations

import asyncio

from amci.store import PaymentRecord, open_store
from amci.store.notifications import Endpoint, NewNotification


def notice(nid: str, subject: str, dedupe: str, event: str, ntype: str = "payment.succeeded",
           sub: str = "demo") -> NewNotification:
    return NewNotification(nid, sub, f"{sub}:abc", ntype, subject, subject, None, dedupe, event,
                           False, b'{"id": "x"}')


async def test_events_dedupe_and_sequences(store_url: str) -> None:
    store = await open_store(store_url)
    n = store.notifications
    assert await n.record_event("evt_1", notice("ntf_1", "pi_1", "pi_1|a|x", "evt_1"), 10.0) \
        == "ntf_1"
    # The same event again, and another event for the same change: nothing new.
    assert await n.record_event("evt_1", notice("ntf_2", "pi_1", "pi_1|b|x", "evt_1"), 11.0) \
        is None
    assert await n.record_event("evt_2", notice("ntf_3", "pi_1", "pi_1|a|x", "evt_2"), 11.0) \
        is None
    assert await n.record_event("evt_3", None, 11.0) is None  # nothing to tell
    assert await n.record_event("evt_4", notice("ntf_4", "pi_1", "pi_1|c|y", "evt_4"), 12.0) \
        == "ntf_4"
    assert await n.record_event("evt_5", notice("ntf_5", "pi_2", "pi_2|a|x", "evt_5"), 12.0) \
        == "ntf_5"
    # Concurrent events of one subject still get distinct sequences.
    got = await asyncio.gather(*(
        n.record_event(f"evt_c{i}", notice(f"ntf_c{i}", "pi_3", f"pi_3|{i}", f"evt_c{i}"), 13.0)
        for i in range(5)))
    assert sorted(str(g) for g in got) == [f"ntf_c{i}" for i in range(5)]
    await store.close()

    again = await open_store(store_url)
    n = again.notifications
    seq = {x.id: x.sequence for x in await n.recent("demo", 100)}
    assert (seq["ntf_1"], seq["ntf_4"], seq["ntf_5"]) == (1, 2, 1)
    assert sorted(seq[f"ntf_c{i}"] for i in range(5)) == [1, 2, 3, 4, 5]
    assert [x.id for x in await n.recent("demo", 10, payment="pi_1")] == ["ntf_4", "ntf_1"]
    assert await n.recent("other", 10) == []
    await again.close()


async def test_delivery_in_sequence_order_with_leases(store_url: str) -> None:
    store = await open_store(store_url)
    n = store.notifications
    await n.record_event("evt_1", notice("ntf_1", "pi_1", "d1", "evt_1"), 10.0)
    await n.record_event("evt_2", notice("ntf_2", "pi_1", "d2", "evt_2"), 10.0)
    await n.record_event("evt_3", notice("ntf_3", "pi_2", "d3", "evt_3"), 10.0)
    assert await n.oldest_pending() == 10.0
    due = await n.due(20.0, 10, 60.0)
    assert sorted(x.id for x in due) == ["ntf_1", "ntf_3"]  # ntf_2 waits behind ntf_1
    assert await n.due(21.0, 10, 60.0) == []  # leased
    await n.failed_attempt("ntf_1", 25.0, "The callback answered HTTP 503.")
    await n.delivered("ntf_3", 22.0)
    [retry] = await n.due(25.0, 10, 60.0)
    assert (retry.id, retry.attempts, retry.last_error) == (
        "ntf_1", 1, "The callback answered HTTP 503.")
    await n.set_body("ntf_1", b"body-1")
    await n.set_body("ntf_1", b"other")  # built once
    await n.delivered("ntf_1", 26.0)
    [second] = await n.due(26.0, 10, 60.0)
    assert second.id == "ntf_2"
    await n.failed_attempt("ntf_2", None, "gave up")
    assert (await n.get("demo", "ntf_2")).state == "failed"  # type: ignore[union-attr]
    again = await n.redeliver("demo", "ntf_1", 30.0)
    assert again is not None and (again.state, again.body) == ("pending", b"body-1")
    assert await n.redeliver("other", "ntf_1", 30.0) is None  # not another subscription's
    assert await n.oldest_pending() == 10.0
    await store.close()


async def test_keys_endpoints_and_lookups(store_url: str) -> None:
    store = await open_store(store_url)
    n = store.notifications
    await n.put_key("demo:abc", b"sealed-1", 1.0)
    await n.put_key("demo:abc", b"sealed-2", 2.0)  # the first is kept
    assert await n.key("demo:abc") == b"sealed-1"
    await n.put_endpoint("demo", Endpoint("demo:abc", "we_1", "http://x/h", b"s1"), 1.0)
    await n.put_endpoint("demo", Endpoint("demo:abc", "we_2", "http://x/h", b"s2"), 2.0)
    assert [e.endpoint for e in await n.endpoints("demo")] == ["we_2"]
    assert await n.endpoint("demo:zzz") is None
    await store.put_payment("demo:abc", PaymentRecord(
        "pi_1", "USD", 100, True, "succeeded", "inv-1", False), 1.0)
    await store.put_payment("demo:abc", PaymentRecord(
        "pi_2", "USD", 100, True, "succeeded", "inv-1", False), 2.0)
    assert await n.payment_by_reference("demo:abc", "inv-1") == "pi_2"
    assert await n.payment_by_reference("demo:abc", "inv-2") is None
    assert await n.payment_scope("demo", "pi_1") == "demo:abc"
    assert await n.payment_scope("dem", "pi_1") is None  # a prefix of another subscription
    await store.close()
