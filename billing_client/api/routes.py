"""The route table: (method, path, handler), service routes first, then ``/api``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from billing_client.api import (
    cards,
    currencies,
    customers,
    notifications,
    payment_systems,
    returns,
    system,
    transactions,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ROUTES: tuple[tuple[str, str, Handler], ...] = (
    ("GET", "/healthz", system.healthz),
    ("GET", "/metrics", system.metrics),
    ("GET", "/openapi.json", system.openapi),
    ("POST", "/api/payment-systems", payment_systems.create),
    ("GET", "/api/payment-systems", payment_systems.list_all),
    ("GET", "/api/payment-systems/{id}", payment_systems.get),
    ("PATCH", "/api/payment-systems/{id}", payment_systems.update),
    ("DELETE", "/api/payment-systems/{id}", payment_systems.delete),
    ("GET", "/api/currencies", currencies.list_all),
    ("PUT", "/api/currencies/{code}", currencies.put),
    ("GET", "/api/currencies/{code}", currencies.get),
    ("POST", "/api/customers", customers.create),
    ("GET", "/api/customers", customers.list_all),
    ("GET", "/api/customers/{id}", customers.get),
    ("PATCH", "/api/customers/{id}", customers.update),
    ("POST", "/api/customers/{id}/cards", cards.add),
    ("GET", "/api/customers/{id}/cards", cards.list_all),
    ("DELETE", "/api/customers/{id}/cards/{card_id}", cards.delete),
    ("POST", "/api/customers/{id}/payments", transactions.pay),
    ("GET", "/api/customers/{id}/transactions", transactions.list_for_customer),
    ("GET", "/api/transactions/{id}", transactions.get),
    ("POST", "/api/transactions/{id}/capture", transactions.capture),
    ("POST", "/api/transactions/{id}/refunds", transactions.refund),
    ("POST", "/api/transactions/{id}/void", transactions.void),
    ("POST", "/api/transactions/{id}/retry", transactions.retry),
    ("GET", "/return/payments/{id}", returns.payment),
    ("GET", "/return/cards/{id}", returns.card),
    ("POST", "/notifications/amci", notifications.receive),
)
