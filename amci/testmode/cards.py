"""Cards as data: Stripe's documented test cards and their aliases (brand ranges and Luhn come
from ``amci.cards``, shared with the proxy).

Sources: docs.stripe.com/testing (test numbers, ``pm_card_*`` / ``tok_*`` aliases, declines).
Nothing here stores or returns a card number: callers keep only last4, brand and a fingerprint.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

# Brand ranges and Luhn are shared with the proxy's pre-checks: one table for both.
from amci.cards import brand_of as brand_of
from amci.cards import luhn_ok as luhn_ok
from amci.testmode import three_d_secure as tds


def fingerprint(secret: bytes, number: str) -> str:
    """Stripe's ``card.fingerprint`` is stable per card number within an account; an HMAC keyed
    by a per-account secret gives that without the number being recoverable from the store."""
    digest = hmac.new(secret, number.encode(), hashlib.sha256).digest()
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    n = int.from_bytes(digest[:12], "big")
    out = []
    for _ in range(16):
        n, r = divmod(n, 62)
        out.append(alphabet[r])
    return "".join(out)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What confirming a payment with this card does (docs.stripe.com/testing): the charge's
    result (``kind``) once 3D Secure (``three_ds``, see ``amci.testmode.three_d_secure``) has been
    dealt with."""

    kind: str  # "succeed" | "decline"
    code: str | None = None
    decline_code: str | None = None
    message: str | None = None
    attachable: bool = True  # "You can't attach cards that simulate issuer declines to a Customer"
    three_ds: str = tds.UNENROLLED

    def to_internal(self) -> list[Any]:
        """The simulator state kept with a PaymentMethod (never the number)."""
        return [self.kind, self.code, self.decline_code, self.message, self.attachable,
                self.three_ds]

    @classmethod
    def from_internal(cls, v: list[Any]) -> Outcome:
        kind, code, decline_code, message, attachable, last = v
        if kind == "authenticate":  # stores written before 3DS cards had modes
            return cls("succeed", three_ds=tds.ON_SESSION if last else tds.REQUIRED)
        return cls(kind, code, decline_code, message, attachable,
                   last if isinstance(last, str) else tds.UNENROLLED)


SUCCEED = Outcome("succeed")

# Stripe's messages as observed in real test-mode responses (decline codes:
# docs.stripe.com/declines/codes); lost/stolen wording is UNVERIFIED — Stripe tells integrations
# to present those as a generic decline.
_DECLINED = "Your card was declined."


def _decline(
    code: str, decline_code: str | None, message: str, *, attachable: bool = False,
    three_ds: str = tds.UNENROLLED,
) -> Outcome:
    return Outcome("decline", code, decline_code, message, attachable=attachable,
                   three_ds=three_ds)


def _3ds(mode: str) -> Outcome:
    return Outcome("succeed", three_ds=mode)


# Off-session payments needing authentication (docs.stripe.com/payments/save-and-reuse).
AUTHENTICATION_REQUIRED = _decline(
    "authentication_required", "authentication_required", tds.AUTHENTICATION_REQUIRED_MESSAGE)
# ``error_on_requires_action`` (docs.stripe.com/payments/without-card-authentication).
AUTHENTICATION_NOT_HANDLED = _decline(
    "authentication_required", tds.NOT_HANDLED_DECLINE_CODE, tds.NOT_HANDLED_MESSAGE)
# The 3DS lookup failed, the charge is declined (docs.stripe.com/testing#regulatory-cards).
LOOKUP_DECLINED = _decline("card_declined", "generic_decline", _DECLINED)


@dataclass(frozen=True, slots=True)
class TestCard:
    __test__ = False

    number: str
    alias: str | None = None  # ``pm_card_<alias>`` and ``tok_<alias>``
    funding: str = "credit"
    country: str = "US"
    outcome: Outcome = SUCCEED
    cvc_check: str | None = None  # forced check result when a CVC is given
    postal_code_check: str | None = None
    # What happens after a successful payment (amci.testmode.disputes, resources/refunds):
    # "refund_fail", or "dispute:<reason>:<case_type>".
    after: str | None = None


