"""3D Secure end to end: Stripe's test mode, AMCI and the billing client as three processes on
loopback. The customer's browser is played by urllib: it opens the link the billing client gives,
submits the test mode's Complete / Fail form, follows the 303 back to the billing client's return
page and reads the message there."""

from __future__ import annotations

import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from .conftest import (
    LOGIN,
    STRIPE_KEY,
    Service,
    Stack,
    amci_service,
    billing_client_service,
    create_token,
    fernet_key,
    free_port,
)

pytestmark = pytest.mark.e2e

COMPLETE = "Complete authentication"
FAIL = "Fail authentication"
AUTH_MESSAGE = "Additional authentication is required to complete this payment."


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """The three processes as in conftest's ``stack``, the test mode without its sandbox rate
    limit (25 requests/s): one 3D Secure round trip is a burst of a dozen Stripe calls, and this
    test makes many in a row; AMCI's own limiter, which would pace them, is off in e2e."""
    tm_port, amci_port, bc_port = free_port(), free_port(), free_port()
    tm_config = tmp_path / "testmode.yaml"
    tm_config.write_text("rate_limit_per_second: null\n")
    testmode = Service(
        "stripe-testmode",
        [sys.executable, "-m", "amci", "stripe-testmode", "--host", "127.0.0.1", "--port",
         str(tm_port), "--db", str(tmp_path / "testmode.sqlite3"), "--config", str(tm_config)],
        tm_port, tmp_path / "testmode.log",
    )
    amci = amci_service(amci_port, tmp_path / "amci.log", {
        "AMCI_STORE__DB_PATH": str(tmp_path / "amci.sqlite3"),
        "AMCI_UPSTREAM__TEST_API_BASE": f"http://127.0.0.1:{tm_port}",
        "AMCI_RATE_LIMIT__ENABLED": "false",
    })
    config = tmp_path / "billing_client.yaml"
    config.write_text(
        f"crypto: {{encryption_key: '{fernet_key()}'}}\n"
        f"storage: {{db_path: '{tmp_path / 'bc.sqlite3'}'}}\n"
        "amci: {timeout_seconds: 5}\n"
        "reconcile: {interval_seconds: 0}\n"
    )
    bc = billing_client_service(bc_port, amci_port, str(config), tmp_path / "billing_client.log")
    services = [testmode, amci, bc]
    try:
        token = create_token(str(config), "e2e-3ds")
        for service in services:
            service.start()
        yield Stack(testmode, amci, bc, tmp_path, token)
    finally:
        for service in reversed(services):
            service.stop()


def card(number: str) -> dict[str, Any]:
    return {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}


