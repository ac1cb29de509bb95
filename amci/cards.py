"""Card numbers as Stripe reads them: brand by IIN range, valid lengths, Luhn.

Pure data and functions, shared by the proxy's pre-checks (``policy``) and the test-mode server
(``testmode.cards``), so both classify a card the same way. Ranges are Stripe's own static table
(stripe-android ``DefaultStaticCardAccountRanges.kt`` / ``CardBrand.kt``, facts §11): Discover is
60/64/65, UnionPay 62/81 — so 622126–622925 (Discover co-brands) read as UnionPay, as in Stripe's
table. Lengths follow the same source (``CardNumber.kt``: 14 to 19 digits overall).
"""

from __future__ import annotations

# (low prefix, high prefix, brand, allowed lengths) — checked in order, most specific first.
BRAND_RANGES: tuple[tuple[str, str, str, frozenset[int]], ...] = (
    ("34", "34", "amex", frozenset({15})),
    ("37", "37", "amex", frozenset({15})),
    ("300", "305", "diners", frozenset({14, 16})),
    ("3095", "3095", "diners", frozenset({14, 16})),
    ("36", "36", "diners", frozenset({14})),
    ("38", "39", "diners", frozenset({14, 16})),
    ("3528", "3589", "jcb", frozenset({16, 17, 18, 19})),
    ("2221", "2720", "mastercard", frozenset({16})),
    ("51", "55", "mastercard", frozenset({16})),
    ("60", "60", "discover", frozenset({16, 19})),
    ("64", "65", "discover", frozenset({16, 19})),
    ("62", "62", "unionpay", frozenset({16, 17, 18, 19})),
    ("81", "81", "unionpay", frozenset({16, 17, 18, 19})),
    ("4", "4", "visa", frozenset({13, 16, 19})),
)
MIN_PAN, MAX_PAN = 12, 19  # lengths outside this are never card numbers


def brand_of(number: str) -> tuple[str, frozenset[int]]:
    """Stripe brand name ("visa", "mastercard", …, "unknown") and its valid lengths."""
    for low, high, brand, lengths in BRAND_RANGES:
        head = number[: len(low)]
        if len(head) == len(low) and low <= head <= high:
            return brand, lengths
    return "unknown", frozenset(range(MIN_PAN, MAX_PAN + 1))


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
