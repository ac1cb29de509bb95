"""AMCI's one error tree, rendered in Stripe's envelope by one middleware.

    AmciError(status, type, code, message, param=, decline_code=, payment=)
    ├── AuthError              401/403 invalid_request_error  credentials_missing, login_invalid,
    │                                                          secret_key_required, api_key_unknown,
    │                                                          subscription_inactive,
    │                                                          integration_not_activated
    ├── InvalidRequest         400 invalid_request_error      parameter_invalid/missing/unknown,
    │                                                          invalid_currency,
    │                                                          amount_*, card_brand_not_enabled,
    │                                                          email_required, void_not_supported
    │   └── PolicyRefusal      400 (a Stripe limit applied before the network; counted by reason)
    ├── CardInvalid            402 card_error                 incorrect_number, invalid_expiry_*,
    │                                                          expired_card, invalid_cvc
    ├── AuthenticationRequired 402 card_error                 authentication_required (+ payment)
    ├── NotFound               404 invalid_request_error      resource_missing
    ├── IdempotencyError       400 idempotency_error          idempotency_key_reused
    │                          409 invalid_request_error      idempotency_key_in_use
    ├── RateLimited            429 invalid_request_error      rate_limit (AMCI's own limiter)
    ├── UpstreamError          Stripe's status/type/code/decline_code/message, relayed as is
    ├── UpstreamUnavailable    502/503 api_error              upstream_unavailable
    └── StoreUnavailable       503 api_error                  store_unavailable (PostgreSQL
                                                              unreachable)

Anything else escaping a handler is a bug: the middleware answers 500 ``api_error`` without
detail (never the exception text, which could quote input) and logs the traceback.

Pure: no aiohttp here; ``middleware.py``-style rendering lives in ``app.py``.
Envelope: docs.stripe.com/api/errors — null fields are omitted, as Stripe does.
"""

from __future__ import annotations

from typing import Any


class AmciError(Exception):
    """An error with everything needed to answer in Stripe's envelope."""

    def __init__(
        self,
        status: int,
        type_: str,
        code: str,
        message: str,
        *,
        param: str | None = None,
        decline_code: str | None = None,
        payment: str | None = None,
        advice_code: str | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.type = type_
        self.code = code
        self.message = message
        self.param = param
        self.decline_code = decline_code
        self.payment = payment
        self.advice_code = advice_code
        # Whether the billing system may retry on its own (``amci.declines``); None where the
        # question doesn't arise (a malformed request is never retried as is).
        self.retryable = retryable

    def envelope(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.type, "code": self.code}
        if self.decline_code is not None:
            body["decline_code"] = self.decline_code
        if self.advice_code is not None:
            body["advice_code"] = self.advice_code
        if self.retryable is not None:
            body["retryable"] = self.retryable
        if self.param is not None:
            body["param"] = self.param
        body["message"] = self.message
        if self.payment is not None:
            body["payment"] = self.payment
        return {"error": body}

    @property
    def cacheable(self) -> bool:
        """Whether an idempotent retry should get this same answer back.

        Stripe caches results "only after the execution of an endpoint begins"
        (docs.stripe.com/api/idempotent_requests): upstream answers are cached, our own
        validation and transient failures are not.
        """
        return False


class AuthError(AmciError):
    def __init__(self, status: int, code: str, message: str, *, param: str | None = None) -> None:
        super().__init__(status, "invalid_request_error", code, message, param=param)


class InvalidRequest(AmciError):
    def __init__(self, code: str, message: str, *, param: str | None = None) -> None:
        super().__init__(400, "invalid_request_error", code, message, param=param)


class PolicyRefusal(InvalidRequest):
    """A Stripe limit AMCI applies before any network call (counted by ``code``)."""


class CardInvalid(AmciError):
    """Card data AMCI refuses before any Stripe call: the customer must correct it."""

    def __init__(self, code: str, message: str, *, param: str) -> None:
        super().__init__(402, "card_error", code, message, param=param, retryable=False)


class NotFound(AmciError):
    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(404, "invalid_request_error", "resource_missing", message, param=param)


class IdempotencyError(AmciError):
    pass


def idempotency_key_reused(key_hint: str) -> IdempotencyError:
    # Stripe's wording (stripe/stripe-ruby#503), without echoing the caller's key.
    return IdempotencyError(
        400,
        "idempotency_error",
        "idempotency_key_reused",
        "Keys for idempotent requests can only be used with the same parameters they were first "
        f"used with. Try using a key other than {key_hint} if you meant to execute a different "
        "request.",
    )


def idempotency_key_in_use() -> IdempotencyError:
    return IdempotencyError(
        409,
        "invalid_request_error",
        "idempotency_key_in_use",
        "There is currently another in-progress request using this Idempotency-Key. "
        "Retry later.",
    )


class RateLimited(AmciError):
    def __init__(self) -> None:
        super().__init__(
            429,
            "invalid_request_error",
            "rate_limit",
            "Too many requests for this API key: AMCI keeps each key under Stripe's rate limit. "
            "Retry shortly.",
            retryable=True,
        )


class UpstreamError(AmciError):
    """Stripe answered with an error: relayed with its status, type, code and message."""

    @property
    def cacheable(self) -> bool:
        # A 5xx is indeterminate (docs.stripe.com/error-low-level): let a retry try again, the
        # derived upstream key makes it safe. Everything else is Stripe's final word.
        return self.status < 500 and self.status not in (409, 429)


class UpstreamUnavailable(AmciError):
    def __init__(self, status: int = 502, message: str | None = None) -> None:
        super().__init__(
            status,
            "api_error",
            "upstream_unavailable",
            message or "Stripe could not be reached. Retry with the same Idempotency-Key.",
            retryable=True,
        )


AUTHENTICATION_MESSAGE = "Additional authentication is required to complete this payment."


class AuthenticationRequired(AmciError):
    """The payment (or card) needs the customer to authenticate (3D Secure) and the request
    gave no ``return_url`` to send them back to. Stripe's own off-session refusal uses the same
    code (docs.stripe.com/declines/codes, ``authentication_required``). The payment exists: the
    billing system sends the customer a link from ``POST /v1/stripe/payments/{id}/authenticate``.
    Cached for idempotent retries: the Stripe object was created."""

    def __init__(self, *, payment: str | None, message: str = AUTHENTICATION_MESSAGE) -> None:
        super().__init__(402, "card_error", "authentication_required", message,
                         payment=payment, retryable=False)

    @property
    def cacheable(self) -> bool:
        return True


class StoreUnavailable(AmciError):
    """AMCI's shared store (PostgreSQL) can't be reached: nothing was decided, retry."""

    def __init__(self) -> None:
        super().__init__(
            503,
            "api_error",
            "store_unavailable",
            "AMCI's store could not be reached. Retry with the same Idempotency-Key.",
            retryable=True,
        )


def parameter_missing(param: str) -> InvalidRequest:
    return InvalidRequest("parameter_missing", f"Missing required param: {param}.", param=param)


def parameter_invalid(param: str, message: str) -> InvalidRequest:
    return InvalidRequest("parameter_invalid", message, param=param)


def void_not_supported() -> InvalidRequest:
    # The spec: "The only transaction type that's unavailable is Void because in Stripe, all the
    # authorized transactions expire in 7 days."
    return InvalidRequest(
        "void_not_supported",
        "Void is not available with Stripe: an authorization cannot be voided. An uncaptured "
        "authorization expires, usually after 7 days, at the payment's capture_before time; "
        "Stripe then releases the funds and the payment becomes canceled.",
    )
