"""``/openapi.json``, generated: the route table below plus the models of ``contract``.

Every route lists every status it can answer. Besides each route's own outcomes, every
operation may answer 400 (a header that is not ASCII text); every ``/api`` operation requires a
bearer API token (``bearerAuth``: 401 without a valid one); every ``/api`` operation with a
body may answer 413 (body over 256 KiB); and every state-changing ``/api`` operation 415 (a
body that is not ``application/json``, see ``access.py``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from billing_client import contract as c

_DESCRIPTIONS = {
    200: "OK",
    201: "Created",
    400: "Invalid request (param names the field) or a refusal (with the recorded transaction)",
    401: "Missing or invalid API token (or AMCI refused the payment system's credentials)",
    402: "Card declined or card details refused (card_error)",
    403: "AMCI refused the payment system's credentials",
    404: "No such object",
    409: "Conflict (name taken, in use) or the same request already in flight",
    413: "Body too large",
    415: "Body is not application/json",
    502: "AMCI unreachable, timed out, 5xx or rate-limiting: the transaction is pending (it will "
    "not be charged twice); or its outcome stayed unknown for 23 hours (never sent again)",
    503: "Storage unreachable",
}


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    summary: str
    responses: Mapping[int, type[BaseModel] | None]
    request: type[BaseModel] | None = None
    body_optional: bool = False
    idempotency_key: bool = False

    @property
    def api(self) -> bool:
        return self.path.startswith("/api/")


def _r(
    method: str,
    path: str,
    summary: str,
    ok: Mapping[int, type[BaseModel] | None],
    errors: tuple[int, ...] = (),
    **kw: Any,
) -> Route:
    responses: dict[int, type[BaseModel] | None] = dict(ok)
    responses.update(dict.fromkeys((400, *errors), c.ErrorEnvelope))
    if path.startswith("/api/"):
        responses[401] = c.ErrorEnvelope
        if kw.get("request") is not None:
            responses[413] = c.ErrorEnvelope
        if method in ("POST", "PUT", "PATCH", "DELETE"):
            responses[415] = c.ErrorEnvelope
    return Route(method, path, summary, dict(sorted(responses.items())), **kw)


# Routes that reach AMCI also answer with AMCI's refusal as AMCI gave it: its 402 card errors,
# 401/403 when AMCI refuses the payment system's credentials, 404 and 409. AMCI's 429 (its
# limiter: "retry shortly") is not relayed: like a 5xx it leaves the transaction pending (502).
_VIA_AMCI = (402, 403, 404, 409, 502)

ROUTES: tuple[Route, ...] = (
    _r("GET", "/healthz", "Process up (and SQLite reachable)", {200: c.Health}, (503,)),
    _r("GET", "/metrics", "Prometheus metrics (text format)", {200: None}),
    _r("GET", "/openapi.json", "This document", {200: None}),
    _r(
        "POST",
        "/api/payment-systems",
        "Create a payment system (Financial → E-payments → Payment systems)",
        {201: c.PaymentSystem},
        (409,),
        request=c.PaymentSystemCreate,
    ),
    _r("GET", "/api/payment-systems", "List payment systems", {200: c.PaymentSystemList}),
    _r("GET", "/api/payment-systems/{id}", "Read a payment system", {200: c.PaymentSystem}, (404,)),
    _r(
        "PATCH",
        "/api/payment-systems/{id}",
        "Update (payment methods, data protection, key…)",
        {200: c.PaymentSystem},
        (404, 409),
        request=c.PaymentSystemUpdate,
    ),
    _r(
        "DELETE",
        "/api/payment-systems/{id}",
        "Delete (refused while a currency or a saved card uses it)",
        {200: c.Deleted},
        (404, 409),
    ),
    _r("GET", "/api/currencies", "Currency assignments", {200: c.CurrencyList}),
    _r(
        "PUT",
        "/api/currencies/{code}",
        "Assign a payment system and a minimum payment (Currency management)",
        {200: c.Currency},
        request=c.CurrencyAssignment,
    ),
    _r("GET", "/api/currencies/{code}", "Read an assignment", {200: c.Currency}, (404,)),
    _r("POST", "/api/customers", "Create a customer", {201: c.Customer}, request=c.CustomerCreate),
    _r("GET", "/api/customers", "List customers", {200: c.CustomerList}),
    _r("GET", "/api/customers/{id}", "Read a customer", {200: c.Customer}, (404,)),
    _r(
        "PATCH",
        "/api/customers/{id}",
        "Set name/email (Personal → General info)",
        {200: c.Customer},
        (404,),
        request=c.CustomerUpdate,
    ),
    _r(
        "POST",
        "/api/customers/{id}/cards",
        "Save a card (token via AMCI, or encrypted under full_card_except_cvv)",
        {200: c.SavedCard, 201: c.SavedCard},
        _VIA_AMCI,
        request=c.CardSave,
        idempotency_key=True,
    ),
    _r("GET", "/api/customers/{id}/cards", "List saved cards", {200: c.CardList}, (404,)),
    _r(
        "DELETE",
        "/api/customers/{id}/cards/{card_id}",
        "Delete a saved card (AMCI detaches the token)",
        {200: c.Deleted},
        _VIA_AMCI,
    ),
    _r(
        "POST",
        "/api/customers/{id}/payments",
        "Sale or authorization, by saved card or one-off card",
        {201: c.Transaction},
        _VIA_AMCI,
        request=c.PaymentCreate,
        idempotency_key=True,
    ),
    _r(
        "GET",
        "/api/customers/{id}/transactions",
        "The customer's transactions",
        {200: c.TransactionList},
        (404,),
    ),
    _r(
        "GET",
        "/api/transactions/{id}",
        "A transaction with its related captures/refunds/voids",
        {200: c.Transaction},
        (404,),
    ),
    _r(
        "POST",
        "/api/transactions/{id}/capture",
        "Capture an authorization (full or partial)",
        {200: c.Transaction},
        _VIA_AMCI,
        request=c.Capture,
        body_optional=True,
        idempotency_key=True,
    ),
    _r(
        "POST",
        "/api/transactions/{id}/refunds",
        "Refund (full or partial, repeatable)",
        {201: c.Transaction},
        _VIA_AMCI,
        request=c.RefundCreate,
        body_optional=True,
        idempotency_key=True,
    ),
    _r(
        "POST",
        "/api/transactions/{id}/void",
        "Void — sent to AMCI, which refuses (Stripe has no void); the refusal is recorded",
        {200: c.Transaction},
        _VIA_AMCI,
        request=c.Void,
        body_optional=True,
    ),
    _r(
        "POST",
        "/api/transactions/{id}/retry",
        "Retry a pending transaction under its original idempotency key (a finished one is "
        "returned as is; 201 for a sale, authorization or refund, 200 otherwise)",
        {200: c.Transaction, 201: c.Transaction},
        _VIA_AMCI,
        request=c.Retry,
        body_optional=True,
    ),
    _r(
        "GET",
        "/return/payments/{id}",
        "The customer's browser back from 3D Secure: the payment refreshed from AMCI, its "
        "end-user message shown (HTML; no token, nothing else revealed)",
        {200: None, 404: None},
    ),
    _r(
        "GET",
        "/return/cards/{id}",
        "The customer's browser back from authenticating a card: the card refreshed from AMCI, "
        "its end-user message shown (HTML)",
        {200: None, 404: None},
    ),
    _r(
        "POST",
        "/notifications/amci",
        "AMCI's notifications (no token: authenticated by AMCI-Signature, HMAC-SHA256 over "
        "\"{t}.{body}\", 300 s tolerance); applied once by id and per payment in sequence order",
        {200: c.NotificationReceived},
        (409,),
        request=c.AmciNotification,
    ),
)

_INFO = {
    "title": "AMCI reference billing client",
    "version": "0.1.0",
    "description": "A small billing system that talks only to the AMCI proxy. Amounts are "
    'decimal strings in major units ("10.00", ASCII digits); errors use Stripe\'s envelope '
    "with `param` naming the field; unknown fields are refused.",
}


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route in ``ROUTES``."""
    models: set[type[BaseModel]] = {c.ErrorEnvelope}
    for route in ROUTES:
        models.update(m for m in route.responses.values() if m is not None)
        if route.request is not None:
            models.add(route.request)
    ordered = sorted(models, key=lambda m: m.__name__)
    _, schemas = models_json_schema(
        [(m, "validation" if issubclass(m, c.Request) else "serialization") for m in ordered],
        ref_template="#/components/schemas/{model}",
    )
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": _INFO,
        "paths": paths,
        "components": {
            "schemas": schemas.get("$defs", {}),
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "an API token from `billing-client create-token --name NAME`",
                }
            },
        },
    }


