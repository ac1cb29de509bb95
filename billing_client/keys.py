"""Every typed key for app and request state, in one place."""

from __future__ import annotations

import asyncio

from aiohttp import web

from billing_client.auth import Admins, CustomerLogins, Tokens
from billing_client.metrics import Metrics
from billing_client.sessions import Sessions, Throttle
from billing_client.settings import Settings
from billing_client.storage import Storage
from billing_client.usecases.context import Context

SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", Metrics)
STORAGE = web.AppKey("storage", Storage)
# What every use case needs (billing_client.usecases); handlers and the reconciler pass it on.
USECASES = web.AppKey("usecases", Context)
TOKENS = web.AppKey("tokens", Tokens)
# People behind a browser: the console's administrators, customers' self-care logins, sessions.
ADMINS = web.AppKey("admins", Admins)
CUSTOMER_LOGINS = web.AppKey("customer_logins", CustomerLogins)
SESSIONS = web.AppKey("sessions", Sessions)
THROTTLE = web.AppKey("throttle", Throttle)
OPENAPI = web.AppKey("openapi", bytes)
# The name of the API token an /api request came with (set by access.py; the audit trail's actor).
API_CLIENT = web.RequestKey("api_client", str)
# The background reconciler's task; absent when reconcile.interval_seconds is 0.
RECONCILER: web.AppKey[asyncio.Task[None]] = web.AppKey("reconciler")
