"""The test-mode server's error tree, rendered by one middleware into Stripe's envelope.

    StripeError                       {"error": {...}} with null fields omitted
    ├── InvalidRequestError           400 invalid_request_error (parameter and state errors)
    │   ├── ResourceMissing           404 (id in the path) / 400 (id in a parameter)
    │   └── UnrecognizedURL           404
    ├── AuthenticationError           401 invalid_request_error (no key, bad key, live key)
    ├── PermissionError_              403 invalid_request_error (publishable key)
    ├── CardError                     402 card_error; *committed*: the decline is a result
    ├── IdempotencyError              400 idempotency_error
    ├── IdempotencyKeyInUse           409 invalid_request_error
    ├── RateLimitError                429 invalid_request_error
    └── ApiError                      500 api_error (never raised on purpose)

Stripe documents the envelope and statuses in docs.stripe.com/api/errors and error-low-level;
the stripe SDK notes "the API will omit attributes in error objects when they have a null value".
"""

from __future__ import annotations

from typing import Any

DOC_URL = "https://stripe.com/docs/error-codes/"


class StripeError(Exception):
    status = 500
    type = "api_error"
    # Whether an Idempotency-Key stores this outcome: Stripe saves results "only after the
    # execution of an endpoint begins. If incoming parameters fail validation ... we don't
    # save" (docs.stripe.com/api/idempotent_requests).
    stored = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        decline_code: str | None = None,
        extra: dict[str, Any] | None = None,
        status: int | None = None,
        stored: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param
        self.decline_code = decline_code
        self.extra = extra or {}
        if status is not None:
            self.status = status
        if stored is not None:
            self.stored = stored

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code:
            err["code"] = self.code
            err["doc_url"] = DOC_URL + self.code.replace("_", "-")
        if self.decline_code:
            err["decline_code"] = self.decline_code
        if self.param:
            err["param"] = self.param
        err.update({k: v for k, v in self.extra.items() if v is not None})
        return {"error": err}


class InvalidRequestError(StripeError):
    status = 400
    type = "invalid_request_error"


class ResourceMissing(InvalidRequestError):
    def __init__(self, kind: str, ident: str, *, param: str | None = None) -> None:
        # Stripe: "No such customer: 'cus_…'" (404 by id in the URL, 400 naming the parameter).
        super().__init__(
            f"No such {kind}: '{ident}'",
            code="resource_missing",
            param=param,
            status=400 if param else 404,
        )


class UnrecognizedURL(InvalidRequestError):
    status = 404

    def __init__(self, method: str, path: str) -> None:
        hint = ""
        if path.endswith("/"):
            hint = (
                " If you are trying to list objects, remove the trailing slash. If you are trying"
                " to retrieve an object, make sure you passed a valid (non-empty) identifier in"
                " your code."
            )
        super().__init__(
            f"Unrecognized request URL ({method}: {path}).{hint} Please see"
            " https://stripe.com/docs or we can help at https://support.stripe.com/."
        )


class AuthenticationError(StripeError):
    status = 401
    type = "invalid_request_error"


class PermissionError_(StripeError):
    status = 403
    type = "invalid_request_error"


class CardError(StripeError):
    status = 402
    type = "card_error"
    stored = True


class IdempotencyError(StripeError):
    status = 400
    type = "idempotency_error"


class IdempotencyKeyInUse(StripeError):
    status = 409
    type = "invalid_request_error"


class RateLimitError(StripeError):
    status = 429
    type = "invalid_request_error"


class ApiError(StripeError):
    status = 500
    type = "api_error"
