"""PaymentMethods: raw card data, test aliases and tokens, attach/detach, card-data errors."""

from __future__ import annotations

import json

import pytest
import stripe

from tests.testmode.conftest import ClientFactory

CARD = {"exp_month": 12, "exp_year": 2034, "cvc": "123"}


@pytest.mark.parametrize(
    ("number", "brand", "funding"),
    [
        ("4242424242424242", "visa", "credit"),
        ("4000056655665556", "visa", "debit"),
        ("5555555555554444", "mastercard", "credit"),
        ("2223003122003222", "mastercard", "credit"),
        ("5105105105105100", "mastercard", "prepaid"),
        ("378282246310005", "amex", "credit"),
        ("6011111111111117", "discover", "credit"),
        ("3056930009020004", "diners", "credit"),
        ("36227206271667", "diners", "credit"),
        ("3566002020360505", "jcb", "credit"),
        ("6200000000000005", "unionpay", "credit"),
        ("6205500000000000004", "unionpay", "credit"),
    ],
)
async def test_raw_card_derives_brand_funding_last4(
    client: stripe.StripeClient, number: str, brand: str, funding: str
) -> None:
    cvc = "1234" if brand == "amex" else "123"
    pm = await client.v1.payment_methods.create_async(
        {"type": "card", "card": {**CARD, "number": number, "cvc": cvc}}
    )
    assert pm.id.startswith("pm_")
    assert pm.card is not None
    assert (pm.card.brand, pm.card.funding, pm.card.last4) == (brand, funding, number[-4:])
    assert (pm.card.exp_month, pm.card.exp_year) == (12, 2034)
    assert pm.card.checks is not None and pm.card.checks.cvc_check == "pass"
    body = json.dumps(pm.to_dict())
    assert number not in body
    assert '"cvc"' not in body and '"number"' not in body


async def test_fingerprint_is_per_card_and_per_account(make_client: ClientFactory) -> None:
    a, b = make_client(), make_client()
    card = {"type": "card", "card": {**CARD, "number": "4242424242424242"}}
    a1 = await a.v1.payment_methods.create_async(card)  # type: ignore[arg-type]
    a2 = await a.v1.payment_methods.create_async(card)  # type: ignore[arg-type]
    b1 = await b.v1.payment_methods.create_async(card)  # type: ignore[arg-type]
    other = await a.v1.payment_methods.create_async(
        {"type": "card", "card": {**CARD, "number": "5555555555554444"}})
    assert a1.card and a2.card and b1.card and other.card
    assert a1.card.fingerprint == a2.card.fingerprint
    assert a1.card.fingerprint != b1.card.fingerprint
    assert a1.card.fingerprint != other.card.fingerprint


@pytest.mark.parametrize(
    ("card", "code", "param"),
    [
        ({"number": "4242424242424241"}, "incorrect_number", "card[number]"),
        ({"number": "42424242"}, "invalid_number", "card[number]"),
        ({"number": "4242-4242-4242-4242"}, "invalid_number", "card[number]"),
        ({"number": "4242424242424242", "exp_month": 13}, "invalid_expiry_month",
         "card[exp_month]"),
        ({"number": "4242424242424242", "exp_year": 95}, "invalid_expiry_year",
         "card[exp_year]"),
        ({"number": "4242424242424242", "exp_year": 2019}, "invalid_expiry_year",
         "card[exp_year]"),
        ({"number": "4242424242424242", "cvc": "99"}, "invalid_cvc", "card[cvc]"),
        ({"number": "378282246310005", "cvc": "12345"}, "invalid_cvc", "card[cvc]"),
    ],
)
async def test_invalid_card_data_is_a_card_error(
    client: stripe.StripeClient, card: dict[str, object], code: str, param: str
) -> None:
    with pytest.raises(stripe.CardError) as exc:
        await client.v1.payment_methods.create_async(
            {"type": "card", "card": {**CARD, **card}})  # type: ignore[typeddict-item]
    assert exc.value.http_status == 402
    assert exc.value.code == code
    assert exc.value.param == param
    assert "4242" not in str(exc.value.json_body)


