"""The documented-parameter specs as pure functions: conversion from the generated JSON, merge
with an endpoint's own specs, and the parameter types the wire module did not have."""

from __future__ import annotations

from typing import Any

import pytest

from amci.testmode import params, routes
from amci.testmode.errors import InvalidRequestError, ResourceMissing
from amci.testmode.wire import Int, Obj, Str, check

PI = params.merged("POST /v1/payment_intents")

ACCEPTED = [
    ({"off_session": "true"}, {"off_session": True}),
    ({"off_session": "recurring"}, {"off_session": "recurring"}),
    ({"created": "5"}, None),
    ({"shipping": {"name": "A", "address": {"line1": "x"}}},
     {"shipping": {"name": "A", "address": {"line1": "x"}}}),
    ({"payment_method_options": {"sepa_debit": {"anything": {"goes": "x"}}}}, None),
    ({"transfer_group": ""}, {"transfer_group": None}),
]


@pytest.mark.parametrize(("raw", "expected"), ACCEPTED)
def test_documented_payment_intent_parameters(raw: dict[str, Any],
                                              expected: dict[str, Any] | None) -> None:
    spec = params.merged("GET /v1/charges") if "created" in raw else PI
    out = check(raw, spec)
    assert expected is None or out == expected


REFUSED = [
    ({"off_session": "sometimes"}, "off_session"),
    ({"application_fee_amount": "1.5"}, "application_fee_amount"),
    ({"shipping": {"name": {"first": "A"}}}, "shipping[name]"),
    ({"shipping": {"nickname": "A"}}, "shipping[nickname]"),
    ({"capture_method": "later"}, "capture_method"),
    ({"payment_method_types": "card"}, "payment_method_types"),
    ({"payment_method_options": {"card": {"installments": {"enabled": "yes"}}}},
     "payment_method_options[card][installments][enabled]"),
]


@pytest.mark.parametrize(("raw", "param"), REFUSED)
def test_wrongly_typed_or_undocumented(raw: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        check(raw, PI)
    assert info.value.param == param


def test_own_specs_merge_into_documented_objects() -> None:
    spec = params.merged("POST /v1/payment_intents",
                         {"shipping": Obj({"name": Str(3)}), "amount": Int()})
    # The own narrower name spec applies; the documented address is still accepted.
    assert check({"shipping": {"name": "Ann", "address": {"city": "B"}}}, spec)
    with pytest.raises(InvalidRequestError):
        check({"shipping": {"name": "Annabel"}}, spec)
    assert isinstance(spec["amount"], Int) and isinstance(spec["transfer_group"], Str)


def test_generic_only_is_what_the_served_endpoint_does_not_simulate() -> None:
    assert routes.ROUTES  # the resource modules declare their endpoints on import
    generic = params.generic_only("POST /v1/payment_intents")
    assert {"transfer_group", "shipping", "radar_options"} <= generic
    assert not {"amount", "currency", "confirm", "off_session", "expand"} & generic
    assert params.generic_only("GET /v1/customers/{id}") == frozenset()  # own spec covers all


@pytest.mark.parametrize(
    ("spec", "value", "out"),
    [(params.Num(), "12.50", "12.50"), (params.Num(), "", None),
     (params.Hash(), {"a": "b"}, {"a": "b"}), (params.Hash(), "", {}),
     (params.Loose(), {"x": ["y"]}, {"x": ["y"]}), (params.MissingRef("coupon"), "", None),
     (params.ConnectOnly(), "", None)],
)
def test_new_types_accept(spec: Any, value: Any, out: Any) -> None:
    assert spec.coerce(value, "p") == out


@pytest.mark.parametrize(
    ("spec", "value", "fragment"),
    [(params.Num(), "1,5", "Invalid decimal"), (params.Hash(), {"a": {"b": "c"}}, "Invalid hash"),
     (params.MissingRef("coupon"), "co_1", "No such coupon: 'co_1'"),
     (params.ConnectOnly(), "acct_1", "Connect")],
)
def test_new_types_refuse(spec: Any, value: Any, fragment: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        spec.coerce(value, "p")
    assert fragment in info.value.message and info.value.param == "p"
    if isinstance(spec, params.MissingRef):
        assert isinstance(info.value, ResourceMissing) and info.value.status == 400
