"""Every typed key for app and request state, in one place."""

from __future__ import annotations

from aiohttp import web

from billing_client.amci_client import AmciClient
from billing_client.metrics import Metrics
from billing_client.service import Billing
from billing_client.settings import Settings
from billing_client.storage import Storage

SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", Metrics)
STORAGE = web.AppKey("storage", Storage)
AMCI = web.AppKey("amci", AmciClient)
BILLING = web.AppKey("billing", Billing)
OPENAPI = web.AppKey("openapi", bytes)

REQUEST_ID = web.RequestKey("request_id", str)