def _operation(route: Route) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": _operation_id(route),
        "summary": route.summary,
        "responses": {str(s): _response(s, m, route) for s, m in route.responses.items()},
    }
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{(\w+)}", route.path)
    ]
    if route.idempotency_key:
        params.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "the same request sent again returns the first result",
                "schema": {"type": "string", "minLength": 1, "maxLength": 255},
            }
        )
    if params:
        op["parameters"] = params
    if route.request is not None:
        op["requestBody"] = {
            "required": not route.body_optional,
            "content": {
                "application/json": {
                    "schema": {"$ref": f"#/components/schemas/{route.request.__name__}"}
                }
            },
        }
    if route.api:
        op["security"] = [{"bearerAuth": []}]
    return op


def _response(status: int, model: type[BaseModel] | None, route: Route) -> dict[str, Any]:
    description = _DESCRIPTIONS.get(status, "OK")
    if model is None:
        media = (
            "text/plain" if route.path == "/metrics"
            else "text/html" if route.path.startswith("/return/")
            else "application/json"
        )
        return {"description": description, "content": {media: {"schema": {}}}}
    return {
        "description": description,
        "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
        },
    }


def _operation_id(route: Route) -> str:
    words = re.sub(r"{\w+}", "one", route.path).strip("/").replace("-", "_").split("/")
    return "_".join([route.method.lower(), *words])


def document_bytes() -> bytes:
    return json.dumps(document(), ensure_ascii=False, separators=(",", ":")).encode()
