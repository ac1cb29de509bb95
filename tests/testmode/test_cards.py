"""Card tables: brands by IIN, Luhn, documented test cards and their aliases."""

from __future__ import annotations

import pytest

from amci.testmode import cards


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
     ("pm_card_authenticationRequired", "3184", "succeed")],
)
def test_aliases(alias: str, last4: str, kind: str) -> None:
    card = cards.card_for_alias(alias)
    assert card is not None and card.number[-4:] == last4 and card.outcome.kind == kind


def test_unknown_alias_and_plain_numbers() -> None:
    assert cards.card_for_alias("pm_card_nope") is None
    assert cards.card_for_alias("pm_123") is None
    assert cards.card_for_number("4111111111111111").outcome == cards.SUCCEED


def test_only_0341_radar_block_and_3ds_decline_cards_attach() -> None:
    """Issuer-decline cards cannot be attached; the 3DS cards declined only after authentication
    (or a failed 3DS lookup) can, so that they can be set up."""
    attachable = {c.number for c in cards.TEST_CARDS
                  if c.outcome.kind == "decline" and c.outcome.attachable}
    assert attachable == {"4000000000000341", "4100000000000019", "4000008260003178",
                          "4000008400001629", "4000008400001280"}


def test_outcome_round_trips_through_the_store_and_reads_old_rows() -> None:
    for card in cards.TEST_CARDS:
        assert cards.Outcome.from_internal(card.outcome.to_internal()) == card.outcome
    # Rows written before 3DS modes: ["authenticate", …, off_session_ok].
    old = cards.Outcome.from_internal(["authenticate", None, None, None, True, True])
    assert (old.kind, old.three_ds) == ("succeed", "on_session")
    old = cards.Outcome.from_internal(["decline", "card_declined", "generic_decline", "x",
                                       False, False])
    assert (old.kind, old.three_ds) == ("decline", "unenrolled")


def test_fingerprint_depends_on_secret_and_number() -> None:
    fp = cards.fingerprint(b"a", "4242424242424242")
    assert len(fp) == 16 and fp.isalnum()
    assert fp == cards.fingerprint(b"a", "4242424242424242")
    assert fp != cards.fingerprint(b"b", "4242424242424242")
    assert fp != cards.fingerprint(b"a", "5555555555554444")


@pytest.mark.parametrize(
    ("alias", "number", "three_ds"),
    [("pm_card_authenticationRequiredOnSetup", "4000002500003155", "unless_set_up"),
     ("pm_card_authenticationRequired", "4000002760003184", "required"),
     ("pm_card_authenticationRequiredSetupForOffSession", "4000003800000446", "on_session"),
     ("pm_card_authenticationRequiredChargeDeclinedInsufficientFunds", "4000008260003178",
      "unless_set_up"),
     ("pm_card_threeDSecure2Required", "4000000000003220", "required"),
     ("tok_threeDSecureRequiredChargeDeclined", "4000008400001629", "required"),
     ("pm_card_threeDSecureOptional", "4000000000003055", "optional"),
     ("pm_card_amex", "378282246310005", "not_supported"),
     ("pm_card_visa", "4242424242424242", "unenrolled")],
)
def test_3ds_aliases(alias: str, number: str, three_ds: str) -> None:
    card = cards.card_for_alias(alias)
    assert card is not None and card.number == number and card.outcome.three_ds == three_ds
