"""Raw HTTP: malformed auth, bodies and paths get clear 4xx in Stripe's envelope, never a 500;
Request-Id on every answer; null fields omitted from errors."""

from __future__ import annotations

import base64
import io

import aiohttp
import pytest
import stripe

from amci.testmode.auth import NO_KEY, PUBLISHABLE
from tests.testmode.conftest import ClientFactory


async def _call(http: aiohttp.ClientSession, method: str, url: str, **kw: object
                ) -> tuple[int, dict[str, object], aiohttp.typedefs.LooseHeaders]:
    async with http.request(method, url, **kw) as r:  # type: ignore[arg-type]
        assert r.content_type == "application/json"
        assert r.headers["Request-Id"].startswith("req_")
        return r.status, await r.json(), r.headers


def _no_nulls(body: dict[str, object]) -> None:
    err = body["error"]
    assert isinstance(err, dict)
    assert all(v is not None for v in err.values()), err


@pytest.mark.parametrize(
    ("headers", "status", "message"),
    [
        ({}, 401, NO_KEY),
        ({"Authorization": ""}, 401, NO_KEY),
        ({"Authorization": "Token sk_test_abc"}, 401, NO_KEY),
        ({"Authorization": "Bearer"}, 401, NO_KEY),
        ({"Authorization": "Bearer sk_test_AbCdEfGhIjKlMnOpQrStAso0"}, None, None),
        ({"Authorization": "Bearer sk_live_AbCdEfGhIjKlMnOpQrStAso0"}, 401,
         "Invalid API Key provided: sk_live_" + "*" * 20 + "Aso0"),
        ({"Authorization": "Bearer nonsense"}, 401, "Invalid API Key provided: ****ense"),
        ({"Authorization": "Bearer pk_test_TYooMQauvdEDq54NiTphI7jx"}, 403, PUBLISHABLE),
        ({"Authorization": "Basic !!!"}, 401, None),
        ({"Authorization": "Basic " + base64.b64encode(b"sk_test_basic123:").decode()}, None,
         None),
        ({"Authorization": "Basic " + base64.b64encode(b"rk_test_restricted:").decode()}, None,
         None),
    ],
)
async def test_auth(http: aiohttp.ClientSession, stripe_base_url: str,
                    headers: dict[str, str], status: int | None, message: str | None) -> None:
    code, body, _ = await _call(http, "GET", f"{stripe_base_url}/v1/customers", headers=headers)
    if status is None:
        assert code == 200 and body["object"] == "list"
        return
    assert code == status
    err = body["error"]
    assert isinstance(err, dict) and err["type"] == "invalid_request_error"
    if message:
        assert err["message"] == message
    _no_nulls(body)
    assert "AbCdEfGhIjKlMnOpQrSt" not in str(body)


async def test_sdk_exception_classes_for_keys(make_client: ClientFactory) -> None:
    with pytest.raises(stripe.AuthenticationError) as a:
        await make_client("sk_live_abcdefghijklmnop").v1.customers.list_async()
    assert a.value.http_status == 401
    with pytest.raises(stripe.PermissionError) as p:
        await make_client("pk_test_abcdefghijklmnop").v1.customers.list_async()
    assert p.value.http_status == 403


@pytest.mark.parametrize(
    ("method", "path", "fragment"),
    [
        ("GET", "/v1/customers/", "remove the trailing slash"),
        ("GET", "/v1/nothing", "Unrecognized request URL (GET: /v1/nothing)"),
        ("DELETE", "/v1/payment_intents/pi_123", "Unrecognized request URL (DELETE:"),
        ("PUT", "/v1/customers", "Unrecognized request URL (PUT: /v1/customers)"),
        ("GET", "/", "Unrecognized request URL (GET: /)"),
    ],
)
async def test_unknown_paths_are_404(http: aiohttp.ClientSession, stripe_base_url: str, key: str,
                                     method: str, path: str, fragment: str) -> None:
    status, body, _ = await _call(http, method, stripe_base_url + path,
                                  headers={"Authorization": f"Bearer {key}"})
    assert status == 404
    assert fragment in str(body["error"]["message"])  # type: ignore[index]
    _no_nulls(body)


