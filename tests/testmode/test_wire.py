"""Form decoding with bracket notation, and parameter specs."""

from __future__ import annotations

from typing import Any

import pytest

from amci.testmode.errors import InvalidRequestError
from amci.testmode.wire import EXPAND, Bool, Int, Metadata, Obj, Str, check, decode_form, new_id


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        ("a=1&b=2", {"a": "1", "b": "2"}),
        ("card[number]=4242&card[exp_month]=12", {"card": {"number": "4242", "exp_month": "12"}}),
        ("expand[]=a&expand[]=b", {"expand": ["a", "b"]}),
        ("expand[0]=a&expand[1]=b", {"expand": {"0": "a", "1": "b"}}),
        ("a[b][c]=1", {"a": {"b": {"c": "1"}}}),
        ("metadata[k]=", {"metadata": {"k": ""}}),
        ("x=a%20b+c", {"x": "a b c"}),
        ("", {}),
    ],
)
def test_decode(raw: str, decoded: dict[str, Any]) -> None:
    assert decode_form(raw) == decoded


@pytest.mark.parametrize("raw", ["a[=1", "a]=1", "a=1&a[b]=2", "a[b]=1&a=2", "a[]=1&a[x]=2",
                                 "a[x]=1&a[]=2", b"a=\xff"])
def test_decode_refuses(raw: str | bytes) -> None:
    with pytest.raises(InvalidRequestError):
        decode_form(raw)


def test_specs_coerce_and_name_nested_unknowns() -> None:
    spec = {"n": Int(), "b": Bool(), "s": Str(5), "m": Metadata(), "o": Obj({"x": Int()}),
            "expand": EXPAND}
    out = check({"n": "12", "b": "true", "s": "", "m": {"k": "v", "d": ""},
                 "o": {"x": "3"}, "expand": {"1": "b", "0": "a"}}, spec)
    assert out == {"n": 12, "b": True, "s": None, "m": {"k": "v", "d": None}, "o": {"x": 3},
                   "expand": ["a", "b"]}
    with pytest.raises(InvalidRequestError) as exc:
        check({"o": {"y": "1"}}, spec)
    assert exc.value.param == "o[y]" and exc.value.code == "parameter_unknown"
    for bad in ({"n": "1.5"}, {"b": "yes"}, {"s": "toolong"}, {"m": "x"}, {"o": "x"}):
        with pytest.raises(InvalidRequestError):
            check(bad, spec)


def test_ids_have_stripe_prefixes_and_are_unique() -> None:
    ids = {new_id("pi") for _ in range(1000)}
    assert len(ids) == 1000
    assert all(i.startswith("pi_") and len(i) == 27 and i[3:].isalnum() for i in ids)
