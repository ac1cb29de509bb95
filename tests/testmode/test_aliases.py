"""Legacy test-card aliases (``pm_card_chargeDeclined``, ``tok_chargeDeclined`` …) resolve like
the current names, through the SDK as an integration sends them."""

from __future__ import annotations

import pytest
import stripe

from amci.testmode import cards

# (legacy name, the current name it stands for)
LEGACY = [
    ("chargeDeclined", "visa_chargeDeclined"),
    ("chargeDeclinedInsufficientFunds", "visa_chargeDeclinedInsufficientFunds"),
    ("chargeDeclinedLostCard", "visa_chargeDeclinedLostCard"),
    ("chargeDeclinedStolenCard", "visa_chargeDeclinedStolenCard"),
    ("chargeDeclinedVelocityLimitExceeded", "visa_chargeDeclinedVelocityLimitExceeded"),
    ("chargeDeclinedFraudulent", "radarBlock"),
    ("visa_chargeDeclinedExpiredCard", "chargeDeclinedExpiredCard"),
    ("visa_chargeDeclinedIncorrectCvc", "chargeDeclinedIncorrectCvc"),
    ("visa_chargeDeclinedProcessingError", "chargeDeclinedProcessingError"),
    ("visa_chargeCustomerFail", "chargeCustomerFail"),
    ("threeDSecureRequired", "threeDSecure2Required"),
]


@pytest.mark.parametrize(("legacy", "current"), LEGACY)
@pytest.mark.parametrize("prefix", ["pm_card_", "tok_"])
def test_legacy_alias_is_the_current_card(prefix: str, legacy: str, current: str) -> None:
    assert cards.card_for_alias(prefix + legacy) is cards.card_for_alias(prefix + current)
    assert cards.card_for_alias(prefix + current) is not None


def test_check_failure_aliases() -> None:
    cvc = cards.card_for_alias("pm_card_cvcCheckFail")
    zip_ = cards.card_for_alias("tok_avsZipFail")
    assert cvc is not None and cvc.cvc_check == "fail"
    assert zip_ is not None and zip_.postal_code_check == "fail"


@pytest.mark.parametrize(
    ("how", "decline_code"),
    [({"payment_method": "pm_card_chargeDeclined"}, "generic_decline"),
     ({"payment_method": "pm_card_visa_chargeDeclinedInsufficientFunds"}, "insufficient_funds"),
     ({"payment_method_data": {"type": "card", "card": {"token": "tok_chargeDeclined"}}},
      "generic_decline"),
     ({"payment_method_data": {"type": "card", "card": {"token": "tok_chargeDeclinedLostCard"}}},
      "lost_card")],
)
async def test_legacy_decline_aliases_decline_at_confirm(
    client: stripe.StripeClient, how: dict[str, object], decline_code: str,
) -> None:
    with pytest.raises(stripe.CardError) as exc:
        await client.v1.payment_intents.create_async(
            {"amount": 1500, "currency": "usd", "confirm": True, **how})  # type: ignore[typeddict-item]
    assert exc.value.code == "card_declined"
    assert exc.value.error is not None and exc.value.error.decline_code == decline_code
    assert exc.value.error.payment_intent is not None
    assert exc.value.error.payment_intent.status == "requires_payment_method"


async def test_tok_visa_and_legacy_names_pay(client: stripe.StripeClient) -> None:
    pi = await client.v1.payment_intents.create_async(
        {"amount": 1500, "currency": "usd", "confirm": True,
         "payment_method_data": {"type": "card", "card": {"token": "tok_visa"}}})
    assert pi.status == "succeeded"
    pm = await client.v1.payment_methods.retrieve_async("pm_card_cvcCheckFail")
    assert pm.card is not None and pm.card.last4 == "0101"
    assert pm.card.checks is not None and pm.card.checks.cvc_check == "fail"
