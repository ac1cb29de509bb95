"""Pure rules: when a card asks for 3D Secure, and how long an authorization is capturable."""

from __future__ import annotations

import pytest

from amci.testmode import holds
from amci.testmode import three_d_secure as tds
from amci.testmode.resources.authentication import with_query


@pytest.mark.parametrize(
    ("mode", "on_session", "off_session", "off_session_after_setup", "on_session_after_setup"),
    [
        (tds.REQUIRED, tds.CHALLENGE, tds.DECLINE_AUTHENTICATION_REQUIRED,
         tds.DECLINE_AUTHENTICATION_REQUIRED, tds.CHALLENGE),
        (tds.UNLESS_SET_UP, tds.CHALLENGE, tds.DECLINE_AUTHENTICATION_REQUIRED, tds.PROCEED,
         tds.PROCEED),
        (tds.ON_SESSION, tds.CHALLENGE, tds.PROCEED, tds.PROCEED, tds.CHALLENGE),
        (tds.OPTIONAL, tds.PROCEED, tds.PROCEED, tds.PROCEED, tds.PROCEED),
        (tds.UNENROLLED, tds.PROCEED, tds.PROCEED, tds.PROCEED, tds.PROCEED),
        (tds.NOT_SUPPORTED, tds.PROCEED, tds.PROCEED, tds.PROCEED, tds.PROCEED),
        (tds.FRICTIONLESS, tds.PROCEED_FRICTIONLESS, tds.PROCEED_FRICTIONLESS,
         tds.PROCEED_FRICTIONLESS, tds.PROCEED_FRICTIONLESS),
        (tds.LOOKUP_ERROR, tds.DECLINE_LOOKUP, tds.DECLINE_LOOKUP, tds.DECLINE_LOOKUP,
         tds.DECLINE_LOOKUP),
        (tds.ATTEMPT_ERROR, tds.PROCEED, tds.PROCEED, tds.PROCEED, tds.PROCEED),
    ],
)
def test_decide_by_mode(mode: str, on_session: str, off_session: str,
                        off_session_after_setup: str, on_session_after_setup: str) -> None:
    assert tds.decide(mode, off_session=False, set_up=False, requested="automatic") == on_session
    assert tds.decide(mode, off_session=True, set_up=False, requested="automatic") == off_session
    assert tds.decide(mode, off_session=True, set_up=True,
                      requested="automatic") == off_session_after_setup
    assert tds.decide(mode, off_session=False, set_up=True,
                      requested="automatic") == on_session_after_setup


@pytest.mark.parametrize(
    ("mode", "requested", "step"),
    [(tds.OPTIONAL, "any", tds.CHALLENGE), (tds.OPTIONAL, "challenge", tds.CHALLENGE),
     (tds.UNENROLLED, "any", tds.PROCEED_ATTEMPTED), (tds.ATTEMPT_ERROR, "any",
                                                       tds.PROCEED_ERRORED),
     (tds.NOT_SUPPORTED, "challenge", tds.PROCEED), (tds.OPTIONAL, None, tds.PROCEED)],
)
def test_request_three_d_secure(mode: str, requested: str | None, step: str) -> None:
    assert tds.decide(mode, off_session=False, set_up=False, requested=requested) == step


def test_requested_3ds_off_session_cannot_challenge() -> None:
    assert tds.decide(tds.OPTIONAL, off_session=True, set_up=False,
                      requested="any") == tds.DECLINE_AUTHENTICATION_REQUIRED


@pytest.mark.parametrize(
    ("mode", "requested", "step"),
    [(tds.REQUIRED, None, tds.CHALLENGE), (tds.UNLESS_SET_UP, None, tds.CHALLENGE),
     (tds.ON_SESSION, None, tds.CHALLENGE), (tds.OPTIONAL, None, tds.PROCEED),
     (tds.OPTIONAL, "any", tds.CHALLENGE), (tds.UNENROLLED, "any", tds.PROCEED),
     (tds.LOOKUP_ERROR, None, tds.DECLINE_LOOKUP),
     (tds.FRICTIONLESS, None, tds.PROCEED_FRICTIONLESS)],
)
def test_decide_setup(mode: str, requested: str | None, step: str) -> None:
    assert tds.decide_setup(mode, requested=requested) == step


def test_details_by_step() -> None:
    done = tds.details(tds.CHALLENGE)
    assert done is not None
    assert (done["authentication_flow"], done["result"], done["version"]) == (
        "challenge", "authenticated", "2.2.0")
    assert done["transaction_id"]
    frictionless = tds.details(tds.PROCEED_FRICTIONLESS)
    assert frictionless is not None and frictionless["authentication_flow"] == "frictionless"
    attempted = tds.details(tds.PROCEED_ATTEMPTED)
    assert attempted is not None and attempted["result"] == "attempt_acknowledged"
    assert tds.details(tds.PROCEED) is None


@pytest.mark.parametrize(
    ("brand", "mit", "currency", "settlement", "seconds"),
    [("visa", False, "usd", "usd", 7 * 86400),
     ("visa", True, "usd", "usd", 4 * 86400 + 18 * 3600),
     ("mastercard", True, "eur", "eur", 7 * 86400),
     ("amex", True, "usd", "usd", 7 * 86400),
     ("discover", False, "usd", "usd", 7 * 86400),
     ("jcb", True, "jpy", "jpy", 30 * 86400),
     ("visa", True, "jpy", "jpy", 30 * 86400),
     ("amex", False, "jpy", "jpy", 7 * 86400),
     ("visa", False, "jpy", "usd", 7 * 86400)],
)
def test_capture_window(brand: str, mit: bool, currency: str, settlement: str,
                        seconds: int) -> None:
    assert holds.window(brand, merchant_initiated=mit, currency=currency,
                        settlement=settlement) == seconds


def test_capture_window_follows_a_shorter_configured_default() -> None:
    assert holds.window("visa", merchant_initiated=True, currency="usd", settlement="usd",
                        default=3600) == 3600
    assert holds.window("mastercard", merchant_initiated=False, currency="usd",
                        settlement="usd", default=3600) == 3600


@pytest.mark.parametrize(
    ("url", "expected"),
    [("https://shop.example/back", "https://shop.example/back?a=1&b=x+y"),
     ("https://shop.example/back?order=4", "https://shop.example/back?order=4&a=1&b=x+y"),
     ("https://shop.example/back?", "https://shop.example/back?a=1&b=x+y"),
     ("https://shop.example/back#top", "https://shop.example/back?a=1&b=x+y#top"),
     ("myapp://paid", "myapp://paid?a=1&b=x+y")],
)
def test_return_url_query_appended(url: str, expected: str) -> None:
    assert with_query(url, {"a": "1", "b": "x y"}) == expected
