"""``POST /notifications/amci``: AMCI's notifications (outside ``/api``: no token; the
``AMCI-Signature`` authenticates, checked by the use case before anything is read)."""

from __future__ import annotations

from aiohttp import web

from billing_client import keys
from billing_client.api.wire import usecases
from billing_client.usecases import notifications

HEADER = "AMCI-Signature"


async def receive(request: web.Request) -> web.Response:
    body = await request.read()  # the raw bytes: the signature is over them
    secrets = [s.reveal() for s in request.app[keys.SETTINGS].amci_notification_secrets]
    await notifications.receive(usecases(request), body, request.headers.get(HEADER), secrets)
    return web.json_response({"received": True})
