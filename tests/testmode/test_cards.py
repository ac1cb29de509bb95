"""Card tables: brands by IIN, Luhn, documented test cards and their aliases."""

from __future__ import annotations

import pytest

from amci.testmode import cards


@pytest.mark.parametrize(
    ("number", "brand"),
    [("4242424242424242", "visa"), ("2221000000000009", "mastercard"),
     ("2720990000000007", "mastercard"), ("5105105105105100", "mastercard"),
     ("340000000000009", "amex"), ("371449635398431", "amex"), ("6011000990139424", "discover"),
     ("6445644564456445", "discover"), ("6555900000604105", "discover"),
     ("3530111333300000", "jcb"), ("30569309025904", "diners"), ("36227206271667", "diners"),
     ("6200000000000005", "unionpay"), ("8100000000000000", "unionpay"),
     ("9999999999999995", "unknown"), ("2220990000000000", "unknown")],
)
def test_brand_table(number: str, brand: str) -> None:
    assert cards.brand_of(number)[0] == brand


def test_every_documented_test_card_passes_luhn_and_4242424242424241_fails() -> None:
    for card in cards.TEST_CARDS:
        assert cards.luhn_ok(card.number), card.number
    assert not cards.luhn_ok("4242424242424241")


@pytest.mark.parametrize(
    ("alias", "last4", "kind"),
    [("pm_card_visa", "4242", "succeed"), ("tok_visa", "4242", "succeed"),
     ("pm_card_us", "4242", "succeed"), ("pm_card_amex", "0005", "succeed"),
     ("pm_card_visa_chargeDeclined", "0002", "decline"),
     ("tok_chargeDeclinedExpiredCard", "0069", "decline"),
     ("pm_card_chargeCustomerFail", "0341", "decline"),
     ("pm_card_authenticationRequired", "3184", "authenticate")],
)
def test_aliases(alias: str, last4: str, kind: str) -> None:
    card = cards.card_for_alias(alias)
    assert card is not None and card.number[-4:] == last4 and card.outcome.kind == kind


def test_unknown_alias_and_plain_numbers() -> None:
    assert cards.card_for_alias("pm_card_nope") is None
    assert cards.card_for_alias("pm_123") is None
    assert cards.card_for_number("4111111111111111").outcome == cards.SUCCEED


def test_only_0341_and_radar_block_decline_cards_attach() -> None:
    attachable = {c.number for c in cards.TEST_CARDS
                  if c.outcome.kind == "decline" and c.outcome.attachable}
    assert attachable == {"4000000000000341", "4100000000000019"}


def test_fingerprint_depends_on_secret_and_number() -> None:
    fp = cards.fingerprint(b"a", "4242424242424242")
    assert len(fp) == 16 and fp.isalnum()
    assert fp == cards.fingerprint(b"a", "4242424242424242")
    assert fp != cards.fingerprint(b"b", "4242424242424242")
    assert fp != cards.fingerprint(b"a", "5555555555554444")
