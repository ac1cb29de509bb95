"""The embedded test mode's 3D Secure pages, served through AMCI's own address.

The embedded Stripe test-mode server listens on an ephemeral loopback port, which a customer's
browser can't be sent to. When ``testmode.public_url`` is not set, AMCI rewrites the page URLs it
answers in ``next_action`` onto the address the billing system reached AMCI at
(``views.public``) and forwards ``/_testmode/authenticate/…`` here, as is: the page (GET) and its
Complete / Fail forms (POST, answered with a 303 to the ``return_url``). As on Stripe's own test
page, the nonce in the path is the only authorisation, so these routes take no credentials.
Without an embedded test mode (``upstream.test_api_base`` set) they answer 404.
"""

from __future__ import annotations

import aiohttp
from aiohttp import web

from amci import keys
from amci.errors import NotFound, UpstreamUnavailable

PATH = "/_testmode/authenticate/{tail:[A-Za-z0-9_/.~-]{1,400}}"
_FORWARDED = ("Content-Type", "Location", "Cache-Control")


async def page(request: web.Request) -> web.Response:
    base = request.app.get(keys.EMBEDDED_TESTMODE)
    if base is None:
        raise NotFound(f"Unrecognized request URL ({request.method}: {request.path}).")
    headers = {}
    if request.content_type:
        headers["Content-Type"] = request.headers.get("Content-Type", "")
    body = await request.read() if request.method == "POST" else None
    try:
        async with request.app[keys.SESSION].request(
            request.method, base + request.path, data=body, headers=headers,
            allow_redirects=False,
        ) as upstream:
            payload = await upstream.read()
            status = upstream.status
            forwarded = {k: upstream.headers[k] for k in _FORWARDED if k in upstream.headers}
    except (aiohttp.ClientError, TimeoutError):
        raise UpstreamUnavailable(503, "The test-mode server could not be reached.") from None
    if status == 404:
        # In AMCI's envelope, like its other answers (the test mode's own 404 is a short page).
        raise NotFound("No such authentication page: it was used, replaced by a newer one, or "
                       "never existed.")
    return web.Response(status=status, body=payload, headers=forwarded)
