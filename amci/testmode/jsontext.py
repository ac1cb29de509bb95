"""JSON text for stored objects and response bodies: orjson where it gives the same result as the
standard library, the standard library otherwise.

``dumps`` is ``json.dumps(obj, separators=(",", ":"), ensure_ascii=False)``, byte for byte: orjson
writes the same compact form with UTF-8 left as is and the same escapes; what it refuses (integers
past 64 bits, non-string keys, lone surrogates) falls back to the standard library, which accepts
them. Stripe objects carry no floats (amounts are integers in minor units; orjson would write
``1e16`` where the standard library writes ``1e+16``). ``loads`` likewise falls back for the
inputs orjson refuses (NaN, lone surrogate escapes, integers past 64 bits), so the same text
gives the same value or the same ``ValueError``.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(obj: Any) -> str:
    try:
        return orjson.dumps(obj).decode()
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def loads(text: str | bytes) -> Any:
    try:
        return orjson.loads(text)
    except ValueError:  # orjson.JSONDecodeError is a ValueError
        return json.loads(text)
