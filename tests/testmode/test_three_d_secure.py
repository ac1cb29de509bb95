"""3D Secure through the official SDK and a plain-HTML browser over real HTTP: the test page,
its Complete / Fail forms, the 303 back to ``return_url``, and every documented 3DS test card
on-session, off-session and after setup (docs.stripe.com/testing#regulatory-cards)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
import stripe
from aiohttp import web
from yarl import URL

from amci.testmode import TestmodeSettings, create_app
from tests.testmode.authpage import COMPLETE, FAIL, next_action_url, open_page, press
from tests.testmode.conftest import ClientFactory
from tests.testmode.shapes import ShapeRecorder


@dataclass
class ReturnSite:
    """The integration's page customers come back to after authenticating."""

    url: str
    seen: list[dict[str, str]] = field(default_factory=list)


@pytest.fixture
async def site(aiohttp_server: Callable[..., object]) -> ReturnSite:
    visits: list[dict[str, str]] = []

    async def back(request: web.Request) -> web.Response:
        visits.append(dict(request.query))
        return web.Response(text="thanks")

    app = web.Application()
    app.router.add_get("/back", back)
    server = await aiohttp_server(app)  # type: ignore[misc]
    return ReturnSite(str(server.make_url("/back")), visits)  # type: ignore[attr-defined]


async def _requires_action(client: stripe.StripeClient, pm: str = "pm_card_authenticationRequired",
                           **extra: object) -> stripe.PaymentIntent:
    params = {"amount": 2500, "currency": "eur", "payment_method": pm, "confirm": True, **extra}
    pi = await client.v1.payment_intents.create_async(params)  # type: ignore[arg-type]
    assert pi.status == "requires_action", pi.status
    return pi


async def test_full_round_trip_complete(client: stripe.StripeClient, http: aiohttp.ClientSession,
                                        stripe_base_url: str, site: ReturnSite) -> None:
    return_url = site.url + "?order=42"
    pi = await _requires_action(client, return_url=return_url)
    assert pi.next_action is not None and pi.next_action.type == "redirect_to_url"
    redirect = pi.next_action.redirect_to_url
    assert redirect is not None and redirect.return_url == return_url
    assert redirect.url is not None
    assert redirect.url.startswith(stripe_base_url + "/_testmode/authenticate/")
    text, forms = await open_page(http, redirect.url)
    assert "25.00" in text and pi.id in text
    assert [b.strip() for f in forms for b in f.buttons] == [COMPLETE, FAIL]

    final = await press(http, redirect.url, COMPLETE)
    assert [r.status for r in final.history] == [303] and final.status == 200
    assert final.history[0].headers["Location"].startswith(site.url + "?order=42&")
    assert site.seen == [{"order": "42", "payment_intent": pi.id,
                          "payment_intent_client_secret": str(pi.client_secret),
                          "redirect_status": "succeeded"}]
    done = await client.v1.payment_intents.retrieve_async(pi.id)
    assert (done.status, done.amount_received, done.next_action) == ("succeeded", 2500, None)
    assert isinstance(done.latest_charge, str)
    charge = await client.v1.charges.retrieve_async(done.latest_charge)
    assert charge.payment_method_details and charge.payment_method_details.card
    tds = charge.payment_method_details.card.three_d_secure
    assert tds is not None and (tds.authentication_flow, tds.result) == (
        "challenge", "authenticated")
    # The page has done its job: it no longer moves anything.
    async with http.get(redirect.url) as again:
        assert again.status == 404
    async with http.post(redirect.url, data={"result": "fail"}) as again:
        assert again.status == 404
    assert (await client.v1.payment_intents.retrieve_async(pi.id)).status == "succeeded"


