"""Fuzzing the billing client through its served OpenAPI document (``/openapi.json``), in front of
the real AMCI and Stripe test mode, with a bearer API token made by ``billing-client create-token``,
a fixed seed and seeded objects (payment systems,
currencies, customers with an email, saved cards, authorized and captured transactions) so that
money actually moves. Asserts 0 server errors, 0 answers that don't match the document, 0
undocumented status codes, every hostile input class of issue 7 refused, and a minimum number of
2xx answers per money-moving route."""

from __future__ import annotations

import itertools
from typing import Any

import requests
from hypothesis import strategies as st

from .engine import EXAMPLES, SEED, Fuzzer, SeedFailed, load, minimum
from .hostile import HOSTILE, JSON_ONLY
from .realistic import (
    AUTHENTICATION_REQUIRED,
    CARDS,
    amount,
    card,
    case,
    email,
    idempotency,
    name,
    text,
)
from .realistic import SEED as REF

STRIPE_KEY = "sk_test_51FuzzBillingClientKey0000000bcfz"  # the payment systems' Stripe key
LOGIN = "fuzz-billing-client"
METHODS = ["VISA", "MasterCard", "American Express", "Discover"]

# 2xx answers at the default scale (FUZZ_EXAMPLES=12: 6 seeded cases per route; 4 to 6 succeeded
# with FUZZ_SEED 20261130, 1, 2 and 3), grown with the scale by `make fuzz` (engine.minimum).
# Observed figures: the README's Fuzzing section.
MINIMUM_2XX = {
    "POST /api/customers/{id}/cards": 4,
    "DELETE /api/customers/{id}/cards/{card_id}": 4,
    "POST /api/customers/{id}/payments": 4,
    "POST /api/transactions/{id}/capture": 4,
    "POST /api/transactions/{id}/refunds": 4,
}


class Seeds:
    """Objects the seeded cases point at, made through the billing client's API."""

    def __init__(self, base: str, headers: dict[str, str]) -> None:
        self.base, self.headers = base, headers
        self.http = requests.Session()
        self.payment_systems: list[str] = []
        self.customers: list[str] = []
        self.cards: dict[str, list[str]] = {}
        self.transactions: list[str] = []
        self.serial = itertools.count()

    def call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        r = self.http.request(method, self.base + path, json=body, headers=self.headers,
                              timeout=30)
        if r.status_code not in (200, 201):
            raise SeedFailed(r.status_code, f"seeding {method} {path}: {r.text[:300]}")
        data: dict[str, Any] = r.json()
        return data

    def payment_system(self, protection: str = "token_only") -> str:
        ps = self.call("POST", "/api/payment-systems", {
            "name": f"Stripe fuzz {next(self.serial)}", "processor": "Stripe",
            "login": LOGIN, "password": STRIPE_KEY, "test_mode": True,
        })["id"]
        self.call("PATCH", f"/api/payment-systems/{ps}",
                  {"enabled_methods": METHODS, "data_protection": protection})
        return str(ps)

    def customer(self, currency: str = "USD") -> str:
        return str(self.call("POST", "/api/customers", {
            "name": f"Fuzz Customer {next(self.serial)}", "currency": currency,
            "email": "fuzz@example.com"})["id"])

    def save_card(self, customer: str, number: str = "4242424242424242") -> str:
        card_id = str(self.call("POST", f"/api/customers/{customer}/cards", {
            "card": {"number": number, "exp_month": 12, "exp_year": 2034}})["id"])
        self.cards.setdefault(customer, []).append(card_id)
        return card_id

    def payment(self, *, kind: str, amount: str) -> str:
        customer = self.customers[0]
        return str(self.call("POST", f"/api/customers/{customer}/payments", {
            "amount": amount, "type": kind, "card_id": self.cards[customer][0]})["id"])

    def prepare(self) -> None:
        self.payment_systems = [self.payment_system(), self.payment_system("full_card_except_cvv")]
        self.call("PUT", "/api/currencies/USD",
                  {"payment_system": self.payment_systems[0], "minimum_payment": "0.5"})
        self.call("PUT", "/api/currencies/EUR",
                  {"payment_system": self.payment_systems[1], "minimum_payment": "0.5"})
        self.customers = [self.customer("USD"), self.customer("USD"), self.customer("EUR")]
        for customer, (number, _) in zip(self.customers, CARDS[::2], strict=True):
            self.save_card(customer, number)
        self.transactions = [self.payment(kind=k, amount="30.00")
                             for k in ("sale", "authorization", "sale")]

    def resolve(self, case: Any) -> None:
        def one(value: Any, n: int = 0) -> Any:
            if not (isinstance(value, str) and value.startswith(REF)):
                return value
            what, _, index = value[len(REF):].partition(":")
            n = int(index or 0)
            pools: dict[str, list[str]] = {"customer": self.customers, "ps": self.payment_systems,
                                           "txn": self.transactions}
            if what in pools:
                return pools[what][n % len(pools[what])]
            if what == "fresh_customer":
                return self.customer()
            if what == "fresh_ps":
                return self.payment_system()
            if what == "fresh_auth":
                return self.payment(kind="authorization", amount="20.00")
            if what == "fresh_sale":
                return self.payment(kind="sale", amount="50.00")
            if what == "fresh_card":
                return value  # needs the owner: below
            raise AssertionError(value)

        path = {k: one(v) for k, v in case.path_parameters.items()}
        # A card of the customer in the path: an existing one, or a fresh one to delete.
        owner = path.get("id")
        card_ref = path.get("card_id")
        if isinstance(card_ref, str) and card_ref == f"{REF}fresh_card":
            path["card_id"] = self.save_card(owner)
        case.path_parameters = path
        body = case.body
        if isinstance(body, dict):
            if body.get("card_id") == f"{REF}card_of_customer":
                cards = self.cards.get(owner or "", [])
                body = {**body, "card_id": cards[0] if cards else "card_unknown"}
            if isinstance(body.get("payment_system"), str):
                body = {**body, "payment_system": one(body["payment_system"])}
            case.body = body


