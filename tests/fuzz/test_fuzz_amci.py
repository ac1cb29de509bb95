"""Fuzzing AMCI through its served OpenAPI document (``/openapi.json``), with HTTP Basic auth of the
shipped demo subscription, a fixed seed, and seeded objects (saved cards, authorized and captured
payments) so that money actually moves. Asserts 0 server errors, 0 answers that don't match the
document, 0 undocumented status codes, every hostile input class of issue 7 refused, and a minimum
number of 2xx answers per money-moving route."""

from __future__ import annotations

import base64
from typing import Any

import requests
from hypothesis import strategies as st

from .engine import EXAMPLES, SEED, Fuzzer, SeedFailed, load, minimum
from .hostile import HOSTILE
from .realistic import (
    AUTHENTICATION_REQUIRED,
    CARDS,
    amount,
    card,
    case,
    email,
    idempotency,
    return_url,
    text,
)
from .realistic import SEED as REF

STRIPE_KEY = "sk_test_51FuzzAmciSubscriptionKey00000fuzz"  # any sk_test_: the demo subscription
LOGIN = "fuzz-billing-system"
HEADERS = {"Authorization": "Basic " + base64.b64encode(f"{LOGIN}:{STRIPE_KEY}".encode()).decode()}

# 2xx answers at the default scale (FUZZ_EXAMPLES=12: 6 seeded cases per route; 4 to 6 succeeded
# with FUZZ_SEED 20261130, 1, 2 and 3), grown with the scale by `make fuzz` (engine.minimum).
# Observed figures: the README's Fuzzing section.
MINIMUM_2XX = {
    "POST /v1/stripe/cards": 4,
    "DELETE /v1/stripe/cards/{token}": 4,
    "POST /v1/stripe/payments": 4,
    "POST /v1/stripe/payments/{id}/capture": 4,
    "POST /v1/stripe/payments/{id}/refunds": 4,
}


def amount_and_currency() -> st.SearchStrategy[tuple[str, str]]:
    return st.one_of(
        st.tuples(amount("1.00", "9999.99"), st.sampled_from(["usd", "USD", "eur", "gbp", "Chf"])),
        st.tuples(st.integers(100, 500_000).map(str), st.just("jpy")),
    )


def metadata() -> st.SearchStrategy[dict[str, str]]:
    return st.dictionaries(st.from_regex(r"[a-z_]{1,20}", fullmatch=True), text(), max_size=3)