class _Page(HTMLParser):
    """The forms of a page (method, fields, button label) and the text of #message."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self.message = ""
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({"method": a.get("method", "get"), "fields": {}, "button": ""})
        elif tag == "input" and self.forms and a.get("name"):
            self.forms[-1]["fields"][a["name"]] = a.get("value", "")
        elif tag == "button" and self.forms:
            self._in = "button"
        elif tag == "p" and a.get("id") == "message":
            self._in = "message"

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "button":
            self.forms[-1]["button"] += data
        elif self._in == "message":
            self.message += data


def _open(url: str, data: bytes | None = None) -> tuple[int, str, str]:
    assert url.startswith("http://127.0.0.1:"), url  # loopback only
    req = urllib.request.Request(url, data=data, method="POST" if data else "GET")  # noqa: S310
    with urllib.request.urlopen(req, timeout=15) as resp:  # noqa: S310 - loopback (checked)
        return resp.status, resp.geturl(), resp.read().decode()


def browser(link: str, button: str) -> tuple[str, str]:
    """Open ``link``, press ``button``, follow the redirect home. Returns (where the browser
    ended up, the message shown there)."""
    status, _, text = _open(link)
    assert status == 200
    page = _Page()
    page.feed(text)
    form = next(f for f in page.forms if f["button"].strip() == button)
    assert form["method"].lower() == "post"
    status, landed, text = _open(link, urllib.parse.urlencode(form["fields"]).encode())
    assert status == 200, text
    back = _Page()
    back.feed(text)
    return landed, back.message


def setup(stack: Stack) -> None:
    """A token_only Stripe payment system for USD."""
    api = stack.api
    r = api("POST", "/api/payment-systems", {
        "name": "Stripe", "processor": "Stripe", "login": LOGIN, "password": STRIPE_KEY,
        "test_mode": True, "enabled_methods": ["VISA", "MasterCard"],
        "data_protection": "token_only"})
    assert r.status == 201, r.body
    r = api("PUT", "/api/currencies/USD", {"payment_system": r.body["id"],
                                            "minimum_payment": "0.5"})
    assert r.status == 200, r.body


def customer(stack: Stack) -> str:
    r = stack.api("POST", "/api/customers", {"name": "Jane Roe", "currency": "USD",
                                             "email": "jane@example.com"})
    assert r.status == 201, r.body
    return str(r.body["id"])


def self_care_payment_completed_then_failed(stack: Stack) -> None:
    cust = customer(stack)
    pay = f"/api/customers/{cust}/payments"
    r = stack.api("POST", pay, {"amount": "20.00", "card": card("4000002760003184")})
    assert r.status == 201, r.body
    txn = r.body
    assert txn["status"] == "requires_action" and txn["message"] == AUTH_MESSAGE
    assert txn["action_url"].startswith(stack.testmode.url + "/_testmode/authenticate/")
    landed, message = browser(txn["action_url"], COMPLETE)
    assert landed.startswith(f"{stack.bc.url}/return/payments/{txn['id']}?")
    assert message == "The payment was successful."
    done = stack.api("GET", f"/api/transactions/{txn['id']}").body
    assert done["status"] == "succeeded" and done["action_url"] is None, done
    assert done["amount_captured"] == "20.00"

    r = stack.api("POST", pay, {"amount": "21.00", "card": card("4000002760003184")})
    failed = r.body
    landed, message = browser(failed["action_url"], FAIL)
    assert landed.startswith(f"{stack.bc.url}/return/payments/{failed['id']}?")
    assert message.startswith("We are unable to authenticate your payment method.")
    after = stack.api("GET", f"/api/transactions/{failed['id']}").body
    assert after["status"] == "failed", after
    assert after["error"]["code"] == "payment_intent_authentication_failure"
    assert after["error"]["retryable"] is False
    # The return page shows the outcome and nothing else: no amount, card digits or ids.
    _, _, text = _open(f"{stack.bc.url}/return/payments/{failed['id']}")
    for secret in ("21.00", "3184", failed["id"], after["amci"]["payment"]):
        assert secret not in text


def card_saved_with_3ds_then_charged_off_session(stack: Stack) -> None:
    cust = customer(stack)
    r = stack.api("POST", f"/api/customers/{cust}/cards", {"card": card("4000002500003155")})
    assert r.status == 201, r.body
    saved = r.body
    assert saved["status"] == "requires_action" and saved["off_session_ready"] is False
    landed, message = browser(saved["action_url"], COMPLETE)
    assert landed.startswith(f"{stack.bc.url}/return/cards/{saved['id']}?")
    assert message == "The card was saved."
    [listed] = stack.api("GET", f"/api/customers/{cust}/cards").body["data"]
    assert listed["status"] == "active" and listed["off_session_ready"] is True, listed

    r = stack.api("POST", f"/api/customers/{cust}/payments",
                  {"amount": "9.00", "card_id": saved["id"], "off_session": True})
    assert r.status == 201 and r.body["status"] == "succeeded", r.body  # no authentication
    assert r.body["off_session"] is True


def save_card_on_a_first_3ds_payment_then_off_session(stack: Stack) -> None:
    cust = customer(stack)
    r = stack.api("POST", f"/api/customers/{cust}/payments",
                  {"amount": "30.00", "card": card("4000002500003155"), "save_card": True})
    assert r.status == 201 and r.body["status"] == "requires_action", r.body
    _, message = browser(r.body["action_url"], COMPLETE)
    assert message == "The payment was successful."
    [saved] = stack.api("GET", f"/api/customers/{cust}/cards").body["data"]
    assert saved["status"] == "active" and saved["off_session_ready"] is True, saved
    assert saved["last4"] == "3155"
    r = stack.api("POST", f"/api/customers/{cust}/payments",
                  {"amount": "30.00", "card_id": saved["id"], "off_session": True})
    assert r.status == 201 and r.body["status"] == "succeeded", r.body


def off_session_authentication_required_leaves_a_link_that_completes(stack: Stack) -> None:
    cust = customer(stack)
    r = stack.api("POST", f"/api/customers/{cust}/cards", {"card": card("4000002760003184")})
    saved = r.body
    browser(saved["action_url"], COMPLETE)
    # 4000002760003184 "requires authentication on all transactions, regardless of how the card
    # is set up" (docs.stripe.com/testing): the auto-payment needs the customer after all.
    r = stack.api("POST", f"/api/customers/{cust}/payments",
                  {"amount": "12.00", "card_id": saved["id"], "off_session": True})
    assert r.status == 201, r.body
    txn = r.body
    assert txn["status"] == "requires_action" and txn["message"] == AUTH_MESSAGE, txn
    assert txn["action_url"] and txn["amci"]["payment"].startswith("pi_")
    landed, message = browser(txn["action_url"], COMPLETE)
    assert landed.startswith(f"{stack.bc.url}/return/payments/{txn['id']}?")
    assert message == "The payment was successful."
    done = stack.api("GET", f"/api/transactions/{txn['id']}").body
    assert done["status"] == "succeeded" and done["amount_captured"] == "12.00"


def only_merchant_initiated_charges_are_off_session_upstream(stack: Stack) -> None:
    """The test mode gives a Visa authorization 7 days on session and 4 days 18 hours when
    merchant-initiated (docs.stripe.com/payments/place-a-hold-on-a-payment-method): Stripe's side
    tells whether AMCI sent off_session."""
    cust = customer(stack)
    saved = stack.api("POST", f"/api/customers/{cust}/cards", {"card": card("4242424242424242")})
    assert saved.body["status"] == "active" and saved.body["off_session_ready"] is True, saved.body
    windows = []
    for off_session in (False, True):
        r = stack.api("POST", f"/api/customers/{cust}/payments", {
            "amount": "5.00", "type": "authorization", "card_id": saved.body["id"],
            "off_session": off_session})
        assert r.status == 201 and r.body["status"] == "authorized", r.body
        upstream = stack.amci_payment(r.body["amci"]["payment"]).body
        windows.append(upstream["capture_before"] - upstream["created"])
        assert r.body["capture_before"] == upstream["capture_before"]
    assert windows == [7 * 86400, 4 * 86400 + 18 * 3600]


def refusals_keep_retryable(stack: Stack) -> None:
    for number, decline_code, retryable in (("4000000000009995", "insufficient_funds", True),
                                            ("4000000000009979", "stolen_card", False)):
        _refusal(stack, number, decline_code, retryable)


def _refusal(stack: Stack, number: str, decline_code: str, retryable: bool) -> None:
    cust = customer(stack)
    r = stack.api("POST", f"/api/customers/{cust}/payments",
                  {"amount": "10.00", "card": card(number)})
    assert r.status == 402, r.body
    err = r.body["error"]
    assert err["decline_code"] == decline_code and err["retryable"] is retryable
    assert err["transaction"]["error"]["retryable"] is retryable
    stored = stack.api("GET", f"/api/transactions/{err['transaction']['id']}").body
    assert stored["status"] == "failed" and stored["error"]["retryable"] is retryable


def test_three_d_secure_off_session_and_declines(stack: Stack) -> None:
    """One stack (three processes start in seconds each: CI time), one customer per scenario."""
    setup(stack)
    self_care_payment_completed_then_failed(stack)
    card_saved_with_3ds_then_charged_off_session(stack)
    save_card_on_a_first_3ds_payment_then_off_session(stack)
    off_session_authentication_required_leaves_a_link_that_completes(stack)
    only_merchant_initiated_charges_are_off_session_upstream(stack)
    refusals_keep_retryable(stack)
