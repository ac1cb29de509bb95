"""How long an uncaptured card authorization stays capturable (``capture_before``).

docs.stripe.com/payments/place-a-hold-on-a-payment-method, card-not-present: Visa 5 days for
merchant-initiated transactions ("the exact window is 4 days and 18 hours"), 7 days for
customer-initiated ones; Mastercard, American Express and Discover 7 days for both. "Japan-based
accounts can hold JPY payments from Visa, Mastercard, JCB, Diners Club and Discover for up to 30
days." Other brands: "Usually, an authorization for an online card payment is valid for 7 days."
Pure rules (no I/O).
"""

from __future__ import annotations

DAY = 86_400
VISA_MERCHANT_INITIATED = 4 * DAY + 18 * 3600
JAPAN_JPY = 30 * DAY
JAPAN_JPY_BRANDS = frozenset({"visa", "mastercard", "jcb", "diners", "discover"})


def window(brand: str, *, merchant_initiated: bool, currency: str, settlement: str,
           default: int = 7 * DAY) -> int:
    """Seconds from authorization to ``capture_before``. ``merchant_initiated`` is an
    off-session payment; a JPY settlement currency stands for a Japan-based account
    (UNVERIFIED: Stripe decides by the account's country). ``default`` is the usual 7 days
    (the ``authorization_validity_seconds`` setting)."""
    if settlement.lower() == "jpy" and currency.lower() == "jpy" and brand in JAPAN_JPY_BRANDS:
        return JAPAN_JPY
    if brand == "visa" and merchant_initiated:
        return min(VISA_MERCHANT_INITIATED, default)
    return default
