"""3D Secure as Stripe's test cards behave: when a card asks for authentication, and what follows.

Pure rules (data and functions, no I/O). Sources: docs.stripe.com/testing#regulatory-cards (the
3DS test cards), docs.stripe.com/payments/save-and-reuse (off-session payments needing
authentication fail with 402 ``authentication_required``; cards set up first do not),
docs.stripe.com/payments/3d-secure/authentication-flow (the test authentication page, failure
returns the intent to ``requires_payment_method``),
docs.stripe.com/payments/without-card-authentication (``error_on_requires_action``).
"""

from __future__ import annotations

import uuid
from typing import Any

# How a card answers 3D Secure (``cards.Outcome.three_ds``).
REQUIRED = "required"  # authenticate every payment, set up or not (4000002760003184)
UNLESS_SET_UP = "unless_set_up"  # authenticate unless set up for off-session use (…3155)
ON_SESSION = "on_session"  # authenticate on-session; off-session as if set up (…0446)
OPTIONAL = "optional"  # supported; a challenge only when requested (4000000000003055)
UNENROLLED = "unenrolled"  # supported but not enrolled (4242424242424242, ordinary cards)
NOT_SUPPORTED = "not_supported"  # 3DS not supported (378282246310005)
FRICTIONLESS = "frictionless"  # authenticated without a challenge (4000000032200000)
LOOKUP_ERROR = "lookup_error"  # the 3DS lookup fails, the charge is declined (…1280)
ATTEMPT_ERROR = "attempt_error"  # supported, but the 3DS attempt errors (4000000000003097)
MODES = frozenset({REQUIRED, UNLESS_SET_UP, ON_SESSION, OPTIONAL, UNENROLLED, NOT_SUPPORTED,
                   FRICTIONLESS, LOOKUP_ERROR, ATTEMPT_ERROR})

# What a confirmation does next (``decide``).
CHALLENGE = "challenge"  # requires_action: the customer authenticates on the test page
PROCEED = "proceed"  # no 3DS on this payment: attempt the charge
PROCEED_FRICTIONLESS = "proceed_frictionless"  # authenticated without a challenge
PROCEED_ATTEMPTED = "proceed_attempted"  # 3DS requested on an unenrolled card
PROCEED_ERRORED = "proceed_errored"  # 3DS requested, the attempt errored; charge proceeds
DECLINE_AUTHENTICATION_REQUIRED = "decline_authentication_required"  # off-session 402
DECLINE_LOOKUP = "decline_lookup"  # the lookup failed: card_declined

REQUESTED = frozenset({"any", "challenge"})  # request_three_d_secure values that ask for 3DS


def decide(mode: str, *, off_session: bool, set_up: bool, requested: str | None) -> str:
    """The next step of a payment with a card of ``mode``.

    ``set_up``: the PaymentMethod was saved for off-session use (a SetupIntent with
    ``usage=off_session`` or a payment with ``setup_future_usage=off_session`` succeeded).
    ``requested``: the intent's ``payment_method_options.card.request_three_d_secure``.
    """
    asked = requested in REQUESTED
    if mode == LOOKUP_ERROR:
        return DECLINE_LOOKUP
    if mode == FRICTIONLESS:
        return PROCEED_FRICTIONLESS
    if mode == REQUIRED:
        # "requires authentication on all transactions, regardless of how the card is set up"
        needs = True
    elif mode == UNLESS_SET_UP:
        # "if you set up this card … no further authentication is needed" (subsequent payments,
        # on- and off-session).
        needs = not set_up
    elif mode == ON_SESSION:
        # "all off-session payments will succeed as if the card has been previously set up"
        needs = not off_session
    elif mode == OPTIONAL:
        needs = asked
    else:
        needs = False
    if needs:
        return DECLINE_AUTHENTICATION_REQUIRED if off_session else CHALLENGE
    if asked and not off_session:
        if mode == UNENROLLED:
            # "Other Stripe testing cards might still trigger 3DS, but we return
            # attempt_acknowledged"; that no challenge is shown for them is UNVERIFIED.
            return PROCEED_ATTEMPTED
        if mode == ATTEMPT_ERROR:
            return PROCEED_ERRORED  # UNVERIFIED: the charge proceeds without authentication
    return PROCEED


def decide_setup(mode: str, *, requested: str | None) -> str:
    """The next step of a SetupIntent confirmation (the customer is present). Cards that need
    authentication on payments need it during setup too: "3155 and 3184 need auth"
    (docs.stripe.com/payments/save-and-reuse, test table); for 0446 UNVERIFIED."""
    if mode in (REQUIRED, UNLESS_SET_UP, ON_SESSION):
        return CHALLENGE
    if mode == OPTIONAL and requested in REQUESTED:
        return CHALLENGE
    if mode == LOOKUP_ERROR:
        return DECLINE_LOOKUP
    if mode == FRICTIONLESS:
        return PROCEED_FRICTIONLESS
    return PROCEED


def details(step: str) -> dict[str, Any] | None:
    """``payment_method_details.card.three_d_secure`` of a charge or setup attempt after ``step``
    (``CHALLENGE`` = completed challenge); None when 3DS was not used."""
    flow, result = {
        CHALLENGE: ("challenge", "authenticated"),
        PROCEED_FRICTIONLESS: ("frictionless", "authenticated"),
        PROCEED_ATTEMPTED: (None, "attempt_acknowledged"),
        PROCEED_ERRORED: (None, "processing_error"),
    }.get(step, (None, None))
    if result is None:
        return None
    authenticated = result == "authenticated"
    return {
        "authentication_flow": flow,
        # UNVERIFIED: ECI 05 (Visa, authenticated) / 06 (attempted); null otherwise.
        "electronic_commerce_indicator": "05" if authenticated else (
            "06" if result == "attempt_acknowledged" else None),
        "exemption_indicator": None,
        "result": result, "result_reason": None,
        "transaction_id": str(uuid.uuid4()) if authenticated else None,
        "version": "2.2.0",
    }


# --- the errors Stripe returns --------------------------------------------------------------------

AUTHENTICATION_REQUIRED_MESSAGE = (
    "Your card was declined. This transaction requires authentication.")
# docs.stripe.com/payments/without-card-authentication; the 2026 docs name the code
# requires_action_not_handled, which current API versions return is UNVERIFIED.
NOT_HANDLED_DECLINE_CODE = "authentication_not_handled"
NOT_HANDLED_MESSAGE = (
    "This payment required an authentication action to complete, but `error_on_requires_action`"
    " was set. When you're ready, you can upgrade your integration to handle actions at"
    " https://stripe.com/docs/payments/payment-intents/upgrade-to-handle-actions.")
# A failed challenge: an invalid_request_error, not a card_error (observed in Stripe's SDK
# fixtures; docs.stripe.com/error-codes#payment-intent-authentication-failure).
PI_AUTHENTICATION_FAILURE = "payment_intent_authentication_failure"
PI_AUTHENTICATION_FAILURE_MESSAGE = (
    "The provided PaymentMethod has failed authentication. You can provide payment_method_data"
    " or a new PaymentMethod to attempt to fulfill this PaymentIntent again.")
SI_AUTHENTICATION_FAILURE = "setup_intent_authentication_failure"
SI_AUTHENTICATION_FAILURE_MESSAGE = (
    "The latest attempt to set up the payment method has failed because authentication failed.")
