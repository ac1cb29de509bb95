"""The OpenAPI 3.1 document served at ``GET /openapi.json``, generated from ``amci.contract``'s
models and the route table below (path, method, request model, response model per status,
security). Nothing here is written twice: a schema comes from the model that validates or
renders that body. ``tests/amci/test_openapi.py`` proves the table matches the app's routes and
that every status a handler answers is documented.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from amci import contract

_REF = "#/components/schemas/{model}"


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    summary: str
    ok: int | None
    response: type[BaseModel] | None  # the body of the success status
    request: type[BaseModel] | None = None
    errors: dict[int, str] = field(default_factory=dict)
    authenticated: bool = True
    idempotent: bool = False  # takes an Idempotency-Key
    ok_description: str = "Done."
    ok_content: str = "application/json"
    # Further success statuses answered with the same response model.
    also_ok: dict[int, str] = field(default_factory=dict)


# Statuses every authenticated route can answer (the middleware, before the handler).
_AUTH = {
    400: "parameter_invalid: the X-Request-Id header is not ASCII or longer than 64 characters",
    401: "credentials_missing, login_invalid (param login), secret_key_required, "
    "api_key_unknown; or Stripe's own 401",
    403: "subscription_inactive, integration_not_activated; or Stripe's 403 (restricted key)",
}
# Statuses of any route that calls Stripe.
_UPSTREAM = {
    429: "rate_limit: AMCI's per-key limiter could not fit the call within "
    "rate_limit.max_wait_seconds, or Stripe's 429",
    502: "upstream_unavailable: Stripe answered with a server error",
    503: "upstream_unavailable: Stripe could not be reached",
}
# Statuses of a route that reads a JSON body and takes an Idempotency-Key.
_BODY = {
    400: "parameter_invalid / parameter_missing / parameter_unknown (param names the field, "
    "dotted), idempotency_error (idempotency_key_reused), an invalid Idempotency-Key header",
    409: "idempotency_key_in_use: the first request with this Idempotency-Key is still running",
    413: "parameter_invalid: the body is larger than 64 KiB",
}


def _merge(*tables: dict[int, str]) -> dict[int, str]:
    out: dict[int, list[str]] = {}
    for table in tables:
        for status, text in table.items():
            out.setdefault(status, []).append(text)
    return {status: "; ".join(texts) for status, texts in sorted(out.items())}


ROUTES: tuple[Route, ...] = (
    Route("POST", "/v1/stripe/cards", "Save a card (token) for off-session charges: a "
          "SetupIntent (usage off_session); status requires_action with next_action when the "
          "card needs 3D Secure", 201, contract.CardToken, contract.SaveCardRequest,
          idempotent=True, errors=_merge(_AUTH, _BODY, _UPSTREAM, {
              400: "email_required, email_invalid, card_brand_not_enabled",
              402: "card_error: incorrect_number, invalid_expiry_month, invalid_expiry_year, "
              "expired_card, invalid_cvc, or Stripe's decline (code, decline_code, retryable); "
              "authentication_required (message \"Additional authentication is required to "
              "save this card.\"): the card needs 3D Secure and no return_url was sent; it is "
              "not saved",
              404: "resource_missing (relayed from Stripe)",
          })),
    Route("GET", "/v1/stripe/cards/{token}", "The card as Stripe sees it now (after 3D "
          "Secure: saved or not, ready for off-session charges)", 200, contract.CardToken,
          errors=_merge(_AUTH, _UPSTREAM, {
              400: "Stripe's refusal",
              404: "resource_missing",
          })),
    Route("DELETE", "/v1/stripe/cards/{token}", "Delete a saved card (detach)", 200,
          contract.DeletedCardToken, errors=_merge(_AUTH, _UPSTREAM, {
              400: "Stripe's refusal (e.g. the card is not attached)",
              404: "resource_missing",
          })),
    Route("POST", "/v1/stripe/payments", "Sale or authorization; status requires_action with "
          "next_action when 3D Secure is needed and a return_url was sent", 201,
          contract.Payment, contract.PaymentRequest, idempotent=True,
          errors=_merge(_AUTH, _BODY, _UPSTREAM, {
              400: "invalid_currency, amount_precision, amount_too_small (message \"Your "
              "payment must be no less than 0.5 USD\"), amount_too_large, "
              "card_brand_not_enabled, email_invalid, email_required (save_card), "
              "parameter_invalid (off_session without a token or with a return_url; save_card "
              "with a token)",
              402: "card_error: invalid card data, or Stripe's decline with code, decline_code, "
              "retryable and payment; authentication_required with payment (message "
              "\"Additional authentication is required to complete this payment.\"): the "
              "payment needs 3D Secure and no return_url was sent, or Stripe refused an "
              "off_session charge for authentication: get a link from /authenticate",
              404: "resource_missing: unknown token",
          }), also_ok={202: "status processing: Stripe's answer to the confirmation was a "
                       "server error or none at all and AMCI could not yet look at the payment. "
                       "Nothing is stored under the Idempotency-Key: retry it (AMCI then "
                       "settles the outcome by retrieving the payment), look the payment up by "
                       "reference, or wait for its notification."}),
    Route("GET", "/v1/stripe/payments", "Find a payment by the billing system's reference "
          "(query reference=…): the latest payment AMCI created with it, fresh from Stripe",
          200, contract.Payment, errors=_merge(_AUTH, _UPSTREAM, {
              400: "parameter_invalid: reference missing or longer than 500 characters; an "
              "unknown query parameter",
              404: "resource_missing: no payment with this reference",
          })),
    Route("GET", "/v1/stripe/notifications", "Recent notifications of the subscription, "
          "newest first (query limit=1…100, default 20; payment=pi_… for one payment's, by "
          "sequence)", 200, contract.NotificationList, errors=_merge(_AUTH, {
              400: "parameter_invalid: limit out of range, an unknown query parameter"})),
    Route("POST", "/v1/stripe/notifications/{id}/redeliver", "Send a notification again "
          "(the same body, newly signed), now", 202, contract.NotificationRecord,
          errors=_merge(_AUTH, {404: "resource_missing: no such notification"})),
    Route("POST", "/v1/stripe/webhooks/{subscription}", "Stripe's webhook deliveries for the "
          "subscription (Stripe's Event JSON), authenticated by Stripe-Signature", 200,
          contract.WebhookReceived, authenticated=False,
          ok_description="The event is committed (its notification, if any, is in the outbox).",
          errors={400: "signature_invalid: Stripe-Signature does not verify with the "
                  "subscription's endpoint secrets", 404: "resource_missing: no such "
                  "subscription", 413: "parameter_invalid: the event is larger than 64 KiB"}),
    Route("GET", "/v1/stripe/payments/{id}", "The payment, fresh from Stripe (after 3D Secure: "
          "its final status)", 200, contract.Payment, errors=_merge(_AUTH, _UPSTREAM, {
              400: "Stripe's refusal",
              404: "resource_missing",
          })),
    Route("POST", "/v1/stripe/payments/{id}/authenticate", "A fresh 3D Secure redirect for a "
          "payment waiting on its customer (authentication_required, requires_action)", 200,
          contract.Payment, contract.AuthenticateRequest, idempotent=True,
          errors=_merge(_AUTH, _BODY, _UPSTREAM, {
              400: "payment_intent_unexpected_state: the payment needs no authentication (it "
              "succeeded, was captured or canceled)",
              402: "card_error relayed from Stripe",
              404: "resource_missing",
          })),
    Route("POST", "/v1/stripe/payments/{id}/capture", "Capture an authorization (full or "
          "partial) before its capture_before", 200, contract.Payment, contract.CaptureRequest,
          idempotent=True, errors=_merge(_AUTH, _BODY, _UPSTREAM, {
              400: "amount errors, Stripe's refusal (e.g. payment_intent_unexpected_state: the "
              "authorization expired at capture_before and the payment is canceled)",
              402: "card_error relayed from Stripe",
              404: "resource_missing",
          })),
    Route("POST", "/v1/stripe/payments/{id}/refunds", "Refund (full or partial, repeatable)",
          201, contract.Refund, contract.RefundRequest, idempotent=True,
          errors=_merge(_AUTH, _BODY, _UPSTREAM, {
              400: "amount errors, Stripe's refusal (e.g. charge_already_refunded)",
              402: "card_error relayed from Stripe",
              404: "resource_missing",
          })),
    Route("POST", "/v1/stripe/payments/{id}/void", "Void — always refused: Stripe "
          "authorizations cannot be voided; they expire, usually after 7 days, at the "
          "payment's capture_before", None, None,
          errors=_merge(_AUTH, {400: "void_not_supported", 404: "resource_missing: the id is "
                                "malformed"})),
    Route("GET", "/_testmode/authenticate/{tail}", "The embedded test mode's 3D Secure page "
          "(test mode only, proxied; the nonce in the path authorises)", 200, None,
          authenticated=False, ok_description="HTML page with Complete / Fail authentication "
          "forms.", ok_content="text/html",
          errors={404: "resource_missing: no such page (used, retired, or no embedded test "
                  "mode)", 503: "upstream_unavailable"}),
    Route("POST", "/_testmode/authenticate/{tail}", "Submit the 3D Secure test page "
          "(form field result=complete|fail)", 303, None, authenticated=False,
          ok_description="Redirect to the return_url with payment_intent (or setup_intent) and "
          "redirect_status.", ok_content="text/html",
          errors={404: "resource_missing: no such page", 503: "upstream_unavailable"}),
    Route("GET", "/healthz", "Process up", 200, contract.Health, authenticated=False,
          ok_description="Up."),
    Route("GET", "/readyz", "Ready: the test-mode upstream is reachable and the store answers",
          200, contract.Ready, authenticated=False, ok_description="Ready.",
          errors={503: "Not ready (the same body, status unavailable)."}),
    Route("GET", "/metrics", "Prometheus metrics", 200, None, authenticated=False,
          ok_description="Prometheus text exposition format.", ok_content="text/plain"),
    Route("GET", "/openapi.json", "This document", 200, None, authenticated=False,
          ok_description="OpenAPI 3.1."),
)

_PATH_PARAMS = {
    "id": ("The payment id (Stripe PaymentIntent id, `pi_…`), or on /notifications the "
           "notification id (`ntf_…`).", contract.ID_PATTERN),
    "subscription": ("The Add-on Mart subscription id.", "^[^/]{1,200}$"),
    "token": ("The card token (Stripe PaymentMethod id, `pm_…`).", contract.ID_PATTERN),
    "tail": ("The page's account, intent and nonce, as next_action.url gives them.",
             "^[A-Za-z0-9_/.~-]{1,400}$"),
}

_IDEMPOTENCY_HEADER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "1–255 printable ASCII characters. A retry with the same key and body returns "
    "the first result with `Idempotent-Replayed: true`; kept 24 h, scoped to the subscription and "
    "key. Without it the request cannot be safely retried.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
}

_REQUEST_ID_HEADER = {
    "name": "X-Request-Id",
    "in": "header",
    "required": False,
    "description": "The caller's request id, echoed as `Request-Id` when it is 8–64 of "
    "`A-Z a-z 0-9 . _ -` (else AMCI makes one up); not ASCII or longer than 64 → 400.",
    "schema": {"type": "string", "maxLength": 64, "pattern": "^[ -~]*$"},
}


def _schemas() -> tuple[dict[Any, Any], dict[str, Any]]:
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (contract.Error, "serialization"), (contract.Notification, "serialization")]
    for route in ROUTES:
        if route.request is not None:
            models.append((route.request, "validation"))
        if route.response is not None:
            models.append((route.response, "serialization"))
    refs, defs = models_json_schema(list(dict.fromkeys(models)), ref_template=_REF)
    return dict(refs), dict(defs.get("$defs", {}))


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


@functools.cache
def document() -> dict[str, Any]:
    refs, schemas = _schemas()
    error = refs[(contract.Error, "serialization")]
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        params: list[dict[str, Any]] = [
            {"name": name, "in": "path", "required": True, "description": text,
             "schema": {"type": "string", "pattern": pattern}}
            for name, (text, pattern) in _PATH_PARAMS.items() if f"{{{name}}}" in route.path
        ]
        if route.idempotent:
            params.append(_IDEMPOTENCY_HEADER)
        if route.authenticated:
            params.append(_REQUEST_ID_HEADER)
        responses: dict[str, Any] = {}
        if route.ok is not None:
            if route.response is not None:
                responses[str(route.ok)] = _json(
                    refs[(route.response, "serialization")], route.ok_description
                )
            else:
                media: dict[str, Any] = (
                    {"schema": {"type": "object"}} if route.ok_content == "application/json"
                    else {}
                )
                responses[str(route.ok)] = {
                    "description": route.ok_description,
                    "content": {route.ok_content: media},
                }
        for status, text in route.also_ok.items():
            assert route.response is not None
            responses[str(status)] = _json(refs[(route.response, "serialization")], text)
        for status, text in route.errors.items():
            responses[str(status)] = (
                _json(refs[(contract.Ready, "serialization")], text)
                if route.path == "/readyz"
                else _json(error, text)
            )
        op: dict[str, Any] = {
            "summary": route.summary,
            "operationId": _operation_id(route),
            "security": [{"basic": []}] if route.authenticated else [],
            "responses": responses,
        }
        if params:
            op["parameters"] = params
        if route.request is not None:
            op["requestBody"] = {
                "required": False,
                "content": {"application/json": {
                    "schema": refs[(route.request, "validation")]
                }},
            }
        paths.setdefault(route.path, {})[route.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "AMCI — Add-on Mart cloud stand-in for Stripe",
            "version": "0.1.0",
            "description": "A billing system sends AMCI its requests with the payment system's "
            "login and the Stripe secret key (HTTP Basic); AMCI authenticates the key against "
            "its Add-on Mart subscription, applies Stripe's limits and relays to Stripe. "
            "Unknown fields are refused (parameter_unknown). Contract: docs/amci-api.md.",
        },
        "components": {
            "securitySchemes": {
                "basic": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "login (longer than 4 characters, otherwise ignored) : "
                    "Stripe secret key (sk_test_/sk_live_/rk_test_/rk_live_).",
                }
            },
            "schemas": schemas,
        },
        "paths": paths,
        # What AMCI POSTs to the billing system's callback URL (docs/amci-api.md).
        "webhooks": {"notification": {"post": {
            "summary": "An AMCI notification: what Stripe said later about a payment or card",
            "operationId": "notification",
            "parameters": [{
                "name": "AMCI-Signature", "in": "header", "required": True,
                "description": "t=<unix seconds>,v1=<hex HMAC-SHA256 over \"{t}.{body}\">, one "
                "v1 per active secret; reject t older than 300 s.",
                "schema": {"type": "string"}}],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": refs[(contract.Notification, "serialization")]}}},
            "responses": {"200": {"description": "Any 2xx: delivered. Anything else is "
                                  "retried with backoff."}},
        }}},
    }


def _operation_id(route: Route) -> str:
    words = [w for w in route.path.replace("{", "").replace("}", "").split("/") if w]
    words = [w for w in words if w not in ("v1", "stripe")] or ["root"]
    return route.method.lower() + "_" + "_".join(w.replace(".", "_") for w in words)
