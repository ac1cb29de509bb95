"""Card numbers as Stripe reads them: brand by IIN range, valid lengths, CVC length, Luhn.

Pure data and functions, shared by the proxy's pre-checks (``policy``) and the test-mode server
(``testmode.cards``). The table is data, ``amci/data/card-brands.yaml`` (its sources are cited
there: Stripe's own static range table and docs.stripe.com/testing); the billing client ships the
same file and tests/cards/test_brand_contract.py holds both services to identical answers.
"""

from __future__ import annotations

from importlib import resources
from types import MappingProxyType
from typing import Any

import yaml


def _load() -> dict[str, Any]:
    text = resources.files("amci").joinpath("data/card-brands.yaml").read_text()
    data: dict[str, Any] = yaml.safe_load(text)
    return data


_DATA = _load()
# (low prefix, high prefix, brand, allowed lengths) — checked in order, most specific first.
BRAND_RANGES: tuple[tuple[str, str, str, frozenset[int]], ...] = tuple(
    (row["low"], row["high"], row["brand"], frozenset(row["lengths"])) for row in _DATA["ranges"]
)
CVC_LENGTHS: MappingProxyType[str, frozenset[int]] = MappingProxyType(
    {brand: frozenset(info["cvc_lengths"]) for brand, info in _DATA["brands"].items()}
)
# Lengths outside this span are never card numbers.
MIN_PAN, MAX_PAN = int(_DATA["unknown_lengths"]["min"]), int(_DATA["unknown_lengths"]["max"])


def brand_of(number: str) -> tuple[str, frozenset[int]]:
    """Stripe brand name ("visa", "mastercard", …, "unknown") and its valid lengths."""
    for low, high, brand, lengths in BRAND_RANGES:
        head = number[: len(low)]
        if len(head) == len(low) and low <= head <= high:
            return brand, lengths
    return "unknown", frozenset(range(MIN_PAN, MAX_PAN + 1))


def cvc_lengths(brand: str) -> frozenset[int]:
    """Valid CVC lengths for a brand: 4 on American Express cards, 3 on the others."""
    return CVC_LENGTHS.get(brand, frozenset({3}))


def luhn_ok(number: str) -> bool:
    """From the rightmost digit, double every second digit (minus 9 above 9); sum ≡ 0 mod 10."""
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0
