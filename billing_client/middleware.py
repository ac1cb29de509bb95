"""The one middleware: request id, access log, metrics, and every error rendered in Stripe's
envelope (``errors.BillingError.body``); anything unexpected becomes a generic 500 whose message
says nothing about the request."""

from __future__ import annotations

import logging
import re
import secrets
import time

from aiohttp import web

from billing_client import keys
from billing_client.api.routes import Handler
from billing_client.api.wire import json_response
from billing_client.errors import BillingError, InvalidRequest, NotFound
from billing_client.logs import log, request_id_var

logger = logging.getLogger("billing_client")
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def _route(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


def _check_headers(request: web.Request) -> None:
    """Header values must be ASCII text (RFC 9110 §5.5: anything else is opaque bytes, which
    aiohttp hands over as lone surrogates that can be neither stored nor sent on)."""
    for name, value in request.headers.items():
        if not value.isascii():
            param = name if name.isascii() else None
            shown = f"The {name} header" if param else "A header"
            raise InvalidRequest(f"{shown} must be ASCII text.", param=param)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Request id, access log, metrics, and every error rendered in Stripe's envelope."""
    incoming = request.headers.get("X-Request-Id", "")
    request_id = incoming if _REQUEST_ID_RE.match(incoming) else f"req_{secrets.token_hex(8)}"
    token = request_id_var.set(request_id)
    started = time.perf_counter()
    try:
        try:
            _check_headers(request)
            response = await handler(request)
        except BillingError as exc:
            response = json_response(exc.body(), exc.status, exc.headers)
            log(
                logger,
                "request_refused",
                level=logging.INFO,
                code=exc.code,
                error_type=exc.type,
                param=exc.param,
                status=exc.status,
            )
        except web.HTTPException as exc:
            if exc.status == 405:
                err: BillingError = InvalidRequest(
                    f"{request.method} is not allowed on {_route(request)}.",
                    code="method_not_allowed",
                    status=405,
                )
            elif exc.status == 404:
                err = NotFound(
                    f"Unrecognized request URL ({request.method} {request.path}).",
                    code="resource_missing",
                )
            elif exc.status == 413:
                err = InvalidRequest("The request body is too large.", status=413)
            else:
                err = InvalidRequest(exc.reason or "Bad request.", status=exc.status)
            response = json_response(err.body(), err.status)
        except Exception:
            logger.exception(
                "unhandled_error", extra={"billing_fields": {"route": _route(request)}}
            )
            response = json_response(
                {
                    "error": {
                        "type": "api_error",
                        "code": "internal_error",
                        "message": "Something went wrong on our side; the request was not "
                        "completed. Please try again.",
                    }
                },
                500,
            )
        response.headers["X-Request-Id"] = request_id
        route = _route(request)
        request.app[keys.METRICS].http_requests.labels(
            route=route, method=request.method, status=str(response.status)
        ).inc()
        log(
            logger,
            "request",
            method=request.method,
            route=route,
            status=response.status,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
        )
        return response
    finally:
        request_id_var.reset(token)
