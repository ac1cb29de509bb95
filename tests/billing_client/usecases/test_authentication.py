"""3D Secure and off-session rules of the billing client, against real AMCI and test-mode apps on
loopback (the full browser round trips are in tests/e2e/test_three_d_secure.py)."""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient, TestServer

from ..conftest import VISA, setup_stripe, url

Client = TestClient[Any, Any]


def card(number: str) -> dict[str, Any]:
    return {**VISA, "number": number}


async def test_return_page_needs_no_token_and_knows_nothing_else(bc: Client) -> None:
    ids = await setup_stripe(bc)
    r = await bc.post(f"/api/customers/{ids['customer']}/payments",
                      json={"amount": "10.00", "card": VISA})
    txn = await r.json()
    async with aiohttp.ClientSession() as browser:  # no Authorization header at all
        async with browser.get(str(bc.make_url(f"/return/payments/{txn['id']}"))) as page:
            text = await page.text()
            assert page.status == 200 and page.content_type == "text/html"
            assert page.headers["Cache-Control"] == "no-store"
        assert '<p id="message">The payment was successful.</p>' in text
        for leak in ("10.00", "4242", txn["id"], txn["amci"]["payment"]):
            assert leak not in text
        async with browser.get(str(bc.make_url("/return/payments/txn_nope"))) as page:
            assert page.status == 404 and "No such payment." in await page.text()
        async with browser.get(str(bc.make_url("/return/cards/card_nope"))) as page:
            assert page.status == 404
        async with browser.post(str(bc.make_url(f"/return/payments/{txn['id']}"))) as page:
            assert page.status == 405
        # /api stays closed to the same browser.
        async with browser.get(str(bc.make_url(f"/api/transactions/{txn['id']}"))) as page:
            assert page.status == 401


async def test_a_card_waiting_for_authentication_cannot_pay(bc: Client) -> None:
    ids = await setup_stripe(bc)
    cust = ids["customer"]
    r = await bc.post(f"/api/customers/{cust}/cards", json={"card": card("4000002500003155")})
    saved = await r.json()
    assert r.status == 201 and saved["status"] == "requires_action", saved
    assert saved["action_url"] and saved["off_session_ready"] is False
    r = await bc.post(f"/api/customers/{cust}/payments",
                      json={"amount": "5.00", "card_id": saved["id"]})
    assert r.status == 400 and (await r.json())["error"]["code"] == "card_not_ready"


async def test_off_session_and_save_card_need_the_right_card(bc: Client) -> None:
    ids = await setup_stripe(bc, protection="full_card_except_cvv")
    cust = ids["customer"]
    r = await bc.post(f"/api/customers/{cust}/cards", json={"card": VISA})
    kept = await r.json()
    for body, param in (
        ({"amount": "5.00", "card_id": kept["id"], "off_session": True}, "off_session"),
        ({"amount": "5.00", "card": VISA, "off_session": True}, "off_session"),
        ({"amount": "5.00", "card_id": kept["id"], "save_card": True}, "save_card"),
        ({"amount": "5.00", "card": VISA, "save_card": True}, "save_card"),
    ):
        r = await bc.post(f"/api/customers/{cust}/payments", json=body)
        assert r.status == 400, body
        assert (await r.json())["error"]["param"] == param, body


async def test_an_authorization_left_uncaptured_expires(
    bc: Client, testmode: TestServer,
) -> None:
    ids = await setup_stripe(bc)
    r = await bc.post(f"/api/customers/{ids['customer']}/payments",
                      json={"amount": "8.00", "type": "authorization", "card": VISA})
    auth = await r.json()
    assert auth["status"] == "authorized" and auth["capture_before"] is not None
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{url(testmode)}/_testmode/clock/advance",
                          json={"seconds": 8 * 86400}) as advanced:
            assert advanced.status == 200
    async with aiohttp.ClientSession() as browser:
        async with browser.get(str(bc.make_url(f"/return/payments/{auth['id']}"))) as page:
            assert "The authorization expired and the funds were released." in await page.text()
    r = await bc.get(f"/api/transactions/{auth['id']}")
    assert (await r.json())["status"] == "expired"
