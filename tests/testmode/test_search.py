"""Search endpoints and ``created`` list filters, through the official SDK."""

from __future__ import annotations

import aiohttp
import pytest
import stripe

from tests.testmode.conftest import advance_clock, new_key


async def test_customer_search_email_name_metadata_and_pages(client: stripe.StripeClient) -> None:
    made = []
    for i in range(5):
        cus = await client.v1.customers.create_async(
            {"email": f"user{i}@example.com", "name": f"Ada Lovelace {i}",
             "metadata": {"tier": "gold" if i % 2 == 0 else "silver"}})
        made.append(cus.id)
    await client.v1.customers.create_async({"email": "other@example.org", "name": "Bob"})
    found = await client.v1.customers.search_async({"query": 'email:"user3@example.com"'})
    assert [c.id for c in found.data] == [made[3]]
    assert found.object == "search_result" and found.url == "/v1/customers/search"
    assert found.has_more is False and found.next_page is None

    gold = await client.v1.customers.search_async(
        {"query": 'metadata["tier"]:"gold" AND name~"lovelace"'})
    assert [c.id for c in gold.data] == [made[4], made[2], made[0]]  # newest first

    page1 = await client.v1.customers.search_async({"query": 'name:"ada lovelace"', "limit": 2})
    assert [c.id for c in page1.data] == [made[4], made[3]]
    assert page1.has_more is True and page1.next_page
    page2 = await client.v1.customers.search_async(
        {"query": 'name:"ada lovelace"', "limit": 2, "page": page1.next_page})
    assert [c.id for c in page2.data] == [made[2], made[1]]
    everything = [c.id async for c in page1.auto_paging_iter()]
    assert everything == made[::-1]

    counted = await client.v1.customers.search_async(
        {"query": '-email~"example"', "expand": ["total_count"]})
    assert counted.data == [] and counted["total_count"] == 0
    ored = await client.v1.customers.search_async(
        {"query": 'name:"bob" OR email:"user0@example.com"', "expand": ["total_count"]})
    assert ored["total_count"] == 2


async def test_deleted_customers_are_not_found(client: stripe.StripeClient) -> None:
    cus = await client.v1.customers.create_async({"email": "gone@example.com"})
    await client.v1.customers.delete_async(cus.id)
    found = await client.v1.customers.search_async({"query": 'email:"gone@example.com"'})
    assert found.data == []


async def test_payment_intent_and_charge_search(client: stripe.StripeClient) -> None:
    cus = await client.v1.customers.create_async()
    paid = await client.v1.payment_intents.create_async(
        {"amount": 1500, "currency": "usd", "customer": cus.id, "payment_method": "pm_card_visa",
         "confirm": True, "metadata": {"order_id": "6735"}})
    held = await client.v1.payment_intents.create_async(
        {"amount": 700, "currency": "eur", "payment_method": "pm_card_mastercard",
         "confirm": True, "capture_method": "manual"})
    open_ = await client.v1.payment_intents.create_async({"amount": 99, "currency": "usd"})

    async def pis(query: str) -> list[str]:
        return [p.id for p in (await client.v1.payment_intents.search_async(
            {"query": query})).data]

    assert await pis('status:"requires_capture"') == [held.id]
    assert await pis('-currency:"usd"') == [held.id]
    assert await pis(f'customer:"{cus.id}"') == [paid.id]
    assert await pis("amount>=700") == [held.id, paid.id]
    assert await pis("amount<700 OR amount>1000") == [open_.id, paid.id]
    assert await pis('metadata["order_id"]:"6735"') == [paid.id]
    assert await pis("customer:null") == [open_.id, held.id]

    await client.v1.refunds.create_async({"payment_intent": paid.id, "amount": 500})

    async def chs(query: str) -> list[str]:
        res = await client.v1.charges.search_async({"query": query, "expand": ["data.customer"]})
        return [c.id for c in res.data]

    paid_charge, held_charge = paid.latest_charge, held.latest_charge
    assert await chs("payment_method_details.card.last4:4444") == [held_charge]
    assert await chs('payment_method_details.card.brand:"visa"') == [paid_charge]
    assert await chs('refunded:"false"') == [paid_charge]  # partially refunded
    assert await chs("refunded:null") == [held_charge]
    assert await chs('currency:"usd" AND amount>1000') == [paid_charge]
    expanded = await client.v1.charges.search_async(
        {"query": f'customer:"{cus.id}"', "expand": ["data.customer"]})
    assert isinstance(expanded.data[0].customer, stripe.Customer)


