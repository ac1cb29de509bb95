"""Settings of the test-mode server: one frozen dataclass, every default usable as is."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TestmodeSettings:
    __test__ = False  # not a pytest test class despite the name

    # SQLite file holding every account's objects; None (or ":memory:") keeps them in memory.
    db_path: str | None = None
    # The simulated account's settlement currency: Stripe's minimum charge is per settlement
    # currency (docs.stripe.com/currencies, "Minimum charge amount by currency").
    settlement_currency: str = "usd"
    # Stripe's sandbox limit is 25 requests/s (docs.stripe.com/rate-limits); None switches it off.
    rate_limit_per_second: float | None = 25.0
    # "keys expire out of the system after 24 hours" (docs.stripe.com/error-low-level).
    idempotency_ttl_seconds: int = 86400
    # "Usually, an authorization for an online card payment is valid for 7 days."
    # (docs.stripe.com/payments/place-a-hold-on-a-payment-method)
    authorization_validity_seconds: int = 7 * 86400
    # YAML FX table (amci.money.load_fx shape); None uses the packaged one.
    fx_rates_file: str | None = None
    # A connection must deliver each request's headers this long after it opens or after the
    # previous response; then it is closed (slow clients; amci/serving.py).
    request_header_timeout_seconds: float = 10.0