async def test_fail_button_returns_to_requires_payment_method(
    client: stripe.StripeClient, http: aiohttp.ClientSession, site: ReturnSite,
) -> None:
    pi = await _requires_action(client, return_url=site.url)
    final = await press(http, next_action_url(pi), FAIL)
    assert final.history[0].status == 303
    assert site.seen[-1]["redirect_status"] == "failed"
    assert site.seen[-1]["payment_intent"] == pi.id
    failed = await client.v1.payment_intents.retrieve_async(pi.id)
    assert (failed.status, failed.payment_method, failed.next_action) == (
        "requires_payment_method", None, None)
    err = failed.last_payment_error
    assert err is not None
    assert (err.type, err.code) == (
        "invalid_request_error", "payment_intent_authentication_failure")
    assert err.message and err.message.startswith(
        "The provided PaymentMethod has failed authentication.")
    assert err.payment_method is not None and err.payment_method.card is not None
    assert err.payment_method.card.last4 == "3184"
    assert failed.latest_charge is None
    # "you can retry … by reconfirming", here with another card.
    retried = await client.v1.payment_intents.confirm_async(
        pi.id, {"payment_method": "pm_card_visa"})
    assert retried.status == "succeeded"


async def test_without_return_url_next_action_is_use_stripe_sdk(
    client: stripe.StripeClient, http: aiohttp.ClientSession, stripe_base_url: str,
) -> None:
    pi = await _requires_action(client)
    assert pi.next_action is not None and pi.next_action.type == "use_stripe_sdk"
    url = next_action_url(pi)
    assert url.startswith(stripe_base_url + "/_testmode/authenticate/")
    final = await press(http, url, COMPLETE)
    assert final.history == () and final.status == 200
    assert (await client.v1.payment_intents.retrieve_async(pi.id)).status == "succeeded"


async def test_use_stripe_sdk_wins_over_return_url(client: stripe.StripeClient,
                                                   site: ReturnSite) -> None:
    pi = await _requires_action(client, return_url=site.url, use_stripe_sdk=True)
    assert pi.next_action is not None and pi.next_action.type == "use_stripe_sdk"


async def test_manual_capture_after_authentication(
    client: stripe.StripeClient, http: aiohttp.ClientSession, site: ReturnSite,
) -> None:
    pi = await _requires_action(client, return_url=site.url, capture_method="manual")
    await press(http, next_action_url(pi), COMPLETE)
    assert site.seen[-1]["redirect_status"] == "succeeded"
    held = await client.v1.payment_intents.retrieve_async(pi.id)
    assert (held.status, held.amount_capturable) == ("requires_capture", 2500)
    captured = await client.v1.payment_intents.capture_async(pi.id)
    assert captured.status == "succeeded"


async def test_manual_confirmation_waits_for_the_server(
    client: stripe.StripeClient, http: aiohttp.ClientSession, site: ReturnSite,
) -> None:
    pi = await _requires_action(client, return_url=site.url, confirmation_method="manual")
    await press(http, next_action_url(pi), COMPLETE)
    waiting = await client.v1.payment_intents.retrieve_async(pi.id)
    assert waiting.status == "requires_confirmation" and waiting.latest_charge is None
    confirmed = await client.v1.payment_intents.confirm_async(pi.id)
    assert confirmed.status == "succeeded"  # authenticated once: no second challenge


async def test_reconfirming_gives_a_new_page_and_retires_the_old(
    client: stripe.StripeClient, http: aiohttp.ClientSession, site: ReturnSite,
) -> None:
    pi = await _requires_action(client, return_url=site.url)
    old = next_action_url(pi)
    again = await client.v1.payment_intents.confirm_async(pi.id, {"return_url": site.url})
    assert again.status == "requires_action"
    new = next_action_url(again)
    assert new != old
    async with http.get(old) as r:
        assert r.status == 404
    await press(http, new, COMPLETE)
    assert (await client.v1.payment_intents.retrieve_async(pi.id)).status == "succeeded"