TEST_CARDS: tuple[TestCard, ...] = (
    # Success by brand
    TestCard("4242424242424242", "visa"),
    TestCard("4000056655665556", "visa_debit", funding="debit"),
    TestCard("5555555555554444", "mastercard"),
    TestCard("2223003122003222"),
    TestCard("5200828282828210", "mastercard_debit", funding="debit"),
    TestCard("5105105105105100", "mastercard_prepaid", funding="prepaid"),
    TestCard("378282246310005", "amex", outcome=_3ds(tds.NOT_SUPPORTED)),
    TestCard("371449635398431"),
    TestCard("6011111111111117", "discover"),
    TestCard("6011000990139424"),
    TestCard("6011981111111113", funding="debit"),
    TestCard("3056930009020004", "diners"),
    TestCard("36227206271667"),
    TestCard("6555900000604105"),
    TestCard("3566002020360505", "jcb", country="JP"),
    TestCard("6200000000000005", "unionpay", country="CN"),
    TestCard("6200000000000047", funding="debit", country="CN"),
    TestCard("6205500000000000004", country="CN"),
    # Declines (at confirm time; none of these can be attached)
    TestCard("4000000000000002", "visa_chargeDeclined",
             outcome=_decline("card_declined", "generic_decline", _DECLINED)),
    TestCard("4000000000009995", "visa_chargeDeclinedInsufficientFunds",
             outcome=_decline("card_declined", "insufficient_funds",
                              "Your card has insufficient funds.")),
    TestCard("4000000000009987", "visa_chargeDeclinedLostCard",
             outcome=_decline("card_declined", "lost_card", _DECLINED)),
    TestCard("4000000000009979", "visa_chargeDeclinedStolenCard",
             outcome=_decline("card_declined", "stolen_card", _DECLINED)),
    TestCard("4000000000000069", "chargeDeclinedExpiredCard",
             outcome=_decline("expired_card", None, "Your card has expired.")),
    TestCard("4000000000000127", "chargeDeclinedIncorrectCvc",
             outcome=_decline("incorrect_cvc", None, "Your card's security code is incorrect.")),
    TestCard("4000000000000119", "chargeDeclinedProcessingError",
             outcome=_decline("processing_error", None,
                              "An error occurred while processing your card. Try again in a"
                              " little bit.")),
    TestCard("4000000000006975", "visa_chargeDeclinedVelocityLimitExceeded",
             outcome=_decline("card_declined", "card_velocity_exceeded",
                              "Your card was declined for making repeated attempts too"
                              " frequently or exceeding its amount limit.")),
    # "Attaching this card to a Customer object succeeds, but attempts to charge the customer fail."
    TestCard("4000000000000341", "chargeCustomerFail",
             outcome=_decline("card_declined", "generic_decline", _DECLINED, attachable=True)),
    # Radar: always blocked (a Radar block, not an issuer decline, so it attaches)
    TestCard("4100000000000019", "radarBlock",
             outcome=_decline("card_declined", "fraudulent", _DECLINED, attachable=True)),
    # Checks that fail but do not block by default
    TestCard("4000000000000101", cvc_check="fail"),
    TestCard("4000000000000036", postal_code_check="fail"),
    TestCard("4000000000000077", "bypassPending"),
    TestCard("4000000000007726", "pendingRefund"),
    # "Charge succeeds but refunding a captured charge fails asynchronously with a
    # failure_reason of expired_or_canceled_card" (docs.stripe.com/testing, refunds).
    TestCard("4000000000005126", "refundFail", after="refund_fail"),
    # Disputes (docs.stripe.com/testing#disputes): the charge succeeds, then is disputed.
    TestCard("4000000000000259", "createDispute", after="dispute:fraudulent:chargeback"),
    TestCard("4000000000002685", "createDisputeProductNotReceived",
             after="dispute:product_not_received:chargeback"),
    TestCard("4000000000001976", "createDisputeInquiry", after="dispute:fraudulent:inquiry"),
    # 3D Secure (docs.stripe.com/testing#regulatory-cards; rules in three_d_secure.py). The
    # decline cards among them are declined only after authentication, so they attach
    # (UNVERIFIED for 1629 and 1280).
    TestCard("4000002500003155", "authenticationRequiredOnSetup", outcome=_3ds(tds.UNLESS_SET_UP)),
    TestCard("4000002760003184", "authenticationRequired", outcome=_3ds(tds.REQUIRED)),
    TestCard("4000003800000446", "authenticationRequiredSetupForOffSession",
             outcome=_3ds(tds.ON_SESSION)),
    TestCard("4000008260003178", "authenticationRequiredChargeDeclinedInsufficientFunds",
             outcome=_decline("card_declined", "insufficient_funds",
                              "Your card has insufficient funds.", attachable=True,
                              three_ds=tds.UNLESS_SET_UP)),
    TestCard("4000000000003220", "threeDSecure2Required", country="IE",
             outcome=_3ds(tds.REQUIRED)),
    TestCard("4000008400000027", outcome=_3ds(tds.REQUIRED)),
    # "3DS required" (UNVERIFIED off-session and after setup: treated as always required).
    TestCard("4000000000003063", outcome=_3ds(tds.REQUIRED)),
    TestCard("4000008400001629", "threeDSecureRequiredChargeDeclined",
             outcome=_decline("card_declined", "generic_decline", _DECLINED, attachable=True,
                              three_ds=tds.REQUIRED)),
    TestCard("4000008400001280", outcome=_decline("card_declined", "generic_decline", _DECLINED,
                                                  attachable=True, three_ds=tds.LOOKUP_ERROR)),
    TestCard("4000000000003055", "threeDSecureOptional", outcome=_3ds(tds.OPTIONAL)),
    TestCard("4000000000003097", outcome=_3ds(tds.ATTEMPT_ERROR)),
    TestCard("4000000032200000", outcome=_3ds(tds.FRICTIONLESS)),
    # "always authenticate, INR only": the currency restriction is not simulated.
    TestCard("4000053560000011", country="IN", outcome=_3ds(tds.REQUIRED)))

