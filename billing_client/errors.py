"""The billing client's one error tree, rendered by one middleware in Stripe's envelope.

::

    BillingError                      status  type
    ├── InvalidRequest                400     invalid_request_error   (param names the field)
    │   └── PaymentRefused            400/402 (AMCI's or our own end-user refusal, + transaction)
    ├── Unauthenticated               401     invalid_request_error   (no valid API token)
    ├── CardError                     402     card_error              (local card checks)
    ├── NotFound                      404     invalid_request_error   resource_missing
    ├── Conflict                      409     invalid_request_error
    ├── IdempotencyError              400     idempotency_error
    ├── IdempotencyInUse              409     invalid_request_error   idempotency_key_in_use
    ├── UnsupportedMediaType          415     invalid_request_error   (/api body not JSON)
    └── AmciUnavailable               502     api_error               (AMCI down / timed out)

Body: ``{"error": {"type", "code", "param", "message", ...}}`` with null fields omitted, the
shape Stripe uses (docs.stripe.com/api/errors). When an error concerns a recorded transaction the
transaction rides inside the error object, as Stripe puts ``payment_intent`` there.

Foreign exceptions are translated once, at the edge they cross: AMCI's answers in
``amci_client``, bad JSON in ``api/wire``, pydantic's validation errors in ``contract``;
anything else unexpected becomes a generic 500 whose message says nothing about the request.
"""

from __future__ import annotations

from typing import Any


class BillingError(Exception):
    status = 400
    type = "invalid_request_error"
    code: str | None = None
    # Extra response headers (``WWW-Authenticate`` on a 401).
    headers: dict[str, str] | None = None

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        status: int | None = None,
        type_: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        if type_ is not None:
            self.type = type_
        self.param = param
        self.extra = dict(extra or {})

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "type": self.type,
            "code": self.code,
            "param": self.param,
            "message": self.message,
        }
        error.update(self.extra)
        return {"error": {k: v for k, v in error.items() if v is not None}}


class InvalidRequest(BillingError):
    code = "parameter_invalid"


class PaymentRefused(InvalidRequest):
    """A recorded transaction that did not go through; ``extra['transaction']`` shows it."""


class CardError(BillingError):
    status = 402
    type = "card_error"


class NotFound(BillingError):
    status = 404
    code = "resource_missing"


class Conflict(BillingError):
    status = 409
    code = "conflict"


class IdempotencyError(BillingError):
    type = "idempotency_error"
    code = "idempotency_key_reused"


class IdempotencyInUse(BillingError):
    status = 409
    code = "idempotency_key_in_use"


class Unauthenticated(BillingError):
    """One answer for a missing, malformed, unknown or revoked token: nothing to guess from."""

    status = 401
    code = "authentication_required"
    # RFC 6750 §3: a 401 for a bearer-token resource names the scheme.
    headers = {"WWW-Authenticate": 'Bearer realm="billing-client"'}  # noqa: RUF012 - constant

    def __init__(self) -> None:
        super().__init__(
            "A valid API token is required: send it as 'Authorization: Bearer <token>' "
            "(create one with: billing-client create-token --name NAME)."
        )


class UnsupportedMediaType(BillingError):
    status = 415
    code = "unsupported_media_type"


class AmciUnavailable(BillingError):
    status = 502
    type = "api_error"
    code = "amci_unavailable"


def invalid(param: str, message: str) -> InvalidRequest:
    return InvalidRequest(message, code="parameter_invalid", param=param)


class StorageUnavailable(BillingError):
    """The shared store (PostgreSQL) can't be reached: nothing was done; retry."""

    status = 503
    type = "api_error"
    code = "storage_unavailable"

    def __init__(self) -> None:
        super().__init__("The billing client's database is unreachable; retry in a moment.")
