"""The OpenAPI 3.1 document served at ``GET /openapi.json`` — written by hand from
docs/amci-api.md; ``tests/amci/test_openapi.py`` proves every route of the app is in it and
nothing else is.
"""

from __future__ import annotations

import functools
from typing import Any

_MONEY = {
    "type": "string",
    "pattern": r"^\d+(\.\d+)?$",
    "description": "Decimal string in major units of the currency (\"10.00\", \"500\" for JPY, "
    "\"1.230\" for KWD). Never a float.",
    "examples": ["10.00"],
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


_AUTH_ERRORS = {
    "401": _error(
        "credentials_missing, login_invalid (login not longer than 4 characters), "
        "secret_key_required (publishable key), api_key_unknown"
    ),
    "403": _error("subscription_inactive, integration_not_activated"),
}

_IDEMPOTENCY_HEADER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "1–255 characters. A retry with the same key and body returns the first "
    "result with `Idempotent-Replayed: true`; kept 24 h, scoped to the subscription and key. "
    "Without it the request cannot be safely retried.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}

_IDEMPOTENCY_ERRORS = {
    "409": _error("idempotency_key_in_use: the first request with this key is still running"),
    "429": _error("rate_limit: AMCI's per-key limiter could not fit the call in time"),
    "502": _error("upstream_unavailable: Stripe answered with a server error"),
    "503": _error("upstream_unavailable: Stripe could not be reached"),
}

_PATH_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "description": "The payment id (Stripe PaymentIntent id, `pi_…`).",
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_]{1,255}$"},
}


