"""Settings of the test-mode server: one frozen pydantic model, every default usable as is;
unknown keys are errors (``extra="forbid"``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr


class TestmodeSettings(BaseModel):
    __test__ = False  # not a pytest test class despite the name

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    # SQLite file holding every account's objects; None (or ":memory:") keeps them in memory.
    db_path: StrictStr | None = None
    # The simulated account's settlement currency: Stripe's minimum charge is per settlement
    # currency (docs.stripe.com/currencies, "Minimum charge amount by currency").
    settlement_currency: StrictStr = "usd"
    # Stripe's sandbox limit is 25 requests/s (docs.stripe.com/rate-limits); None switches it off.
    rate_limit_per_second: Annotated[float, Field(gt=0)] | None = 25.0
    # "keys expire out of the system after 24 hours" (docs.stripe.com/error-low-level).
    idempotency_ttl_seconds: Annotated[StrictInt, Field(gt=0)] = 86400
    # "Usually, an authorization for an online card payment is valid for 7 days."
    # (docs.stripe.com/payments/place-a-hold-on-a-payment-method)
    authorization_validity_seconds: Annotated[StrictInt, Field(gt=0)] = 7 * 86400
    # YAML FX table (amci.money.load_fx shape); None uses the packaged one.
    fx_rates_file: StrictStr | None = None
    # Base URL clients reach this server at (e.g. behind a proxy or in compose), used to build
    # the 3D Secure page URLs in ``next_action``; None uses the address each request arrived on.
    public_url: StrictStr | None = None
    # How often the sweeper runs due timers and webhook deliveries in wall time.
    sweep_interval_seconds: Annotated[float, Field(gt=0)] = 1.0
    # Webhook delivery: the receiver must answer within this (Stripe's timeout is not
    # published; UNVERIFIED), and failed deliveries are retried after these delays (seconds,
    # clock time). Stripe: test-mode deliveries are retried "three times over the course of a
    # few hours"; the intervals are not published (UNVERIFIED): 10 minutes, 1 hour, 3 hours.
    webhook_timeout_seconds: Annotated[float, Field(gt=0)] = 10.0
    webhook_retry_schedule_seconds: Annotated[
        tuple[Annotated[StrictInt, Field(gt=0)], ...], Field(strict=False, max_length=20)] = (
        600, 3600, 10800)
    # Deliveries in flight at once (all endpoints) while the API is idle, and while API
    # requests are being served: the API goes first, deliveries catch up when it is quiet.
    webhook_concurrency: Annotated[StrictInt, Field(gt=0, le=256)] = 32
    webhook_concurrency_under_load: Annotated[StrictInt, Field(gt=0, le=256)] = 1
    # Time-driven test behaviour (Stripe does these "shortly after"; delays UNVERIFIED).
    refund_failure_delay_seconds: Annotated[StrictInt, Field(ge=0)] = 60
    dispute_open_delay_seconds: Annotated[StrictInt, Field(ge=0)] = 0
    dispute_decision_delay_seconds: Annotated[StrictInt, Field(ge=0)] = 60
    # Soak tests: this fraction of API requests (0 = none) fail with a 500 before any change
    # (as the api_error fault), drawn from a generator seeded with fault_seed.
    fault_error_rate: Annotated[float, Field(ge=0, le=1)] = 0.0
    fault_seed: StrictInt = 0
    # A client must finish sending its request headers within this many seconds.
    request_header_timeout_seconds: Annotated[float, Field(gt=0)] = 10.0