BY_NUMBER = MappingProxyType({c.number: c for c in TEST_CARDS})
BY_ALIAS = MappingProxyType({c.alias: c for c in TEST_CARDS if c.alias})
# Older names public integrations still send (docs.stripe.com/testing lists the current ones;
# these come from earlier versions of that page and from Stripe's own sample code). They resolve to
# the same card as the current name. UNVERIFIED where noted: documented only as a token, or only
# by the decline they produce, not by number.
EXTRA_ALIASES = MappingProxyType({
    "us": "4242424242424242",
    # Declines without the brand prefix (tok_chargeDeclined… in the token table).
    "chargeDeclined": "4000000000000002",
    "chargeDeclinedInsufficientFunds": "4000000000009995",
    "chargeDeclinedLostCard": "4000000000009987",
    "chargeDeclinedStolenCard": "4000000000009979",
    "chargeDeclinedVelocityLimitExceeded": "4000000000006975",
    # UNVERIFIED: the "fraudulent" decline card was the one Radar always blocks.
    "chargeDeclinedFraudulent": "4100000000000019",
    "visa_chargeDeclinedFraudulent": "4100000000000019",
    # Brand-prefixed forms of the unprefixed current names (UNVERIFIED: token-table only).
    "visa_chargeDeclinedExpiredCard": "4000000000000069",
    "visa_chargeDeclinedIncorrectCvc": "4000000000000127",
    "visa_chargeDeclinedProcessingError": "4000000000000119",
    "visa_chargeCustomerFail": "4000000000000341",
    # Check failures: "CVC check fails" and "postal code check fails".
    "cvcCheckFail": "4000000000000101",
    "avsZipFail": "4000000000000036",
    # 3D Secure 2 under its older name (UNVERIFIED).
    "threeDSecureRequired": "4000000000003220",
})


def card_for_alias(ident: str) -> TestCard | None:
    """``pm_card_visa`` / ``tok_visa`` → the test card, or None."""
    if ident.startswith("pm_card_"):
        name = ident[len("pm_card_"):]
    elif ident.startswith("tok_"):
        name = ident[len("tok_"):]
    else:
        return None
    card = BY_ALIAS.get(name)
    if card is None and name in EXTRA_ALIASES:
        card = BY_NUMBER[EXTRA_ALIASES[name]]
    return card


def card_for_number(number: str) -> TestCard:
    """The documented test card, or an ordinary card that succeeds."""
    return BY_NUMBER.get(number) or TestCard(number)