class Seeds:
    """Objects the seeded cases point at, made through AMCI's API before and during the run."""

    def __init__(self, base: str, headers: dict[str, str]) -> None:
        self.base, self.headers = base, headers
        self.http = requests.Session()
        self.cards: list[str] = []
        self.payments: list[str] = []

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = self.http.post(self.base + path, json=body, headers=self.headers, timeout=30)
        if r.status_code not in (200, 201):
            raise SeedFailed(r.status_code, f"seeding POST {path}: {r.text[:300]}")
        data: dict[str, Any] = r.json()
        return data

    def save_card(self, number: str = "4242424242424242") -> str:
        return str(self.post("/v1/stripe/cards", {
            "card": {"number": number, "exp_month": 12, "exp_year": 2034},
            "customer": {"email": "seed@example.com", "name": "Seed Customer"},
        })["token"])

    def payment(self, *, capture: bool, amount: str, authenticate: bool = False) -> str:
        """A payment; ``authenticate``: one waiting for 3D Secure (requires_action)."""
        number = AUTHENTICATION_REQUIRED[0] if authenticate else "4242424242424242"
        extra = {"return_url": "https://billing.example/return/payments/1"} if authenticate else {}
        return str(self.post("/v1/stripe/payments", {
            "amount": amount, "currency": "usd", "capture": capture, **extra,
            "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        })["id"])

    def prepare(self) -> None:
        self.cards = [self.save_card(n) for n, _ in CARDS[::2]]
        self.payments = [self.payment(capture=c, amount="30.00")
                         for c in (True, False, True)]

    def resolve(self, case: Any) -> None:
        def one(value: Any) -> Any:
            if not (isinstance(value, str) and value.startswith(REF)):
                return value
            what, _, n = value[len(REF):].partition(":")
            if what == "card":
                return self.cards[int(n) % len(self.cards)]
            if what == "payment":
                return self.payments[int(n) % len(self.payments)]
            if what == "fresh_card":
                return self.save_card()
            if what == "fresh_auth":
                return self.payment(capture=False, amount="20.00")
            if what == "fresh_paid":
                return self.payment(capture=True, amount="50.00")
            if what == "fresh_3ds":
                return self.payment(capture=True, amount="15.00", authenticate=True)
            raise AssertionError(value)

        case.path_parameters = {k: one(v) for k, v in case.path_parameters.items()}
        if isinstance(case.body, dict) and isinstance(case.body.get("token"), str):
            case.body = {**case.body, "token": one(case.body["token"])}


def seeded_strategies() -> dict[str, Any]:
    """Per operation, realistic cases: real objects, Stripe test cards, amounts in range."""

    def payment_body() -> st.SearchStrategy[dict[str, Any]]:
        source = st.one_of(
            st.tuples(card((*CARDS, AUTHENTICATION_REQUIRED)), st.one_of(
                st.just({}),
                # Saving the card needs the customer's email (email_required otherwise).
                email().map(lambda e: {"save_card": True, "customer": {"email": e}})))
            .map(lambda t: {"card": t[0], **t[1]}),
            st.tuples(st.integers(0, 9),
                      st.fixed_dictionaries({}, optional={"off_session": st.booleans()}))
            .map(lambda t: {"token": f"{REF}card:{t[0]}", **t[1]}),
        )
        fields = st.fixed_dictionaries({}, optional={
            "capture": st.booleans(), "description": text(), "reference": text(),
            "metadata": metadata(), "return_url": return_url(),
            "customer": st.fixed_dictionaries({}, optional={
                "email": email(), "name": text(), "reference": text()}),
        })
        return st.tuples(amount_and_currency(), source, fields).map(
            lambda t: {"amount": t[0][0], "currency": t[0][1], **t[2], **t[1]})

    def save_card_body() -> st.SearchStrategy[dict[str, Any]]:
        return st.fixed_dictionaries(
            {"card": card(), "customer": st.fixed_dictionaries(
                {"email": email()}, optional={"name": text(), "reference": text()})},
            optional={"enabled_brands": st.lists(st.sampled_from(
                ["visa", "mastercard", "amex", "discover", "VISA", "American Express"]),
                min_size=1, max_size=4)},
        )

    def fresh(what: str) -> st.SearchStrategy[dict[str, str]]:
        return st.just({"id": f"{REF}{what}"})

    def pooled(name: str = "id") -> st.SearchStrategy[dict[str, str]]:
        return st.integers(0, 9).map(lambda n: {name: f"{REF}payment:{n}"})

    return {
        "POST /v1/stripe/payments": lambda op: case(op, payment_body(), headers=idempotency()),
        "POST /v1/stripe/cards": lambda op: case(op, save_card_body(), headers=idempotency()),
        "DELETE /v1/stripe/cards/{token}": lambda op: case(
            op, path=st.one_of(st.just({"token": f"{REF}fresh_card"}),
                               st.integers(0, 9).map(lambda n: {"token": f"{REF}card:{n}"}))),
        "GET /v1/stripe/payments/{id}": lambda op: case(op, path=pooled()),
        "GET /v1/stripe/cards/{token}": lambda op: case(
            op, path=st.integers(0, 9).map(lambda n: {"token": f"{REF}card:{n}"})),
        "POST /v1/stripe/payments/{id}/authenticate": lambda op: case(
            op, st.fixed_dictionaries({"return_url": return_url()}),
            st.one_of(fresh("fresh_3ds"), fresh("fresh_3ds"), fresh("fresh_3ds"), pooled()),
            idempotency()),
        "POST /v1/stripe/payments/{id}/capture": lambda op: case(
            op, st.fixed_dictionaries({}, optional={"amount": amount("0.50", "20.00")}),
            st.one_of(fresh("fresh_auth"), fresh("fresh_auth"), fresh("fresh_auth"), pooled()),
            idempotency()),
        "POST /v1/stripe/payments/{id}/refunds": lambda op: case(
            op, st.fixed_dictionaries({}, optional={
                "amount": amount("0.50", "50.00"),
                "reason": st.sampled_from(["duplicate", "fraudulent", "requested_by_customer"])}),
            st.one_of(fresh("fresh_paid"), fresh("fresh_paid"), fresh("fresh_paid"), pooled()),
            idempotency()),
        "POST /v1/stripe/payments/{id}/void": lambda op: case(
            op, st.just({}), fresh("fresh_auth")),
    }


def order(label: str) -> int:
    """Deleting saved cards last, so payments by token see them."""
    return {"POST": 0, "GET": 1, "DELETE": 2}.get(label.split(" ")[0], 1)


def test_fuzz_amci(services: Any) -> None:
    seeds = Seeds(services.amci.url, HEADERS)
    seeds.prepare()
    fuzzer = Fuzzer(
        schema=load(services.amci.url),
        base_url=services.amci.url,
        headers=HEADERS,
        seeded=seeded_strategies(),
        resolve=seeds.resolve,
        order=order,
        hostile=HOSTILE,
    )
    report = fuzzer.run()
    print("\nAMCI fuzz:", report.table(), sep="\n")
    short = {op: f"{report.ok(op)} < {need}" for op, n in MINIMUM_2XX.items()
             if report.ok(op) < (need := minimum(n))}
    assert not report.findings and not short, (
        f"AMCI fuzz (seed {SEED}, {EXAMPLES} examples per operation):\n"
        f"{report.table()}\n\nfindings:\n{report.failures()}\n\n"
        f"2xx below the minimum: {short}\n\nAMCI tracebacks: {services.amci.tracebacks()}\n"
        f"test-mode tracebacks: {services.testmode.tracebacks()}"
    )
