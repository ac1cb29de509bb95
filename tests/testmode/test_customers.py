"""Customers through the official SDK: create, retrieve, update, delete, list, account scoping."""

from __future__ import annotations

import pytest
import stripe

from tests.testmode.conftest import ClientFactory


async def test_create_without_parameters_like_stripes_save_a_card_guide(
    client: stripe.StripeClient,
) -> None:
    cus = await client.v1.customers.create_async()
    assert cus.id.startswith("cus_")
    assert cus.object == "customer"
    assert cus.livemode is False
    assert cus.email is None
    assert isinstance(cus.created, int)


async def test_retrieve_update_metadata_merge_and_delete(client: stripe.StripeClient) -> None:
    cus = await client.v1.customers.create_async(
        {"email": "ann@example.com", "name": "Ann", "metadata": {"a": "1", "b": "2"}}
    )
    got = await client.v1.customers.retrieve_async(cus.id)
    assert got.to_dict() == cus.to_dict()
    upd = await client.v1.customers.update_async(
        cus.id, {"metadata": {"a": "", "c": "3"}, "description": "vip"}
    )
    assert upd.metadata.to_dict() == {"b": "2", "c": "3"}
    assert upd.description == "vip"
    deleted = await client.v1.customers.delete_async(cus.id)
    assert deleted.deleted is True
    tomb = await client.v1.customers.retrieve_async(cus.id)
    assert tomb.to_dict() == {"id": cus.id, "object": "customer", "deleted": True}
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.customers.update_async(cus.id, {"name": "x"})
    assert exc.value.http_status == 404
    assert exc.value.code == "resource_missing"


async def test_invalid_email_is_stripes_email_invalid(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.customers.create_async({"email": " ann@example.com"})
    assert exc.value.http_status == 400
    assert exc.value.code == "email_invalid"
    assert exc.value.param == "email"


async def test_list_is_newest_first_and_pages(client: stripe.StripeClient) -> None:
    ids = [(await client.v1.customers.create_async({"email": f"u{i}@x.io"})).id for i in range(5)]
    first = await client.v1.customers.list_async({"limit": 2})
    assert [c.id for c in first.data] == ids[::-1][:2]
    assert first.has_more is True
    second = await client.v1.customers.list_async({"limit": 2, "starting_after": first.data[-1].id})
    assert [c.id for c in second.data] == ids[::-1][2:4]
    back = await client.v1.customers.list_async({"limit": 2, "ending_before": second.data[0].id})
    assert [c.id for c in back.data] == ids[::-1][:2]
    by_email = await client.v1.customers.list_async({"email": "u3@x.io"})
    assert [c.id for c in by_email.data] == [ids[3]]


async def test_every_key_is_its_own_account(make_client: ClientFactory) -> None:
    alice, bob = make_client(), make_client()
    cus = await alice.v1.customers.create_async()
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await bob.v1.customers.retrieve_async(cus.id)
    assert exc.value.http_status == 404
    assert exc.value.code == "resource_missing"
    assert str(exc.value.user_message) == f"No such customer: '{cus.id}'"
    assert (await bob.v1.customers.list_async()).data == []
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await bob.v1.payment_intents.create_async(
            {"amount": 1000, "currency": "usd", "customer": cus.id})
    assert exc.value.http_status == 400
    assert exc.value.param == "customer"


async def test_unknown_parameter_is_named(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.customers.create_async({"emial": "a@b.co"})  # type: ignore[typeddict-unknown-key]
    assert exc.value.code == "parameter_unknown"
    assert exc.value.param == "emial"
    assert "Received unknown parameter: emial" in str(exc.value.user_message)