def _schemas() -> dict[str, Any]:
    brands = {
        "type": "array",
        "minItems": 1,
        "items": {
            "type": "string",
            "description": "visa, mastercard, amex, discover (any case; \"American Express\", "
            "\"MasterCard\", \"VISA\" accepted)",
        },
        "description": "Brands the payment system enables; a card of another brand is refused "
        "with card_brand_not_enabled before any Stripe call.",
    }
    return {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["type", "message"],
                    "properties": {
                        "type": {
                            "type": "string",
                            "enum": [
                                "invalid_request_error",
                                "card_error",
                                "idempotency_error",
                                "api_error",
                            ],
                        },
                        "code": {"type": "string"},
                        "decline_code": {"type": "string"},
                        "param": {"type": "string", "description": "Dotted field name."},
                        "message": {"type": "string", "description": "Safe to show end users."},
                        "payment": {"type": "string", "description": "The payment id, if any."},
                    },
                }
            },
        },
        "CardInput": {
            "type": "object",
            "required": ["number", "exp_month", "exp_year"],
            "properties": {
                "number": {"type": "string", "description": "Digits; spaces allowed."},
                "exp_month": {"type": "integer", "minimum": 1, "maximum": 12},
                "exp_year": {"type": "integer", "description": "4 digits, or 2"},
                "cvc": {
                    "type": "string",
                    "description": "Optional (\"full card info except CVV\"); 4 digits for Amex, "
                    "3 otherwise.",
                },
                "holder": {"type": "string"},
            },
        },
        "CustomerInput": {
            "type": "object",
            "properties": {
                "email": {"type": "string", "format": "email"},
                "name": {"type": "string"},
                "reference": {"type": "string", "description": "The billing system's id."},
            },
        },
        "SaveCardRequest": {
            "type": "object",
            "required": ["card", "customer"],
            "properties": {
                "card": _ref("CardInput"),
                "customer": {
                    "allOf": [_ref("CustomerInput")],
                    "required": ["email"],
                    "description": "email is required (email_required otherwise).",
                },
                "enabled_brands": brands,
            },
        },
        "CardToken": {
            "type": "object",
            "required": ["object", "token", "customer", "brand", "last4", "exp_month",
                         "exp_year", "livemode"],
            "properties": {
                "object": {"const": "card_token"},
                "token": {"type": "string", "description": "pm_…"},
                "customer": {"type": "string", "description": "cus_…"},
                "brand": {"type": "string"},
                "last4": {"type": "string"},
                "exp_month": {"type": "integer"},
                "exp_year": {"type": "integer"},
                "livemode": {"type": "boolean"},
            },
        },
        "DeletedCardToken": {
            "type": "object",
            "required": ["object", "token", "deleted"],
            "properties": {
                "object": {"const": "card_token"},
                "token": {"type": "string"},
                "deleted": {"const": True},
            },
        },
        "PaymentRequest": {
            "type": "object",
            "required": ["amount", "currency"],
            "description": "Exactly one of token or card.",
            "properties": {
                "amount": _MONEY,
                "currency": {"type": "string", "description": "ISO 4217, any case."},
                "capture": {
                    "type": "boolean",
                    "default": True,
                    "description": "true: sale; false: authorization (capture within 7 days).",
                },
                "token": {"type": "string", "description": "A saved card token (pm_…)."},
                "card": _ref("CardInput"),
                "customer": _ref("CustomerInput"),
                "enabled_brands": brands,
                "description": {"type": "string"},
                "reference": {"type": "string"},
                "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
        "PaymentCard": {
            "type": ["object", "null"],
            "properties": {
                "brand": {"type": "string"},
                "last4": {"type": "string"},
                "exp_month": {"type": "integer"},
                "exp_year": {"type": "integer"},
            },
        },
        "Payment": {
            "type": "object",
            "required": ["object", "id", "status", "amount", "amount_minor", "currency"],
            "properties": {
                "object": {"const": "payment"},
                "id": {"type": "string"},
                "status": {
                    "type": "string",
                    "enum": ["succeeded", "requires_capture", "canceled",
                             "requires_payment_method", "requires_action", "processing"],
                },
                "amount": _MONEY,
                "amount_minor": {"type": "integer"},
                "currency": {"type": "string"},
                "amount_capturable": _MONEY,
                "amount_received": _MONEY,
                "amount_refunded": _MONEY,
                "capture": {"type": "boolean"},
                "charge": {"type": ["string", "null"]},
                "card": _ref("PaymentCard"),
                "customer": {"type": ["string", "null"]},
                "description": {"type": ["string", "null"]},
                "reference": {"type": ["string", "null"]},
                "customer_reference": {
                    "type": ["string", "null"],
                    "description": "customer.reference as sent with the payment",
                },
                "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
                "livemode": {"type": "boolean"},
                "created": {"type": "integer"},
            },
        },
        "CaptureRequest": {
            "type": "object",
            "properties": {"amount": {**_MONEY, "description": "Partial capture; omit for all."}},
        },
        "RefundRequest": {
            "type": "object",
            "properties": {
                "amount": {**_MONEY, "description": "Omit to refund everything refundable."},
                "reason": {
                    "type": "string",
                    "enum": ["duplicate", "fraudulent", "requested_by_customer"],
                },
            },
        },
        "Refund": {
            "type": "object",
            "required": ["object", "id", "payment", "amount", "amount_minor", "currency",
                         "status"],
            "properties": {
                "object": {"const": "refund"},
                "id": {"type": "string"},
                "payment": {"type": "string"},
                "amount": _MONEY,
                "amount_minor": {"type": "integer"},
                "currency": {"type": "string"},
                "status": {"type": "string"},
                "reason": {"type": "string"},
                "created": {"type": "integer"},
            },
        },
    }


def _post(summary: str, request: str, ok: str, ok_schema: str, errors: dict[str, Any],
          *, path_id: bool = False) -> dict[str, Any]:
    params: list[Any] = [_PATH_ID] if path_id else []
    params.append(_IDEMPOTENCY_HEADER)
    return {
        "summary": summary,
        "security": [{"basic": []}],
        "parameters": params,
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _ref(request)}},
        },
        "responses": {
            ok: _json(_ref(ok_schema), "Done."),
            **errors,
            **_AUTH_ERRORS,
            **_IDEMPOTENCY_ERRORS,
        },
    }


