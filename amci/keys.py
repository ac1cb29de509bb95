"""Every typed key for app and request state, in one place."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web

from amci.auth import Principal
from amci.metrics import Metrics
from amci.money import FxTable
from amci.relay import Relay
from amci.sealing import Sealer
from amci.settings import Settings
from amci.store import Store

if TYPE_CHECKING:
    from amci.outbox import Outbox
    from amci.webhooks import Registrar

SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", Metrics)
LOGGER = web.AppKey("logger", logging.Logger)
FX = web.AppKey("fx", FxTable)
# Wall-clock seconds (idempotency TTL, card expiry).
CLOCK: web.AppKey[Callable[[], float]] = web.AppKey("clock")
INSTANCE = web.AppKey("instance", str)  # this process's id: owner of in-flight idempotency keys
SESSION = web.AppKey("session", aiohttp.ClientSession)
STORE: web.AppKey[Store] = web.AppKey("store")
RELAY = web.AppKey("relay", Relay)
TEST_API_BASE = web.AppKey("test_api_base", str)  # resolved: embedded server or configured URL
# The embedded test-mode server's loopback address (unset when test_api_base is configured).
EMBEDDED_TESTMODE = web.AppKey("embedded_testmode", str)

SEALER = web.AppKey("sealer", Sealer)
OUTBOX: web.AppKey[Outbox] = web.AppKey("outbox")
REGISTRAR: web.AppKey[Registrar] = web.AppKey("registrar")

REQUEST_ID = web.RequestKey("request_id", str)
PRINCIPAL = web.RequestKey("principal", Principal)
