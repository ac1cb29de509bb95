"""Every typed key for app and request state, in one place."""

from __future__ import annotations

import asyncio

from aiohttp import web

from billing_client.auth import Tokens
from billing_client.metrics import Metrics
from billing_client.settings import Settings
from billing_client.storage import Storage
from billing_client.usecases.context import Context

SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", Metrics)
STORAGE = web.AppKey("storage", Storage)
# What every use case needs (billing_client.usecases); handlers and the reconciler pass it on.
USECASES = web.AppKey("usecases", Context)
TOKENS = web.AppKey("tokens", Tokens)
OPENAPI = web.AppKey("openapi", bytes)
# The background reconciler's task; absent when reconcile.interval_seconds is 0.
RECONCILER: web.AppKey[asyncio.Task[None]] = web.AppKey("reconciler")
