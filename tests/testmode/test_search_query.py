"""The search query language as a pure module: parse and match tables (no server)."""

from __future__ import annotations

from typing import Any

import pytest

from amci.testmode import search
from amci.testmode.errors import InvalidRequestError
from amci.testmode.search import Clause

CUSTOMER: dict[str, Any] = {
    "id": "cus_1", "created": 1_700_000_000, "email": "Amy@RocketRides.io",
    "name": "one two three four", "phone": None,
    "metadata": {"donation-id": "asdf-jkl", "tier": "Gold"},
}
PI: dict[str, Any] = {
    "id": "pi_1", "amount": 1000, "created": 1_700_000_100, "currency": "usd",
    "customer": "cus_1", "status": "requires_capture", "metadata": {"order_id": "6735"},
}
CHARGE: dict[str, Any] = {
    "id": "ch_1", "amount": 1000, "amount_refunded": 0, "refunded": False, "disputed": False,
    "created": 1, "currency": "eur", "customer": None, "status": "succeeded", "metadata": {},
    "billing_details": {"address": {"postal_code": "10115"}},
    "payment_method_details": {"card": {"last4": "4242", "brand": "visa", "exp_month": 12,
                                        "exp_year": 2030, "fingerprint": "Fp1"}},
}

PARSES = [
    ('email:"amy@rocketrides.io"', "customers",
     search.Query((Clause("email", ":", "amy@rocketrides.io"),))),
    ("  created>1690000000  ", "customers", search.Query((Clause("created", ">", 1690000000),))),
    ('amount>="999"', "payment_intents", search.Query((Clause("amount", ">=", 999),))),
    ("metadata['order_id']:'6735'", "charges",
     search.Query((Clause("metadata", ":", "6735", metadata_key="order_id"),))),
    ('-metadata["k"]:null', "customers",
     search.Query((Clause("metadata", ":", None, negated=True, metadata_key="k"),))),
    ('status:"succeeded" or currency:"usd"', "payment_intents",
     search.Query((Clause("status", ":", "succeeded"), Clause("currency", ":", "usd")),
                  any_of=True)),
    ('status:"succeeded" AND currency:"usd" amount<5', "payment_intents",
     search.Query((Clause("status", ":", "succeeded"), Clause("currency", ":", "usd"),
                   Clause("amount", "<", 5)))),
    ('name~"rock"', "customers", search.Query((Clause("name", "~", "rock"),))),
    (r'name:"the \"Sky\""', "customers", search.Query((Clause("name", ":", 'the "Sky"'),))),
    ("payment_method_details.card.last4:4242", "charges",
     search.Query((Clause("payment_method_details.card.last4", ":", "4242"),))),
    ("phone:NULL", "customers", search.Query((Clause("phone", ":", None),))),
    ("customer:null", "payment_intents", search.Query((Clause("customer", ":", None),))),
]


@pytest.mark.parametrize(("text", "resource", "expected"), PARSES)
def test_parse(text: str, resource: str, expected: search.Query) -> None:
    assert search.parse(text, resource) == expected


REFUSED = [
    ("", "customers", "empty"),
    ("   ", "customers", "empty"),
    ('colour:"red"', "customers", "unsupported search field"),
    ('status:"succeeded"', "customers", "unsupported search field"),
    ('email>"a"', "customers", "comparison operator"),
    ('currency~"usd"', "payment_intents", "substring"),
    ('email~"ab"', "customers", "at least 3"),
    ("email:amy", "customers", "must be quoted"),
    ('amount:"ten"', "payment_intents", "not a number"),
    ("amount>null", "payment_intents", "null"),
    ('status:"a" AND currency:"b" OR amount:1', "payment_intents", "cannot be combined"),
    ('(status:"a")', "payment_intents", "parentheses"),
    ('email:"unterminated', "customers", "unterminated"),
    ("email", "customers", "operator"),
    ('email="a"', "customers", "operator"),
    ("email:", "customers", "missing value"),
    ('metadata.k:"v"', "customers", "unsupported search field"),
    ('metadata:"v"', "customers", 'metadata["key"]'),
    ('email:"a"AND', "customers", "unexpected"),
    ('email:"a" AND', "customers", "must follow"),
    (" ".join(f"amount:{i}" for i in range(11)), "payment_intents", "at most 10"),
]