@functools.cache
def document() -> dict[str, Any]:
    card_errors = {
        "400": _error(
            "parameter_missing/parameter_invalid, email_required, card_brand_not_enabled, "
            "idempotency_error (idempotency_key_reused)"
        ),
        "402": _error(
            "card_error: incorrect_number, invalid_expiry_month, invalid_expiry_year, "
            "expired_card, invalid_cvc, or Stripe's decline (code and decline_code)"
        ),
    }
    payment_errors = {
        "400": _error(
            "parameter_*, invalid_currency, amount_precision, amount_too_small (message "
            "\"Your payment must be no less than 0.5 USD\"), amount_too_large, "
            "card_brand_not_enabled, idempotency_key_reused"
        ),
        "402": _error("card_error: invalid card data, or Stripe's decline with decline_code "
                      "and payment"),
        "404": _error("resource_missing: unknown token"),
    }
    later_errors = {
        "400": _error("amount errors, Stripe's refusal (e.g. payment_intent_unexpected_state, "
                      "charge_already_refunded), idempotency_key_reused"),
        "404": _error("resource_missing"),
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "AMCI — Add-on Mart cloud stand-in for Stripe",
            "version": "0.1.0",
            "description": "A billing system sends AMCI its requests with the payment system's "
            "login and the Stripe secret key (HTTP Basic); AMCI authenticates the key against "
            "its Add-on Mart subscription, applies Stripe's limits and relays to Stripe. "
            "Contract: docs/amci-api.md.",
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
            "schemas": _schemas(),
        },
        "paths": {
            "/v1/stripe/cards": {
                "post": _post("Save a card (token)", "SaveCardRequest", "201", "CardToken",
                              card_errors),
            },
            "/v1/stripe/cards/{token}": {
                "delete": {
                    "summary": "Delete a saved card (detach)",
                    "security": [{"basic": []}],
                    "parameters": [
                        {"name": "token", "in": "path", "required": True,
                         "schema": {"type": "string"}}
                    ],
                    "responses": {
                        "200": _json(_ref("DeletedCardToken"), "Deleted."),
                        "404": _error("resource_missing"),
                        **_AUTH_ERRORS,
                    },
                }
            },
            "/v1/stripe/payments": {
                "post": _post("Sale or authorization", "PaymentRequest", "201", "Payment",
                              payment_errors),
            },
            "/v1/stripe/payments/{id}": {
                "get": {
                    "summary": "The payment, fresh from Stripe",
                    "security": [{"basic": []}],
                    "parameters": [_PATH_ID],
                    "responses": {
                        "200": _json(_ref("Payment"), "The payment."),
                        "404": _error("resource_missing"),
                        **_AUTH_ERRORS,
                    },
                }
            },
            "/v1/stripe/payments/{id}/capture": {
                "post": _post("Capture an authorization (full or partial)", "CaptureRequest",
                              "200", "Payment", later_errors, path_id=True),
            },
            "/v1/stripe/payments/{id}/refunds": {
                "post": _post("Refund (full or partial, repeatable)", "RefundRequest", "201",
                              "Refund", later_errors, path_id=True),
            },
            "/v1/stripe/payments/{id}/void": {
                "post": {
                    "summary": "Void — always refused: Stripe authorizations cannot be voided; "
                    "they expire after 7 days",
                    "security": [{"basic": []}],
                    "parameters": [_PATH_ID],
                    "responses": {
                        "400": _error("void_not_supported"),
                        **_AUTH_ERRORS,
                    },
                }
            },
            "/healthz": {
                "get": {"summary": "Process up", "security": [],
                        "responses": {"200": {"description": "Up."}}}
            },
            "/readyz": {
                "get": {
                    "summary": "Ready: the test-mode upstream is reachable and the store answers",
                    "security": [],
                    "responses": {"200": {"description": "Ready."},
                                  "503": {"description": "Not ready."}},
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics",
                    "security": [],
                    "responses": {"200": {"description": "Text exposition format.",
                                          "content": {"text/plain": {}}}},
                }
            },
            "/openapi.json": {
                "get": {"summary": "This document", "security": [],
                        "responses": {"200": {"description": "OpenAPI 3.1."}}}
            },
        },
    }
