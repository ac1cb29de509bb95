"""One brand table, agreed by both services: AMCI (``amci.cards``, its pre-checks and the test
mode) and the billing client (``billing_client.cards``) ship the same data file and give identical
answers — brand, valid lengths, CVC lengths — for every documented Stripe test card and for both
sides of every range boundary."""

from __future__ import annotations

from pathlib import Path

import pytest

from amci import cards as amci_cards
from amci.testmode.cards import TEST_CARDS
from billing_client import cards as bc_cards

ROOT = Path(__file__).resolve().parents[2]

# docs.stripe.com/testing, "Cards by brand": number → the brand Stripe reports.
DOCUMENTED = {
    "4242424242424242": "visa",
    "4000056655665556": "visa",
    "5555555555554444": "mastercard",
    "2223003122003222": "mastercard",
    "5200828282828210": "mastercard",
    "5105105105105100": "mastercard",
    "378282246310005": "amex",
    "371449635398431": "amex",
    "6011111111111117": "discover",
    "6011000990139424": "discover",
    "6011981111111113": "discover",
    "3056930009020004": "diners",
    "36227206271667": "diners",
    "6555900000604105": "discover",  # BCcard and DinaCard
    "3566002020360505": "jcb",
    "6200000000000005": "unionpay",
    "6200000000000047": "unionpay",
    "6205500000000000004": "unionpay",
}


def _boundaries() -> list[str]:
    """For each range row: its first and last prefixes and their outside neighbours, padded to
    each length 12-19 — plus the industry's Discover co-brand range inside 62, which Stripe's
    table (and so both services) reads as UnionPay."""
    prefixes = {"622126", "622925", "622125", "622926"}
    for low, high, _, _ in amci_cards.BRAND_RANGES:
        width = len(low)
        prefixes.update({low, high})
        below, above = int(low) - 1, int(high) + 1
        if below >= 0:
            prefixes.add(str(below).zfill(width))
        if len(str(above)) == width:
            prefixes.add(str(above))
    numbers = []
    for prefix in sorted(prefixes):
        for length in range(12, 20):
            numbers.append(prefix + "0" * (length - len(prefix)))
            numbers.append(prefix + "9" * (length - len(prefix)))
    return numbers


def _amci(number: str) -> tuple[str, frozenset[int], frozenset[int]]:
    brand, lengths = amci_cards.brand_of(number)
    return brand, lengths, amci_cards.cvc_lengths(brand)


def _billing_client(number: str) -> tuple[str, frozenset[int], frozenset[int]]:
    brand = bc_cards.brand_of(number)
    return brand or "unknown", bc_cards.pan_lengths(number), bc_cards.cvc_lengths(brand)


def test_both_packages_ship_the_same_table() -> None:
    amci_file = ROOT / "amci" / "data" / "card-brands.yaml"
    bc_file = ROOT / "billing_client" / "data" / "card-brands.yaml"
    assert amci_file.read_bytes() == bc_file.read_bytes()


@pytest.mark.parametrize(("number", "brand"), sorted(DOCUMENTED.items()))
def test_documented_test_cards_have_stripes_brand_on_both_sides(number: str, brand: str) -> None:
    assert _amci(number)[0] == brand
    assert _billing_client(number) == _amci(number)
    assert len(number) in _amci(number)[1]  # a documented card has a valid length
    assert amci_cards.luhn_ok(number) and bc_cards.luhn_ok(number)


def test_every_stripe_test_card_is_classified_alike() -> None:
    numbers = {card.number for card in TEST_CARDS} | set(DOCUMENTED)
    assert len(numbers) >= 35
    differ = {n: (_amci(n), _billing_client(n)) for n in numbers if _amci(n) != _billing_client(n)}
    assert differ == {}


def test_every_range_boundary_is_classified_alike() -> None:
    numbers = _boundaries()
    assert len(numbers) > 400
    differ = {n: (_amci(n), _billing_client(n)) for n in numbers if _amci(n) != _billing_client(n)}
    assert differ == {}


@pytest.mark.parametrize(
    ("number", "brand"),
    [
        ("6221260000000000", "unionpay"),  # Discover co-brand range: Stripe's table says UnionPay
        ("3056930009020004", "diners"),
        ("2220990000000000", "unknown"),
        ("2221000000000000", "mastercard"),
        ("2720999999999999", "mastercard"),
        ("2721000000000000", "unknown"),
        ("3527999999999999", "unknown"),
        ("3528000000000000", "jcb"),
    ],
)
def test_the_disputed_numbers(number: str, brand: str) -> None:
    assert _amci(number)[0] == brand
    assert _billing_client(number)[0] == brand


@pytest.mark.parametrize(("brand", "cvc"), [("amex", {4}), ("visa", {3}), ("unionpay", {3})])
def test_cvc_lengths(brand: str, cvc: set[int]) -> None:
    assert amci_cards.cvc_lengths(brand) == cvc == bc_cards.cvc_lengths(brand)