async def test_cancel_while_waiting_retires_the_page(
    client: stripe.StripeClient, http: aiohttp.ClientSession, site: ReturnSite,
) -> None:
    pi = await _requires_action(client, return_url=site.url)
    canceled = await client.v1.payment_intents.cancel_async(pi.id)
    assert (canceled.status, canceled.next_action) == ("canceled", None)
    async with http.get(next_action_url(pi)) as r:
        assert r.status == 404


async def test_page_refuses_wrong_nonce_account_and_choice(
    client: stripe.StripeClient, http: aiohttp.ClientSession, site: ReturnSite,
    make_client: ClientFactory,
) -> None:
    pi = await _requires_action(client, return_url=site.url)
    url = URL(next_action_url(pi))
    acct, intent, nonce = url.parts[-3:]
    other = "acct_" + "0" * 24
    for path in (f"/_testmode/authenticate/{acct}/{intent}/{nonce}x",
                 f"/_testmode/authenticate/{other}/{intent}/{nonce}"):
        async with http.get(url.with_path(path)) as r:
            assert r.status == 404
    async with http.post(url, data={"result": "maybe"}) as r:
        assert r.status == 400
    assert (await client.v1.payment_intents.retrieve_async(pi.id)).status == "requires_action"


@pytest.mark.parametrize("bad", ["not a url", "/relative/path", "https://", "https://x/\r\nSet: y"])
async def test_return_url_must_be_absolute(client: stripe.StripeClient, bad: str) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.payment_intents.create_async(
            {"amount": 1000, "currency": "eur", "payment_method": "pm_card_authenticationRequired",
             "confirm": True, "return_url": bad})
    assert exc.value.param == "return_url"