def seeded_strategies() -> dict[str, Any]:
    """Per operation, realistic cases: real objects, Stripe test cards, amounts in range."""

    def pooled(what: str, name: str = "id") -> st.SearchStrategy[dict[str, str]]:
        return st.integers(0, 9).map(lambda n: {name: f"{REF}{what}:{n}"})

    def fresh(what: str) -> st.SearchStrategy[dict[str, str]]:
        return st.just({"id": f"{REF}{what}"})

    def usually_fresh(what: str) -> st.SearchStrategy[dict[str, str]]:
        return st.one_of(fresh(what), fresh(what), fresh(what), pooled("txn"))

    payment = st.tuples(
        amount("1.00", "9999.99"),
        st.one_of(st.just({"card_id": f"{REF}card_of_customer"}),
                  card((*CARDS, AUTHENTICATION_REQUIRED)).map(lambda c: {"card": c})),
        st.fixed_dictionaries({}, optional={
            "type": st.sampled_from(["sale", "authorization"]), "description": text()}),
    ).map(lambda t: {"amount": t[0], **t[1], **t[2]})
    payment_system = st.fixed_dictionaries(
        {"name": name(), "processor": st.sampled_from(["Stripe", "stripe"]),
         "login": st.from_regex(r"[a-z0-9-]{5,20}", fullmatch=True),
         "password": st.from_regex(r"sk_test_[A-Za-z0-9]{24}", fullmatch=True)},
        optional={"test_mode": st.just(True),
                  "enabled_methods": st.lists(st.sampled_from(METHODS), max_size=4),
                  "data_protection": st.sampled_from(["token_only", "full_card_except_cvv"])},
    )
    ps_patch = st.fixed_dictionaries({}, optional={
        "name": name(), "enabled_methods": st.lists(st.sampled_from(METHODS), max_size=4),
        "data_protection": st.sampled_from(["token_only", "full_card_except_cvv"])})

    return {
        "POST /api/payment-systems": lambda op: case(op, payment_system),
        "GET /api/payment-systems/{id}": lambda op: case(op, path=pooled("ps")),
        "PATCH /api/payment-systems/{id}": lambda op: case(op, ps_patch, fresh("fresh_ps")),
        "DELETE /api/payment-systems/{id}": lambda op: case(
            op, path=st.one_of(fresh("fresh_ps"), fresh("fresh_ps"), pooled("ps"))),
        "PUT /api/currencies/{code}": lambda op: case(
            op, st.fixed_dictionaries(
                {"payment_system": st.integers(0, 9).map(lambda n: f"{REF}ps:{n}")},
                optional={"minimum_payment": amount("0.50", "5.00")}),
            st.sampled_from(["GBP", "CHF", "CAD", "gbp"]).map(lambda c: {"code": c})),
        "GET /api/currencies/{code}": lambda op: case(
            op, path=st.sampled_from(["USD", "EUR", "usd"]).map(lambda c: {"code": c})),
        "POST /api/customers": lambda op: case(op, st.fixed_dictionaries(
            {"name": name(), "currency": st.sampled_from(["USD", "EUR", "usd"])},
            optional={"email": st.one_of(email(), st.none())})),
        "GET /api/customers/{id}": lambda op: case(op, path=pooled("customer")),
        "PATCH /api/customers/{id}": lambda op: case(
            op, st.one_of(st.fixed_dictionaries({"name": name()}, optional={"email": email()}),
                          st.fixed_dictionaries({"email": email()})),
            fresh("fresh_customer")),
        "POST /api/customers/{id}/cards": lambda op: case(
            op, st.fixed_dictionaries({"card": card()}), pooled("customer"), idempotency()),
        "GET /api/customers/{id}/cards": lambda op: case(op, path=pooled("customer")),
        "DELETE /api/customers/{id}/cards/{card_id}": lambda op: case(
            op, path=pooled("customer").map(lambda p: {**p, "card_id": f"{REF}fresh_card"})),
        "POST /api/customers/{id}/payments": lambda op: case(
            op, payment, pooled("customer"), idempotency()),
        "GET /api/customers/{id}/transactions": lambda op: case(op, path=pooled("customer")),
        "GET /api/transactions/{id}": lambda op: case(op, path=pooled("txn")),
        "POST /api/transactions/{id}/capture": lambda op: case(
            op, st.fixed_dictionaries({}, optional={"amount": amount("0.50", "20.00")}),
            usually_fresh("fresh_auth"), idempotency()),
        "POST /api/transactions/{id}/refunds": lambda op: case(
            op, st.fixed_dictionaries({}, optional={
                "amount": amount("0.50", "50.00"),
                "reason": st.sampled_from(["duplicate", "fraudulent", "requested_by_customer"])}),
            usually_fresh("fresh_sale"), idempotency()),
        "POST /api/transactions/{id}/void": lambda op: case(op, st.just({}), fresh("fresh_auth")),
        "POST /api/transactions/{id}/retry": lambda op: case(op, st.just({}), pooled("txn")),
    }


