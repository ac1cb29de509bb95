"""Every documented request parameter of every endpoint served is accepted and type-checked
(from Stripe's OpenAPI description, amci/testmode/stripe-params.json); the simulated ones are
applied, the echoed ones stored and returned as Stripe returns them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
import stripe

from amci.testmode import params
from amci.testmode.routes import ROUTES
from tests.testmode.conftest import advance_clock

# A value of the wrong type for each kind of parameter, as form pairs under the name ``n``.
WRONG: dict[str, list[tuple[str, str]]] = {
    "int": [("{n}", "ten")], "bool": [("{n}", "maybe")], "num": [("{n}", "1,5")],
    "enum": [("{n}", "not_a_documented_value")], "str": [("{n}[nested]", "x")],
    "obj": [("{n}", "scalar")], "list": [("{n}", "scalar")], "map": [("{n}", "scalar")],
}
# Names whose spec is the test mode's own (a narrower type, or a reference to something the
# test mode has none of): any value refused still must not be parameter_unknown.
DOC = json.loads(params.SOURCE.read_text())["endpoints"]


def _wrong(node: dict[str, Any], name: str) -> list[tuple[str, str]] | None:
    kind = node["t"]
    if kind == "any":
        kinds = {o["t"] for o in node["o"]}
        if kinds <= {"int", "obj"}:  # created: integer or range hash
            return [(f"{name}", "soon")]
        if kinds <= {"bool", "enum"}:  # off_session
            return [(f"{name}", "sometimes")]
        return [(f"{name}[a][b]", "x")] if "str" not in kinds else None
    if kind == "loose":
        return None
    return [(k.format(n=name), v) for k, v in WRONG[kind]]


def test_every_route_served_has_its_documented_parameters() -> None:
    served = {f"{m} {p}" for m, p, _ in ROUTES}
    assert served <= set(DOC), served - set(DOC)
    assert "transfer_group" in DOC["POST /v1/payment_intents"]
    assert "shipping" in DOC["POST /v1/payment_intents"]
    assert "created" in DOC["GET /v1/charges"]


async def _ids(client: stripe.StripeClient, http: aiohttp.ClientSession,
               base_url: str) -> dict[str, str]:
    cus = await client.v1.customers.create_async()
    pm = await client.v1.payment_methods.attach_async("pm_card_visa", {"customer": cus.id})
    pi = await client.v1.payment_intents.create_async(
        {"amount": 1000, "currency": "usd", "customer": cus.id, "payment_method": pm.id,
         "confirm": True})
    assert isinstance(pi.latest_charge, str)
    refund = await client.v1.refunds.create_async({"payment_intent": pi.id, "amount": 100})
    si = await client.v1.setup_intents.create_async({"customer": cus.id})
    we = await client.v1.webhook_endpoints.create_async(
        {"url": "http://127.0.0.1:9/hook", "enabled_events": ["charge.refunded"]})
    await client.v1.payment_intents.create_async(
        {"amount": 1000, "currency": "usd", "payment_method": "pm_card_createDispute",
         "confirm": True})
    await advance_clock(http, base_url, 0)
    dispute = (await client.v1.disputes.list_async()).data[0]
    event = (await client.v1.events.list_async()).data[0]
    return {"customers": cus.id, "payment_methods": pm.id, "payment_intents": pi.id,
            "charges": pi.latest_charge, "refunds": refund.id, "setup_intents": si.id,
            "setup_attempts": "", "webhook_endpoints": we.id, "disputes": dispute.id,
            "events": event.id}


async def test_wrong_types_are_refused_and_no_documented_name_is_unknown(
    client: stripe.StripeClient, http: aiohttp.ClientSession, stripe_base_url: str, key: str,
    make_client,  # type: ignore[no-untyped-def]
) -> None:
    ids = await _ids(make_client(key), http, stripe_base_url)
    headers = {"Authorization": f"Bearer {key}"}
    checked = 0
    for method, template, _ in ROUTES:
        resource = template.split("/")[2]
        path = template.replace("{id}", ids[resource])
        for name, node in DOC[f"{method} {template}"].items():
            pairs = _wrong(node, name)
            if pairs is None or name == "expand":
                continue
            body = urlencode(pairs)
            url = stripe_base_url + path
            if method == "GET":
                req = http.get(f"{url}?{body}", headers=headers)
            else:
                req = http.request(method, url, data=body, headers={
                    **headers, "Content-Type": "application/x-www-form-urlencoded"})
            async with req as r:
                answer = await r.json()
            where = f"{method} {template} {pairs}"
            assert r.status in (400, 404), (where, answer)
            err = answer["error"]
            assert err.get("code") != "parameter_unknown", (where, err)
            assert str(err.get("param", "")).startswith(name), (where, err)
            checked += 1
    assert checked > 150


@pytest.mark.parametrize(
    ("params_", "param"),
    [({"colour": "red"}, "colour"), ({"shipping": {"colour": "red"}}, "shipping[colour]"),
     ({"payment_method_options": {"card": {"colour": "red"}}},
      "payment_method_options[card][colour]")],
)
async def test_undocumented_parameters_are_still_unknown(
    client: stripe.StripeClient, params_: dict[str, Any], param: str,
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.payment_intents.create_async(
            {"amount": 100, "currency": "usd", **params_})  # type: ignore[typeddict-item]
    assert exc.value.code == "parameter_unknown"
    assert exc.value.error is not None and exc.value.error.param == param


async def test_payment_intent_echoes_shipping_and_transfer_group(
    client: stripe.StripeClient,
) -> None:
    pi = await client.v1.payment_intents.create_async({
        "amount": 1200, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True,
        "transfer_group": "ORDER-77", "application_fee_amount": 0,
        "shipping": {"name": "Jenny Rosen", "address": {"line1": "1 Main St", "country": "US"}},
        "radar_options": {"session": "rses_x"}, "description": "with extras",
        "payment_method_options": {"card": {"installments": {"enabled": False}}},
        "expand": ["latest_charge"]})
    assert pi.transfer_group == "ORDER-77" and pi.application_fee_amount == 0
    assert pi.shipping is not None and pi.shipping.to_dict(recursive=True) == {
        "address": {"city": None, "country": "US", "line1": "1 Main St", "line2": None,
                    "postal_code": None, "state": None},
        "carrier": None, "name": "Jenny Rosen", "phone": None, "tracking_number": None}
    assert isinstance(pi.latest_charge, stripe.Charge)
    assert pi.latest_charge.transfer_group == "ORDER-77"
    assert pi.latest_charge.shipping is not None
    assert pi.latest_charge.shipping.name == "Jenny Rosen"
    charges = await client.v1.charges.list_async({"transfer_group": "ORDER-77"})
    assert [c.id for c in charges.data] == [pi.latest_charge.id]
    assert (await client.v1.charges.list_async({"transfer_group": "OTHER"})).data == []
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.payment_intents.create_async(
            {"amount": 100, "currency": "usd", "shipping": {"name": "No Address"}})
    assert exc.value.code == "parameter_missing"
    assert exc.value.error is not None and exc.value.error.param == "shipping[address]"


async def test_customer_echoes_and_missing_references(client: stripe.StripeClient) -> None:
    cus = await client.v1.customers.create_async({
        "name": "Echo", "tax_exempt": "reverse", "balance": -500, "invoice_prefix": "ECHO1",
        "next_invoice_sequence": 7,
        "invoice_settings": {"footer": "Thanks", "custom_fields": [{"name": "PO", "value": "7"}],
                             "rendering_options": {"amount_tax_display": "exclude_tax"}},
        "shipping": {"name": "Echo", "address": {"city": "Berlin"}, "phone": "+49"},
        "tax_id_data": [{"type": "eu_vat", "value": "DE123456789"}],
        "cash_balance": {"settings": {"reconciliation_mode": "automatic"}}})
    assert (cus.tax_exempt, cus.balance, cus.invoice_prefix, cus.next_invoice_sequence) == (
        "reverse", -500, "ECHO1", 7)
    assert cus.invoice_settings is not None and cus.invoice_settings.footer == "Thanks"
    assert cus.invoice_settings.to_dict(recursive=True)["rendering_options"] == {
        "amount_tax_display": "exclude_tax", "template": None}
    assert cus.shipping is not None and cus.shipping.address is not None
    assert cus.shipping.address.city == "Berlin" and cus.shipping.phone == "+49"
    updated = await client.v1.customers.update_async(cus.id, {"tax_exempt": "none"})
    assert updated.tax_exempt == "none" and updated.balance == -500
    for name in ("coupon", "promotion_code", "test_clock"):
        with pytest.raises(stripe.InvalidRequestError) as exc:
            await client.v1.customers.create_async({name: "x_123"})  # type: ignore[misc]
        assert exc.value.code == "resource_missing"
        assert exc.value.error is not None and exc.value.error.param == name
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.customers.create_async({"tax_exempt": "sometimes"})  # type: ignore[typeddict-item]
    assert exc.value.error is not None and exc.value.error.param == "tax_exempt"


async def test_connect_only_and_missing_account_parameters(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.payment_intents.create_async(
            {"amount": 100, "currency": "usd", "on_behalf_of": "acct_123"})
    assert exc.value.code == "resource_missing"
    assert exc.value.error is not None and exc.value.error.param == "on_behalf_of"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.payment_intents.create_async(
            {"amount": 100, "currency": "usd", "transfer_data": {"destination": "acct_1"}})
    assert exc.value.error is not None
    assert exc.value.error.param == "transfer_data[destination]"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.payment_methods.create_async(
            {"payment_method": "pm_123", "customer": "cus_123"})
    assert exc.value.error is not None and exc.value.error.param in ("customer", "payment_method")
    assert "Connect" in str(exc.value.user_message)


def test_docs_list_every_parameter_without_its_own_simulation() -> None:
    """docs/testmode.md says, per endpoint, which documented parameters are only echoed or
    accepted without effect: every one the code checks by its documented type alone."""
    docs = (Path(__file__).resolve().parents[2] / "docs" / "testmode.md").read_text()
    rows = {m.group(1): set(re.findall(r"`([a-z_]+)", m.group(2)))
            for m in re.finditer(r"^\| `((?:GET|POST|DELETE) [^`]+)` \|(.*)$", docs, re.M)}
    for method, template, _ in ROUTES:
        endpoint = f"{method} {template}"
        expected = {n for n in params.generic_only(endpoint) if DOC[endpoint][n]["t"] != "loose"}
        if expected:
            assert endpoint in rows, endpoint
            assert expected <= rows[endpoint], (endpoint, expected - rows[endpoint])
        else:
            assert endpoint not in rows, f"{endpoint} is listed but simulates everything"


async def test_documented_required_parameters_are_required(
    http: aiohttp.ClientSession, stripe_base_url: str, key: str,
    make_client,  # type: ignore[no-untyped-def]
) -> None:
    ids = await _ids(make_client(key), http, stripe_base_url)
    required = json.loads(params.SOURCE.read_text())["required"]
    served = {f"{m} {p}" for m, p, _ in ROUTES}
    assert set(required) <= served
    # A full valid request minus one required parameter at a time.
    valid = {"POST /v1/payment_intents": {"amount": "500", "currency": "usd"},
             "POST /v1/payment_methods/{id}/attach": {"customer": ids["customers"]},
             "GET /v1/setup_attempts": {"setup_intent": ids["setup_intents"]},
             "GET /v1/customers/search": {"query": "created>0"},
             "GET /v1/payment_intents/search": {"query": "created>0"},
             "GET /v1/charges/search": {"query": "created>0"},
             "POST /v1/webhook_endpoints": {"url": "http://127.0.0.1:9/x",
                                            "enabled_events[0]": "*"}}
    assert set(valid) == set(required)
    headers = {"Authorization": f"Bearer {key}",
               "Content-Type": "application/x-www-form-urlencoded"}
    for endpoint, names in required.items():
        method, template = endpoint.split(" ")
        url = stripe_base_url + template.replace("{id}", ids["payment_methods"])
        for name in names:
            body = urlencode({k: v for k, v in valid[endpoint].items()
                              if k.split("[")[0] != name})
            req = (http.get(f"{url}?{body}", headers=headers) if method == "GET"
                   else http.post(url, data=body, headers=headers))
            async with req as r:
                err = (await r.json())["error"]
            assert r.status == 400 and err["code"] == "parameter_missing", (endpoint, name, err)
            assert err["param"] == name
