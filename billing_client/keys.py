"""Every typed key for app and request state, in one place."""

from __future__ import annotations

import asyncio

from aiohttp import web

from billing_client.amci_client import AmciClient
from billing_client.auth import Tokens
from billing_client.metrics import Metrics
from billing_client.service import Billing
from billing_client.settings import Settings
from billing_client.storage import Storage

SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", Metrics)
STORAGE = web.AppKey("storage", Storage)
AMCI = web.AppKey("amci", AmciClient)
BILLING = web.AppKey("billing", Billing)
TOKENS = web.AppKey("tokens", Tokens)
OPENAPI = web.AppKey("openapi", bytes)
# The background reconciler's task; absent when reconcile.interval_seconds is 0.
RECONCILER: web.AppKey[asyncio.Task[None]] = web.AppKey("reconciler")

REQUEST_ID = web.RequestKey("request_id", str)