@pytest.mark.parametrize(
    ("body", "content_type", "fragment"),
    [
        (b"email=\xff\xfe", "application/x-www-form-urlencoded", "UTF-8"),
        (b"email=%ff", "application/x-www-form-urlencoded", "form encoding"),
        (b"metadata[a=1", "application/x-www-form-urlencoded", "parameter name"),
        (b"metadata[a]=1&metadata=2", "application/x-www-form-urlencoded", "both"),
        (b"metadata[]=1&metadata[a]=2", "application/x-www-form-urlencoded", "array"),
        (b'{"email": "a@b.co"}', "application/json", "form-urlencoded"),
        (b"metadata=abc", "application/x-www-form-urlencoded", "Invalid hash"),
        (b"name[x]=1", "application/x-www-form-urlencoded", "Invalid string"),
        (b"preferred_locales=x", "application/x-www-form-urlencoded", "Invalid array"),
        (b"bogus=1", "application/x-www-form-urlencoded", "Received unknown parameter: bogus"),
    ],
)
async def test_malformed_bodies_are_400(http: aiohttp.ClientSession, stripe_base_url: str,
                                        key: str, body: bytes, content_type: str,
                                        fragment: str) -> None:
    status, resp, _ = await _call(
        http, "POST", f"{stripe_base_url}/v1/customers", data=body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": content_type})
    assert status == 400
    assert fragment in str(resp["error"]["message"])  # type: ignore[index]
    _no_nulls(resp)


async def test_oversized_body_is_413_in_envelope(http: aiohttp.ClientSession,
                                                 stripe_base_url: str, key: str) -> None:
    status, resp, _ = await _call(
        http, "POST", f"{stripe_base_url}/v1/customers",
        data=io.BytesIO(b"description=" + b"x" * 2_000_000),
        headers={"Authorization": f"Bearer {key}",
                 "Content-Type": "application/x-www-form-urlencoded"})
    assert status == 413
    assert resp["error"]["type"] == "invalid_request_error"  # type: ignore[index]


async def test_stripe_version_header(http: aiohttp.ClientSession, stripe_base_url: str,
                                     key: str) -> None:
    auth = {"Authorization": f"Bearer {key}"}
    status, _, headers = await _call(http, "GET", f"{stripe_base_url}/v1/customers",
                                     headers={**auth, "Stripe-Version": "2025-02-24.acacia"})
    assert status == 200 and headers["Stripe-Version"] == "2025-02-24.acacia"
    status, body, _ = await _call(http, "GET", f"{stripe_base_url}/v1/customers",
                                  headers={**auth, "Stripe-Version": "yesterday"})
    assert status == 400
    assert "Invalid Stripe API version" in str(body["error"]["message"])  # type: ignore[index]


async def test_get_parameters_and_bad_list_limits(http: aiohttp.ClientSession,
                                                  stripe_base_url: str, key: str) -> None:
    auth = {"Authorization": f"Bearer {key}"}
    for query, param in (("limit=0", "limit"), ("limit=abc", "limit"), ("limit=101", "limit"),
                         ("starting_after=cus_nope", "starting_after"), ("foo=1", "foo")):
        status, body, _ = await _call(http, "GET", f"{stripe_base_url}/v1/customers?{query}",
                                      headers=auth)
        assert status in (400, 404), query
        assert body["error"]["param"] == param  # type: ignore[index]


async def test_expand_with_brackets_form(http: aiohttp.ClientSession, stripe_base_url: str,
                                         key: str) -> None:
    auth = {"Authorization": f"Bearer {key}"}
    status, body, _ = await _call(
        http, "POST", f"{stripe_base_url}/v1/payment_intents",
        data="amount=1000&currency=usd&payment_method=pm_card_visa&confirm=true"
             "&expand[]=latest_charge&expand[]=payment_method",
        headers={**auth, "Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200
    assert body["latest_charge"]["object"] == "charge"  # type: ignore[index]
    assert body["payment_method"]["object"] == "payment_method"  # type: ignore[index]


FUZZ = [
    ("POST", "/v1/payment_intents", "amount=1e3&currency=usd"),
    ("POST", "/v1/payment_intents", "amount=99999999999999999999999999999&currency=usd"),
    ("POST", "/v1/payment_intents", "amount[]=1&currency=usd"),
    ("POST", "/v1/payment_intents", "amount=100&currency[x]=usd"),
    ("POST", "/v1/payment_intents", "amount=100&currency=usd&confirm=yes"),
    ("POST", "/v1/payment_intents", "amount=100&currency=usd&capture_method=later"),
    ("POST", "/v1/payment_intents", "amount=100&currency=usd&metadata[" + "k" * 41 + "]=v"),
    ("POST", "/v1/payment_intents", "amount=100&currency=usd&expand[0]=nope"),
    ("POST", "/v1/payment_intents", "amount=100&currency=usd&expand[0]=a.b.c.d.e"),
    ("POST", "/v1/payment_intents", "amount=100&currency=usd&payment_method=pm_nope"),
    ("POST", "/v1/payment_intents", "amount=100&currency=usd&payment_method_types[0]=ideal"),
    ("POST", "/v1/payment_intents", "amount=100&currency=usd&off_session=true"),
    ("POST", "/v1/payment_intents/pi_nope/confirm", ""),
    ("POST", "/v1/payment_intents/pi_nope/capture", ""),
    ("POST", "/v1/payment_methods", ""),
    ("POST", "/v1/payment_methods", "type=sepa_debit"),
    ("POST", "/v1/payment_methods", "type=card&card=4242"),
    ("POST", "/v1/payment_methods", "type=card&card[number]=4242424242424242&card[exp_month]=x"
                                    "&card[exp_year]=2030"),
    ("POST", "/v1/payment_methods/pm_nope/attach", "customer=cus_nope"),
    ("POST", "/v1/payment_methods/pm_card_visa/attach", ""),
    ("POST", "/v1/refunds", "charge=ch_x&payment_intent=pi_x"),
    ("GET", "/v1/charges/ch_nope", ""),
    ("GET", "/v1/refunds/re_nope", ""),
    ("DELETE", "/v1/customers/cus_nope", ""),
    ("POST", "/v1/customers", "invoice_settings[default_payment_method]=pm_nope"),
]


@pytest.mark.parametrize(("method", "path", "body"), FUZZ)
async def test_odd_requests_are_clear_4xx(http: aiohttp.ClientSession, stripe_base_url: str,
                                          key: str, method: str, path: str, body: str) -> None:
    status, resp, _ = await _call(
        http, method, stripe_base_url + path, data=body,
        headers={"Authorization": f"Bearer {key}",
                 "Content-Type": "application/x-www-form-urlencoded"})
    assert 400 <= status < 500
    err = resp["error"]
    assert isinstance(err, dict) and err["message"] and err["type"]
    _no_nulls(resp)