def order(label: str) -> int:
    """Deletions last, so the seeded objects others point at live through the run."""
    return {"DELETE": 2}.get(label.split(" ")[0], 0)


def test_fuzz_billing_client(services: Any) -> None:
    headers = {"Authorization": f"Bearer {services.bc_token}"}
    seeds = Seeds(services.bc.url, headers)
    seeds.prepare()
    fuzzer = Fuzzer(
        schema=load(services.bc.url),
        base_url=services.bc.url,
        headers=headers,
        seeded=seeded_strategies(),
        resolve=seeds.resolve,
        order=order,
        hostile=(*HOSTILE, JSON_ONLY),
    )
    report = fuzzer.run()
    print("\nbilling client fuzz:", report.table(), sep="\n")
    short = {op: f"{report.ok(op)} < {need}" for op, n in MINIMUM_2XX.items()
             if report.ok(op) < (need := minimum(n))}
    assert not report.findings and not short, (
        f"billing client fuzz (seed {SEED}, {EXAMPLES} examples per operation):\n"
        f"{report.table()}\n\nfindings:\n{report.failures()}\n\n"
        f"2xx below the minimum: {short}\n\n"
        f"billing client tracebacks: {services.bc.tracebacks()}\n"
        f"AMCI tracebacks: {services.amci.tracebacks()}\n"
        f"test-mode tracebacks: {services.testmode.tracebacks()}"
    )
