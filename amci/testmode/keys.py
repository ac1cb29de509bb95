"""Every typed AppKey of the test-mode app, in one place."""

from __future__ import annotations

import random

from aiohttp import web

from amci.testmode.auth import Account
from amci.testmode.clock import Clock
from amci.testmode.delivery import Deliverer
from amci.testmode.idempotency import InFlight
from amci.testmode.ratelimit import RateLimiter
from amci.testmode.resources.context import Context
from amci.testmode.settings import TestmodeSettings
from amci.testmode.store import Store

SETTINGS = web.AppKey("testmode_settings", TestmodeSettings)
CLOCK = web.AppKey("testmode_clock", Clock)
STORE = web.AppKey("testmode_store", Store)
CONTEXT = web.AppKey("testmode_context", Context)
IN_FLIGHT = web.AppKey("testmode_in_flight", InFlight)
RATE_LIMITER = web.AppKey("testmode_rate_limiter", RateLimiter)  # absent when switched off
DELIVERER = web.AppKey("testmode_deliverer", Deliverer)
# Background 500s for soak tests (absent when fault_error_rate is 0).
BACKGROUND_ERRORS = web.AppKey("testmode_background_errors", random.Random)

ACCOUNT = web.RequestKey("testmode_account", Account)
REQUEST_ID = web.RequestKey("testmode_request_id", str)
# A fault to apply once the request's change is committed (api_error_after_commit).
AFTER_COMMIT = web.RequestKey("testmode_after_commit", bool)
SHOULD_RETRY = web.RequestKey("testmode_should_retry", str)