@pytest.mark.parametrize(
    ("path", "query", "fragment"),
    [("customers", 'status:"active"', "unsupported search field"),
     ("customers", "email:amy", "must be quoted"),
     ("payment_intents", 'currency>"usd"', "comparison operator"),
     ("charges", 'amount>1 AND currency:"usd" OR status:"failed"', "cannot be combined"),
     ("payment_intents", "", "Missing required param: query")],
)
async def test_unsupported_queries_are_refused(
    client: stripe.StripeClient, path: str, query: str, fragment: str,
) -> None:
    service = getattr(client.v1, path)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await service.search_async({"query": query})
    assert exc.value.http_status == 400
    assert exc.value.error is not None and exc.value.error.param == "query"
    assert fragment in str(exc.value.user_message)


async def test_bad_page_and_limit(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.customers.search_async({"query": "created>0", "page": "garbage"})
    assert exc.value.error is not None and exc.value.error.param == "page"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.customers.search_async({"query": "created>0", "limit": 101})
    assert exc.value.error is not None and exc.value.error.param == "limit"


async def test_created_filters_on_lists(
    client: stripe.StripeClient, http: aiohttp.ClientSession, stripe_base_url: str,
) -> None:
    first = await client.v1.customers.create_async()
    t1 = first.created
    await advance_clock(http, stripe_base_url, 100)
    second = await client.v1.customers.create_async()
    t2 = second.created
    assert t2 >= t1 + 100

    async def ids(created: object) -> list[str]:
        page = await client.v1.customers.list_async({"created": created})  # type: ignore[typeddict-item]
        return [c.id for c in page.data]

    assert await ids({"gt": t1}) == [second.id]
    assert await ids({"gte": t1}) == [second.id, first.id]
    assert await ids({"lt": t2}) == [first.id]
    assert await ids({"lte": t2, "gt": t1 - 1}) == [second.id, first.id]
    assert await ids(t1) == [first.id]
    assert await ids({"gt": t2}) == []

    pi_old = await client.v1.payment_intents.create_async(
        {"amount": 100, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True})
    await advance_clock(http, stripe_base_url, 10)
    pi_new = await client.v1.payment_intents.create_async(
        {"amount": 100, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True})
    cutoff = pi_new.created
    pis = await client.v1.payment_intents.list_async({"created": {"gte": cutoff}})
    assert [p.id for p in pis.data] == [pi_new.id]
    chs = await client.v1.charges.list_async({"created": {"lt": cutoff}})
    assert [c.payment_intent for c in chs.data] == [pi_old.id]
    await client.v1.refunds.create_async({"payment_intent": pi_new.id})
    refunds = await client.v1.refunds.list_async({"created": {"gte": cutoff}})
    assert len(refunds.data) == 1 and refunds.data[0].payment_intent == pi_new.id


async def test_created_filter_types_are_checked(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.customers.list_async({"created": {"gt": "yesterday"}})  # type: ignore[typeddict-item]
    assert exc.value.error is not None and exc.value.error.param == "created[gt]"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.charges.list_async({"created": {"after": 1}})  # type: ignore[typeddict-item]
    assert exc.value.error is not None and exc.value.error.code == "parameter_unknown"
    # Stripe documents no created filter for PaymentMethod lists.
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.payment_methods.list_async({"created": 1})  # type: ignore[typeddict-item]
    assert exc.value.error is not None and exc.value.error.code == "parameter_unknown"


async def test_search_is_per_account(make_client) -> None:  # type: ignore[no-untyped-def]
    a, b = make_client(new_key()), make_client(new_key())
    await a.v1.customers.create_async({"email": "mine@example.com"})
    assert (await b.v1.customers.search_async({"query": 'email:"mine@example.com"'})).data == []
    assert len((await a.v1.customers.search_async(
        {"query": 'email:"mine@example.com"'})).data) == 1
