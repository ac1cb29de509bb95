"""Realistic values for the seeded cases: what a billing system sends on a good day (Stripe's test
cards, amounts in range, plain emails), drawn by hypothesis so they still vary."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

SEED = "@@seed:"  # placeholders a resolver replaces with real objects just before sending

# Stripe's test cards (docs.stripe.com/testing#cards) that succeed, with their CVC length.
CARDS = (
    ("4242424242424242", "123"),
    ("4000056655665556", "123"),
    ("5555555555554444", "123"),
    ("2223003122003222", "123"),
    ("378282246310005", "1234"),
    ("6011111111111117", "123"),
)


# Needs 3D Secure on every payment: requires_action with a return_url, 402 authentication_required
# without (docs.stripe.com/testing#regulatory-cards).
AUTHENTICATION_REQUIRED = ("4000002760003184", "123")


def return_url() -> st.SearchStrategy[str]:
    return st.integers(1, 10_000).map(lambda n: f"https://billing.example/return/payments/{n}")


def card(cards: tuple[tuple[str, str], ...] = CARDS) -> st.SearchStrategy[dict[str, Any]]:
    return st.sampled_from(cards).flatmap(lambda nc: st.fixed_dictionaries(
        {"number": st.just(nc[0]), "exp_month": st.integers(1, 12),
         "exp_year": st.integers(2027, 2040)},
        optional={"cvc": st.just(nc[1]), "holder": st.text(min_size=1, max_size=30)},
    ))


def email() -> st.SearchStrategy[str]:
    plain = st.from_regex(r"[a-z][a-z0-9.]{0,11}@[a-z]{1,12}\.(com|org|io)", fullmatch=True)
    return st.one_of(plain, plain, plain, st.emails())


def text() -> st.SearchStrategy[str]:
    return st.text(max_size=40)


def name() -> st.SearchStrategy[str]:
    return st.text(min_size=1, max_size=40)


def amount(low: str, high: str) -> st.SearchStrategy[str]:
    return st.decimals(Decimal(low), Decimal(high), places=2).map(str)


def idempotency() -> st.SearchStrategy[dict[str, str]]:
    return st.one_of(st.just({}), st.uuids().map(lambda u: {"Idempotency-Key": str(u)}))


def case(op: Any, body: Any = None, path: Any = None, headers: Any = None) -> Any:
    """Cases of ``op`` (a schemathesis operation) from strategies of body, path parameters and
    headers; no body when ``body`` is None."""
    return st.tuples(body if body is not None else st.none(),
                     path if path is not None else st.just({}),
                     headers if headers is not None else st.just({})).map(
        lambda t: op.Case(path_parameters=t[1], headers=t[2],
                          **({"body": t[0], "media_type": "application/json"}
                             if t[0] is not None else {})))
