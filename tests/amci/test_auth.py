"""amci.auth: Basic login:key → subscription; the masked ApiKey type."""

from __future__ import annotations

import base64
import hashlib
import pickle

import pytest

from amci.auth import ApiKey, Mode, authenticate
from amci.errors import AuthError
from amci.settings import SubscriptionSettings

KEY = "sk_test_51KnownKeyForSubscriptionAcme0001wxyz"
SUBS = (
    SubscriptionSettings(id="acme", stripe_integration_activated=True,
                         key_fingerprints=(hashlib.sha256(KEY.encode()).hexdigest(),)),
    SubscriptionSettings(id="off", active=False, stripe_integration_activated=True,
                         key_fingerprints=(hashlib.sha256(b"sk_live_inactive0000").hexdigest(),)),
    SubscriptionSettings(id="noint", stripe_integration_activated=False,
                         key_fingerprints=(hashlib.sha256(b"rk_live_noint000000").hexdigest(),)),
)


def basic(login: str, key: str) -> str:
    return "Basic " + base64.b64encode(f"{login}:{key}".encode()).decode()


def test_masked_everywhere() -> None:
    key = ApiKey(KEY)
    for text in (repr(key), str(key), f"{key}", key.masked):
        assert KEY not in text
        assert text.endswith("wxyz") or "wxyz" in text
    assert key.masked == "sk_test_…wxyz"
    assert key.reveal() == KEY
    with pytest.raises(TypeError):
        pickle.dumps(key)


@pytest.mark.parametrize(
    ("header", "status", "code"),
    [
        (None, 401, "credentials_missing"),
        ("Bearer " + KEY, 401, "credentials_missing"),
        ("Basic !!!", 401, "credentials_missing"),
        ("Basic " + base64.b64encode(b"no-colon").decode(), 401, "credentials_missing"),
        (basic("abcd", KEY), 401, "login_invalid"),
        (basic("", KEY), 401, "login_invalid"),
        (basic("billing", "pk_test_123456789"), 401, "secret_key_required"),
        (basic("billing", "sk_test_unknown0000000"), 401, "api_key_unknown"),
        (basic("billing", "not-a-stripe-key"), 401, "api_key_unknown"),
        (basic("billing", "sk_live_inactive0000"), 403, "subscription_inactive"),
        (basic("billing", "rk_live_noint000000"), 403, "integration_not_activated"),
    ],
)
def test_refusals(header: str | None, status: int, code: str) -> None:
    with pytest.raises(AuthError) as err:
        authenticate(header, SUBS)
    assert (err.value.status, err.value.code) == (status, code)
    assert KEY not in err.value.message


def test_known_key_and_mode() -> None:
    principal = authenticate(basic("billing", KEY), SUBS)
    assert principal.subscription.id == "acme" and principal.mode is Mode.TEST


def test_any_test_key_only_for_test_keys() -> None:
    subs = (*SUBS, SubscriptionSettings(id="demo", stripe_integration_activated=True,
                                        allow_any_test_key=True))
    assert authenticate(basic("billing", "sk_test_whatever1234"), subs).subscription.id == "demo"
    assert authenticate(basic("billing", "rk_test_whatever1234"), subs).mode is Mode.TEST
    with pytest.raises(AuthError) as err:
        authenticate(basic("billing", "sk_live_whatever1234"), subs)
    assert err.value.code == "api_key_unknown"