async def test_missing_card_fields_and_unknown_nested_parameter(
    client: stripe.StripeClient,
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.payment_methods.create_async(
            {"type": "card", "card": {"number": "4242424242424242", "exp_month": 1}})
    assert exc.value.code == "parameter_missing"
    assert exc.value.param == "card[exp_year]"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.payment_methods.create_async(
            {"type": "card", "card": {**CARD, "number": "4242424242424242", "colour": "red"}})  # type: ignore[typeddict-unknown-key]
    assert exc.value.code == "parameter_unknown"
    assert exc.value.param == "card[colour]"


async def test_token_alias_creates_a_card(client: stripe.StripeClient) -> None:
    pm = await client.v1.payment_methods.create_async(
        {"type": "card", "card": {"token": "tok_mastercard"}})
    assert pm.card and (pm.card.brand, pm.card.last4) == ("mastercard", "4444")
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.payment_methods.create_async(
            {"type": "card", "card": {"token": "tok_nope"}})
    assert exc.value.code == "resource_missing"


async def test_attach_list_detach(client: stripe.StripeClient) -> None:
    cus = await client.v1.customers.create_async()
    visa = await client.v1.payment_methods.attach_async("pm_card_visa", {"customer": cus.id})
    raw = await client.v1.payment_methods.create_async(
        {"type": "card", "card": {**CARD, "number": "378282246310005", "cvc": "1234"}})
    await client.v1.payment_methods.attach_async(raw.id, {"customer": cus.id})
    assert visa.customer == cus.id and visa.id.startswith("pm_") and visa.id != "pm_card_visa"
    listed = await client.v1.customers.payment_methods.list_async(cus.id)
    assert [p.id for p in listed.data] == [raw.id, visa.id]
    listed2 = await client.v1.payment_methods.list_async({"customer": cus.id, "type": "card"})
    assert [p.id for p in listed2.data] == [raw.id, visa.id]
    detached = await client.v1.payment_methods.detach_async(visa.id)
    assert detached.customer is None
    listed = await client.v1.customers.payment_methods.list_async(cus.id)
    assert [p.id for p in listed.data] == [raw.id]
    # "Detachment is permanent and irreversible"
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.payment_methods.attach_async(visa.id, {"customer": cus.id})
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.payment_methods.detach_async(visa.id)


async def test_attached_elsewhere_cannot_be_attached_again(client: stripe.StripeClient) -> None:
    a = await client.v1.customers.create_async()
    b = await client.v1.customers.create_async()
    pm = await client.v1.payment_methods.attach_async("pm_card_visa", {"customer": a.id})
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.payment_methods.attach_async(pm.id, {"customer": b.id})


@pytest.mark.parametrize(
    ("alias", "code", "decline_code"),
    [
        ("pm_card_visa_chargeDeclined", "card_declined", "generic_decline"),
        ("pm_card_visa_chargeDeclinedInsufficientFunds", "card_declined", "insufficient_funds"),
        ("pm_card_visa_chargeDeclinedLostCard", "card_declined", "lost_card"),
        ("pm_card_visa_chargeDeclinedStolenCard", "card_declined", "stolen_card"),
        ("pm_card_chargeDeclinedExpiredCard", "expired_card", None),
        ("pm_card_chargeDeclinedIncorrectCvc", "incorrect_cvc", None),
        ("pm_card_chargeDeclinedProcessingError", "processing_error", None),
        ("pm_card_visa_chargeDeclinedVelocityLimitExceeded", "card_declined",
         "card_velocity_exceeded"),
    ],
)
async def test_decline_cards_cannot_be_attached(
    client: stripe.StripeClient, alias: str, code: str, decline_code: str | None
) -> None:
    cus = await client.v1.customers.create_async()
    with pytest.raises(stripe.CardError) as exc:
        await client.v1.payment_methods.attach_async(alias, {"customer": cus.id})
    assert exc.value.http_status == 402
    assert exc.value.code == code
    assert exc.value.error is not None and exc.value.error.decline_code == decline_code
    assert (await client.v1.customers.payment_methods.list_async(cus.id)).data == []


async def test_charge_customer_fail_attaches_then_fails_at_charge(
    client: stripe.StripeClient,
) -> None:
    cus = await client.v1.customers.create_async()
    pm = await client.v1.payment_methods.attach_async(
        "pm_card_chargeCustomerFail", {"customer": cus.id})
    assert pm.customer == cus.id
    with pytest.raises(stripe.CardError) as exc:
        await client.v1.payment_intents.create_async({
            "amount": 1000, "currency": "usd", "customer": cus.id, "payment_method": pm.id,
            "confirm": True, "off_session": True})
    assert exc.value.code == "card_declined"
    assert exc.value.error is not None and exc.value.error.decline_code == "generic_decline"


async def test_unattached_payment_method_is_single_use(client: stripe.StripeClient) -> None:
    pm = await client.v1.payment_methods.create_async(
        {"type": "card", "card": {**CARD, "number": "4242424242424242"}})
    first = await client.v1.payment_intents.create_async(
        {"amount": 1000, "currency": "usd", "payment_method": pm.id, "confirm": True})
    assert first.status == "succeeded"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.payment_intents.create_async(
            {"amount": 1000, "currency": "usd", "payment_method": pm.id, "confirm": True})
    assert exc.value.param == "payment_method"
    assert "may not be used again" in str(exc.value.user_message)


async def test_update_payment_method(client: stripe.StripeClient) -> None:
    pm = await client.v1.payment_methods.create_async(
        {"type": "card", "card": {**CARD, "number": "4242424242424242"}})
    upd = await client.v1.payment_methods.update_async(
        pm.id, {"metadata": {"k": "v"}, "billing_details": {"name": "Ann"},
                "card": {"exp_month": 3, "exp_year": 2031}})
    assert upd.metadata.to_dict() == {"k": "v"}
    assert upd.billing_details.name == "Ann"
    assert upd.card and (upd.card.exp_month, upd.card.exp_year) == (3, 2031)
    got = await client.v1.payment_methods.retrieve_async(pm.id)
    assert got.to_dict() == upd.to_dict()
