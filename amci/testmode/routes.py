"""The route table: which resource function serves which path (the whole v1 surface)."""

from __future__ import annotations

from collections.abc import Callable

from amci.testmode.auth import Account
from amci.testmode.resources import (
    charges,
    customers,
    disputes,
    events,
    payment_intents,
    payment_methods,
    refunds,
    setup_attempts,
    setup_intents,
    webhook_endpoints,
)
from amci.testmode.resources.context import Context, Json, Params

Endpoint = Callable[[Context, Account, Params, Params], Json]

ROUTES: tuple[tuple[str, str, Endpoint], ...] = (
    ("POST", "/v1/customers", customers.create),
    ("GET", "/v1/customers", customers.list_),
    # Search paths before the {id} routes they would otherwise match.
    ("GET", "/v1/customers/search", customers.search),
    ("GET", "/v1/payment_intents/search", payment_intents.search),
    ("GET", "/v1/charges/search", charges.search),
    ("GET", "/v1/customers/{id}", customers.retrieve),
    ("POST", "/v1/customers/{id}", customers.update),
    ("DELETE", "/v1/customers/{id}", customers.delete),
    ("GET", "/v1/customers/{id}/payment_methods", payment_methods.list_),
    ("POST", "/v1/payment_methods", payment_methods.create),
    ("GET", "/v1/payment_methods", payment_methods.list_),
    ("GET", "/v1/payment_methods/{id}", payment_methods.retrieve),
    ("POST", "/v1/payment_methods/{id}", payment_methods.update),
    ("POST", "/v1/payment_methods/{id}/attach", payment_methods.attach_endpoint),
    ("POST", "/v1/payment_methods/{id}/detach", payment_methods.detach),
    ("POST", "/v1/payment_intents", payment_intents.create),
    ("GET", "/v1/payment_intents", payment_intents.list_),
    ("GET", "/v1/payment_intents/{id}", payment_intents.retrieve),
    ("POST", "/v1/payment_intents/{id}", payment_intents.update),
    ("POST", "/v1/payment_intents/{id}/confirm", payment_intents.confirm),
    ("POST", "/v1/payment_intents/{id}/capture", payment_intents.capture),
    ("POST", "/v1/payment_intents/{id}/cancel", payment_intents.cancel),
    ("GET", "/v1/charges", charges.list_),
    ("GET", "/v1/charges/{id}", charges.retrieve),
    ("POST", "/v1/refunds", refunds.create),
    ("GET", "/v1/refunds", refunds.list_),
    ("GET", "/v1/refunds/{id}", refunds.retrieve),
    ("POST", "/v1/refunds/{id}", refunds.update),
    ("POST", "/v1/setup_intents", setup_intents.create),
    ("GET", "/v1/setup_intents", setup_intents.list_),
    ("GET", "/v1/setup_intents/{id}", setup_intents.retrieve),
    ("POST", "/v1/setup_intents/{id}", setup_intents.update),
    ("POST", "/v1/setup_intents/{id}/confirm", setup_intents.confirm),
    ("POST", "/v1/setup_intents/{id}/cancel", setup_intents.cancel),
    ("GET", "/v1/setup_attempts", setup_attempts.list_),
    ("GET", "/v1/events", events.list_),
    ("GET", "/v1/events/{id}", events.retrieve),
    ("POST", "/v1/webhook_endpoints", webhook_endpoints.create),
    ("GET", "/v1/webhook_endpoints", webhook_endpoints.list_),
    ("GET", "/v1/webhook_endpoints/{id}", webhook_endpoints.retrieve),
    ("POST", "/v1/webhook_endpoints/{id}", webhook_endpoints.update),
    ("DELETE", "/v1/webhook_endpoints/{id}", webhook_endpoints.delete),
    ("GET", "/v1/disputes", disputes.list_),
    ("GET", "/v1/disputes/{id}", disputes.retrieve),
    ("POST", "/v1/disputes/{id}", disputes.update),
    ("POST", "/v1/disputes/{id}/close", disputes.close),
)
