"""HTTP handlers: parse → (service: policy → relay) → respond, plus the one error middleware.

The JSON API lives under ``/api``; ``/healthz``, ``/metrics`` and ``/openapi.json`` are service
routes. Money-moving POSTs accept an ``Idempotency-Key`` header (1–255 characters, as Stripe and
AMCI take it): the same request sent again returns the first result with
``Idempotent-Replayed: true`` — or, if the first attempt is still pending because AMCI was down,
completes it under the key it was given when it was created.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from billing_client import keys
from billing_client.errors import BillingError, InvalidRequest, NotFound, invalid
from billing_client.logs import log, request_id_var
from billing_client.service import Result

logger = logging.getLogger("billing_client")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def _json(
    body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response(body, status=status, headers=headers, dumps=_dumps)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _result(result: Result) -> web.Response:
    headers = {"Idempotent-Replayed": "true"} if result.replayed else None
    return _json(result.body, result.status, headers)


async def _body(request: web.Request, *, optional: bool = False) -> Any:
    if not request.can_read_body:
        if optional:
            return {}
        raise InvalidRequest("The request needs a JSON body.", code="parameter_missing")
    raw = await request.read()
    if optional and not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest(
            "The request body is not valid JSON.", code="parameter_invalid"
        ) from None


def _idempotency_key(request: web.Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not 1 <= len(key) <= 255:
        raise invalid("Idempotency-Key", "Idempotency-Key must be 1 to 255 characters long.")
    return key


# -- middleware ---------------------------------------------------------------------------------


def _route(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Request id, access log, metrics, and every error rendered in Stripe's envelope."""
    incoming = request.headers.get("X-Request-Id", "")
    request_id = incoming if _REQUEST_ID_RE.match(incoming) else f"req_{secrets.token_hex(8)}"
    request[keys.REQUEST_ID] = request_id
    token = request_id_var.set(request_id)
    started = time.perf_counter()
    try:
        try:
            response = await handler(request)
        except BillingError as exc:
            response = _json(exc.body(), exc.status, exc.headers)
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
            response = _json(err.body(), err.status)
        except Exception:
            logger.exception(
                "unhandled_error", extra={"billing_fields": {"route": _route(request)}}
            )
            response = _json(
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


# -- service routes -----------------------------------------------------------------------------


async def healthz(request: web.Request) -> web.Response:
    ok = await request.app[keys.STORAGE].ping()
    return _json(
        {"status": "ok" if ok else "degraded", "service": "billing-client"}, 200 if ok else 503
    )


async def metrics(request: web.Request) -> web.Response:
    body = request.app[keys.METRICS].render()
    return web.Response(
        body=body, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"}
    )


async def openapi(request: web.Request) -> web.Response:
    return web.Response(body=request.app[keys.OPENAPI], content_type="application/json")


# -- /api -----------------------------------------------------------------------------------------


async def create_payment_system(request: web.Request) -> web.Response:
    view = await request.app[keys.BILLING].create_payment_system(await _body(request))
    return _json(view, 201)


async def list_payment_systems(request: web.Request) -> web.Response:
    return _json(await request.app[keys.BILLING].list_payment_systems())


async def get_payment_system(request: web.Request) -> web.Response:
    return _json(await request.app[keys.BILLING].get_payment_system(request.match_info["id"]))


async def update_payment_system(request: web.Request) -> web.Response:
    billing = request.app[keys.BILLING]
    return _json(
        await billing.update_payment_system(request.match_info["id"], await _body(request))
    )


async def delete_payment_system(request: web.Request) -> web.Response:
    return _json(await request.app[keys.BILLING].delete_payment_system(request.match_info["id"]))


async def list_currencies(request: web.Request) -> web.Response:
    return _json(await request.app[keys.BILLING].list_currencies())


async def put_currency(request: web.Request) -> web.Response:
    billing = request.app[keys.BILLING]
    return _json(await billing.put_currency(request.match_info["code"], await _body(request)))


async def get_currency(request: web.Request) -> web.Response:
    return _json(await request.app[keys.BILLING].get_currency(request.match_info["code"]))


async def create_customer(request: web.Request) -> web.Response:
    return _json(await request.app[keys.BILLING].create_customer(await _body(request)), 201)


async def list_customers(request: web.Request) -> web.Response:
    return _json(await request.app[keys.BILLING].list_customers())


async def get_customer(request: web.Request) -> web.Response:
    return _json(await request.app[keys.BILLING].get_customer(request.match_info["id"]))


async def update_customer(request: web.Request) -> web.Response:
    billing = request.app[keys.BILLING]
    return _json(await billing.update_customer(request.match_info["id"], await _body(request)))


async def add_card(request: web.Request) -> web.Response:
    key = _idempotency_key(request)
    result = await request.app[keys.BILLING].add_card(
        request.match_info["id"], await _body(request), key
    )
    return _result(result)


async def list_cards(request: web.Request) -> web.Response:
    return _json(await request.app[keys.BILLING].list_cards(request.match_info["id"]))


async def delete_card(request: web.Request) -> web.Response:
    billing = request.app[keys.BILLING]
    return _json(await billing.delete_card(request.match_info["id"], request.match_info["card_id"]))


async def create_payment(request: web.Request) -> web.Response:
    key = _idempotency_key(request)
    result = await request.app[keys.BILLING].pay(
        request.match_info["id"], await _body(request), key
    )
    return _result(result)


async def list_transactions(request: web.Request) -> web.Response:
    return _json(await request.app[keys.BILLING].list_transactions(request.match_info["id"]))


async def get_transaction(request: web.Request) -> web.Response:
    return _json(await request.app[keys.BILLING].get_transaction(request.match_info["id"]))


async def capture(request: web.Request) -> web.Response:
    key = _idempotency_key(request)
    body = await _body(request, optional=True)
    return _result(await request.app[keys.BILLING].capture(request.match_info["id"], body, key))


async def refund(request: web.Request) -> web.Response:
    key = _idempotency_key(request)
    body = await _body(request, optional=True)
    return _result(await request.app[keys.BILLING].refund(request.match_info["id"], body, key))


async def void(request: web.Request) -> web.Response:
    await _body(request, optional=True)
    return _result(await request.app[keys.BILLING].void(request.match_info["id"]))


async def retry(request: web.Request) -> web.Response:
    body = await _body(request, optional=True)
    return _result(await request.app[keys.BILLING].retry(request.match_info["id"], body))


ROUTES: tuple[tuple[str, str, Handler], ...] = (
    ("GET", "/healthz", healthz),
    ("GET", "/metrics", metrics),
    ("GET", "/openapi.json", openapi),
    ("POST", "/api/payment-systems", create_payment_system),
    ("GET", "/api/payment-systems", list_payment_systems),
    ("GET", "/api/payment-systems/{id}", get_payment_system),
    ("PATCH", "/api/payment-systems/{id}", update_payment_system),
    ("DELETE", "/api/payment-systems/{id}", delete_payment_system),
    ("GET", "/api/currencies", list_currencies),
    ("PUT", "/api/currencies/{code}", put_currency),
    ("GET", "/api/currencies/{code}", get_currency),
    ("POST", "/api/customers", create_customer),
    ("GET", "/api/customers", list_customers),
    ("GET", "/api/customers/{id}", get_customer),
    ("PATCH", "/api/customers/{id}", update_customer),
    ("POST", "/api/customers/{id}/cards", add_card),
    ("GET", "/api/customers/{id}/cards", list_cards),
    ("DELETE", "/api/customers/{id}/cards/{card_id}", delete_card),
    ("POST", "/api/customers/{id}/payments", create_payment),
    ("GET", "/api/customers/{id}/transactions", list_transactions),
    ("GET", "/api/transactions/{id}", get_transaction),
    ("POST", "/api/transactions/{id}/capture", capture),
    ("POST", "/api/transactions/{id}/refunds", refund),
    ("POST", "/api/transactions/{id}/void", void),
    ("POST", "/api/transactions/{id}/retry", retry),
)