@pytest.mark.parametrize(("text", "resource", "message"), REFUSED)
def test_refused(text: str, resource: str, message: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        search.parse(text, resource)
    assert info.value.param == "query"
    assert info.value.status == 400
    assert message in info.value.message


MATCHES = [
    ('email:"amy@rocketrides.io"', "customers", CUSTOMER, True),
    ('email:"bob@rocketrides.io"', "customers", CUSTOMER, False),
    ('-email:"amy@rocketrides.io"', "customers", CUSTOMER, False),
    ('name:"one two three"', "customers", CUSTOMER, True),  # words in order
    ('name:"two three"', "customers", CUSTOMER, True),
    ('name:"three two"', "customers", CUSTOMER, False),
    ('name:"one three"', "customers", CUSTOMER, False),
    ('email~"ROCKET"', "customers", CUSTOMER, True),
    ('name~"xyz"', "customers", CUSTOMER, False),
    ('metadata["donation-id"]:"asdf-jkl"', "customers", CUSTOMER, True),
    ('metadata["tier"]:"gold"', "customers", CUSTOMER, True),  # exact, case-insensitive
    ('metadata["tier"]:"gol"', "customers", CUSTOMER, False),
    ('-metadata["donation-id"]:null', "customers", CUSTOMER, True),  # has the key
    ('metadata["absent"]:null', "customers", CUSTOMER, True),
    ("phone:null", "customers", CUSTOMER, True),
    ("-phone:null", "customers", CUSTOMER, False),
    ("created>1699999999", "customers", CUSTOMER, True),
    ("created>1700000000", "customers", CUSTOMER, False),
    ("created>=1700000000", "customers", CUSTOMER, True),
    ("created<=1700000000 created<1700000001", "customers", CUSTOMER, True),
    ("created:1700000000", "customers", CUSTOMER, True),
    ('status:"requires_capture" AND amount>999', "payment_intents", PI, True),
    ('status:"succeeded" AND amount>999', "payment_intents", PI, False),
    ('status:"succeeded" OR amount>999', "payment_intents", PI, True),
    ('status:"succeeded" OR amount>1000', "payment_intents", PI, False),
    ('-currency:"usd"', "payment_intents", PI, False),
    ('customer:"CUS_1"', "payment_intents", PI, True),
    ('amount>999 AND metadata["order_id"]:"6735"', "payment_intents", PI, True),
    ("payment_method_details.card.last4:4242", "charges", CHARGE, True),
    ('payment_method_details.card.brand:"visa" currency:"eur"', "charges", CHARGE, True),
    ('billing_details.address.postal_code:"10115"', "charges", CHARGE, True),
    ("refunded:null", "charges", CHARGE, True),  # not refunded at all
    ('refunded:"true"', "charges", CHARGE, False),
    ('refunded:"false"', "charges", {**CHARGE, "amount_refunded": 100}, True),  # partial
    ('refunded:"true"', "charges", {**CHARGE, "amount_refunded": 1000, "refunded": True}, True),
    ('disputed:"false"', "charges", CHARGE, True),
    ("payment_method_details.card.exp_year:2030", "charges", CHARGE, True),
]


@pytest.mark.parametrize(("text", "resource", "obj", "expected"), MATCHES)
def test_matches(text: str, resource: str, obj: dict[str, Any], expected: bool) -> None:
    assert search.matches(search.parse(text, resource), obj, resource) is expected


@pytest.mark.parametrize("position", [0, 1, 987654321])
def test_page_cursor_round_trip(position: int) -> None:
    cursor = search.encode_page(position)
    assert str(position) not in cursor or position < 10  # opaque, not the number itself
    assert search.decode_page(cursor) == position


@pytest.mark.parametrize("page", ["", "not base64!", "W10=", "WyJ4Il0=", "W3RydWVd"])
def test_bad_page_cursor(page: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        search.decode_page(page)
    assert info.value.param == "page"