async def test_return_url_only_with_confirm(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.payment_intents.create_async(
            {"amount": 1000, "currency": "eur", "return_url": "https://shop.example/back"})
    assert exc.value.param == "return_url"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.setup_intents.create_async({"return_url": "https://shop.example/back"})
    assert exc.value.param == "return_url"
    ok = await client.v1.payment_intents.create_async(
        {"amount": 1000, "currency": "eur", "off_session": False})
    assert ok.status == "requires_payment_method"


async def test_app_scheme_return_url(client: stripe.StripeClient, http: aiohttp.ClientSession,
                                     ) -> None:
    pi = await _requires_action(client, return_url="myapp://paid?x=1")
    final = await press(http, next_action_url(pi), COMPLETE, follow=False)
    assert final.status == 303
    assert final.headers["Location"] == (
        f"myapp://paid?x=1&payment_intent={pi.id}"
        f"&payment_intent_client_secret={pi.client_secret}&redirect_status=succeeded")


async def test_error_on_requires_action(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.CardError) as exc:
        await client.v1.payment_intents.create_async(
            {"amount": 1000, "currency": "eur", "payment_method": "pm_card_authenticationRequired",
             "confirm": True, "error_on_requires_action": True})
    assert exc.value.code == "authentication_required"
    assert exc.value.error is not None
    assert exc.value.error.decline_code == "authentication_not_handled"
    assert exc.value.error.payment_intent is not None
    assert exc.value.error.payment_intent.status == "requires_payment_method"


async def test_request_three_d_secure_any_challenges_an_optional_card(
    client: stripe.StripeClient,
) -> None:
    pi = await client.v1.payment_intents.create_async(
        {"amount": 1000, "currency": "eur", "payment_method": "pm_card_threeDSecureOptional",
         "confirm": True, "payment_method_options": {"card": {"request_three_d_secure": "any"}}})
    assert pi.status == "requires_action"
    plain = await client.v1.payment_intents.create_async(
        {"amount": 1000, "currency": "eur", "payment_method": "pm_card_threeDSecureOptional",
         "confirm": True})
    assert plain.status == "succeeded"


# --- every documented 3DS card ------------------------------------------------------------------

# number: (on-session confirm, after completing the page, off-session not set up,
#          off-session after a SetupIntent). "402 x" = a card_error with decline code x.
CARDS = {
    "4000002500003155": ("requires_action", "succeeded", "402 authentication_required",
                         "succeeded"),
    "4000002760003184": ("requires_action", "succeeded", "402 authentication_required",
                         "402 authentication_required"),
    "4000003800000446": ("requires_action", "succeeded", "succeeded", "succeeded"),
    "4000008260003178": ("requires_action", "402 insufficient_funds",
                         "402 authentication_required", "402 insufficient_funds"),
    "4000000000003220": ("requires_action", "succeeded", "402 authentication_required",
                         "402 authentication_required"),
    "4000008400000027": ("requires_action", "succeeded", "402 authentication_required",
                         "402 authentication_required"),
    "4000000000003063": ("requires_action", "succeeded", "402 authentication_required",
                         "402 authentication_required"),
    "4000008400001629": ("requires_action", "402 generic_decline",
                         "402 authentication_required", "402 authentication_required"),
    "4000008400001280": ("402 generic_decline", None, "402 generic_decline", "setup declined"),
    "4000000000003055": ("succeeded", None, "succeeded", "succeeded"),
    "4000000000003097": ("succeeded", None, "succeeded", "succeeded"),
    "4000000032200000": ("succeeded", None, "succeeded", "succeeded"),
    "4000053560000011": ("requires_action", "succeeded", "402 authentication_required",
                         "402 authentication_required"),
    "4242424242424242": ("succeeded", None, "succeeded", "succeeded"),
    "378282246310005": ("succeeded", None, "succeeded", "succeeded"),
}
CVC = {"378282246310005": "1234"}


async def _saved_card(client: stripe.StripeClient, number: str) -> tuple[str, str]:
    cus = await client.v1.customers.create_async()
    pm = await client.v1.payment_methods.create_async(
        {"type": "card", "card": {"number": number, "exp_month": 12, "exp_year": 2040,
                                  "cvc": CVC.get(number, "123")}})
    await client.v1.payment_methods.attach_async(pm.id, {"customer": cus.id})
    return cus.id, pm.id


async def _off_session(client: stripe.StripeClient, cus: str, pm: str) -> str:
    try:
        pi = await client.v1.payment_intents.create_async(
            {"amount": 1500, "currency": "eur", "customer": cus, "payment_method": pm,
             "confirm": True, "off_session": True})
    except stripe.CardError as exc:
        assert exc.error is not None and exc.error.payment_intent is not None
        assert exc.error.payment_intent.status == "requires_payment_method"
        return f"402 {exc.error.decline_code}"
    return pi.status


@pytest.mark.parametrize("number", list(CARDS))
async def test_documented_3ds_card(client: stripe.StripeClient, http: aiohttp.ClientSession,
                                   site: ReturnSite, number: str) -> None:
    on_session, after_page, off_session, after_setup = CARDS[number]
    # On-session, raw card data, completing the page when asked.
    try:
        pi = await client.v1.payment_intents.create_async(
            {"amount": 1500, "currency": "eur", "confirm": True, "return_url": site.url,
             "payment_method_data": {"type": "card", "card": {
                 "number": number, "exp_month": 12, "exp_year": 2040,
                 "cvc": CVC.get(number, "123")}}})
        got = pi.status
    except stripe.CardError as exc:
        assert exc.error is not None
        got = f"402 {exc.error.decline_code}"
    assert got == on_session
    if after_page is not None:
        await press(http, next_action_url(pi), COMPLETE)
        done = await client.v1.payment_intents.retrieve_async(pi.id)
        if after_page.startswith("402"):
            assert done.status == "requires_payment_method"
            assert done.last_payment_error is not None
            assert f"402 {done.last_payment_error.decline_code}" == after_page
            assert site.seen[-1]["redirect_status"] == "failed"
        else:
            assert done.status == after_page
            assert site.seen[-1]["redirect_status"] == "succeeded"
    # Off-session with a card saved by a bare attach (not set up).
    cus, pm = await _saved_card(client, number)
    assert await _off_session(client, cus, pm) == off_session
    # Off-session after a SetupIntent (usage off_session), authenticating when asked.
    cus2 = (await client.v1.customers.create_async()).id
    try:
        si = await client.v1.setup_intents.create_async(
            {"customer": cus2, "confirm": True, "return_url": site.url,
             "payment_method_data": {"type": "card", "card": {
                 "number": number, "exp_month": 12, "exp_year": 2040,
                 "cvc": CVC.get(number, "123")}}})
    except stripe.CardError:
        assert after_setup == "setup declined"
        return
    if si.status == "requires_action":
        await press(http, next_action_url(si), COMPLETE)
        si = await client.v1.setup_intents.retrieve_async(si.id)
    assert si.status == "succeeded" and isinstance(si.payment_method, str)
    assert await _off_session(client, cus2, si.payment_method) == after_setup


async def test_frictionless_card_records_3ds_on_the_charge(client: stripe.StripeClient) -> None:
    pi = await client.v1.payment_intents.create_async(
        {"amount": 1500, "currency": "eur", "confirm": True, "expand": ["latest_charge"],
         "payment_method_data": {"type": "card", "card": {
             "number": "4000000032200000", "exp_month": 12, "exp_year": 2040}}})
    charge = pi.latest_charge
    assert isinstance(charge, stripe.Charge)
    assert charge.payment_method_details and charge.payment_method_details.card
    tds = charge.payment_method_details.card.three_d_secure
    assert tds is not None and (tds.authentication_flow, tds.result) == (
        "frictionless", "authenticated")


# --- public_url ----------------------------------------------------------------------------------


async def test_public_url_builds_page_urls_and_survives_restart(
    aiohttp_server, make_client: ClientFactory, http: aiohttp.ClientSession,  # type: ignore[no-untyped-def]
    tmp_path: Path, key: str, site: ReturnSite,
    shapes: ShapeRecorder,
) -> None:
    db = str(tmp_path / "testmode.sqlite3")
    first = await aiohttp_server(shapes.attach(create_app(TestmodeSettings(
        db_path=db, rate_limit_per_second=None, public_url="https://pay.example.test/stripe/"))))
    client = make_client(key, base_url=str(first.make_url("")).rstrip("/"))
    opts: stripe.RequestOptions = {"idempotency_key": "3ds-1"}
    params: stripe.PaymentIntentCreateParams = {
        "amount": 1000, "currency": "eur", "payment_method": "pm_card_authenticationRequired",
        "confirm": True, "return_url": site.url}
    pi = await client.v1.payment_intents.create_async(params, opts)
    url = next_action_url(pi)
    assert url.startswith("https://pay.example.test/stripe/_testmode/authenticate/acct_")
    await first.close()

    second = await aiohttp_server(shapes.attach(create_app(TestmodeSettings(
        db_path=db, rate_limit_per_second=None, public_url="http://compose-stripe:12111"))))
    base2 = str(second.make_url("")).rstrip("/")
    client2 = make_client(key, base_url=base2)
    moved = await client2.v1.payment_intents.retrieve_async(pi.id)
    path = URL(next_action_url(moved)).path
    assert next_action_url(moved) == "http://compose-stripe:12111" + path
    assert path == URL(url).path.removeprefix("/stripe")
    replay = await client2.v1.payment_intents.create_async(params, opts)
    assert replay.last_response is not None
    assert replay.last_response.headers["Idempotent-Replayed"] == "true"
    assert next_action_url(replay) == "http://compose-stripe:12111" + path
    # The page itself is served at that path (here reached directly, not through a proxy).
    await press(http, base2 + path, COMPLETE)
    assert (await client2.v1.payment_intents.retrieve_async(pi.id)).status == "succeeded"
