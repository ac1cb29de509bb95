"""``amci testmode-listen``: like ``stripe listen`` for the test mode. It opens a local port,
registers a webhook endpoint pointing at it, prints the endpoint's ``whsec_`` secret (the one
the forwarded deliveries are signed with), then forwards every delivery — body and
``Stripe-Signature`` untouched — to ``--forward-to`` and prints it. The receiver's status is
passed back, so a failing receiver gets the test mode's retries. The endpoint is deleted on exit.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import aiohttp
from aiohttp import web

from httpkit.serving import GuardedRunner

FORWARDED_HEADERS = ("Stripe-Signature", "Content-Type", "User-Agent")


class ListenError(Exception):
    pass


async def listen(api_base: str, api_key: str, forward_to: str, events: list[str] | None = None,
                 *, host: str = "127.0.0.1", port: int = 0,
                 out: Callable[[str], None] = print,
                 ready: Callable[[str, str], None] | None = None) -> None:
    """Run until cancelled. ``ready(endpoint_id, secret)`` is called once registered."""
    base = api_base.rstrip("/")
    auth = {"Authorization": f"Bearer {api_key}"}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:

        async def forward(request: web.Request) -> web.Response:
            body = await request.read()
            try:
                event = json.loads(body)
                label = f"{event.get('type')} [{event.get('id')}]"
            except ValueError:
                label = "(not JSON)"
            out(f"--> {label}")
            headers = {h: request.headers[h] for h in FORWARDED_HEADERS if h in request.headers}
            try:
                async with session.post(forward_to, data=body, headers=headers,
                                        allow_redirects=False) as resp:
                    status = resp.status
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                out(f"<-- [ERR] POST {forward_to} [{type(exc).__name__}]")
                return web.Response(status=502)
            out(f"<-- [{status}] POST {forward_to}")
            return web.Response(status=status if 200 <= status < 300 else 502)

        app = web.Application()
        app.router.add_post("/", forward)
        # Slow clients are bounded here too (a delivery's headers arrive at once).
        runner = GuardedRunner(app, header_timeout=10.0, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        server = runner.addresses[0]
        local = f"http://{host}:{server[1]}/"
        form = [("url", local)] + [(f"enabled_events[{i}]", e)
                                   for i, e in enumerate(events or ["*"])]
        async with session.post(f"{base}/v1/webhook_endpoints", data=form,
                                headers=auth) as resp:
            created = await resp.json()
        if resp.status != 200:
            await runner.cleanup()
            message = created.get("error", {}).get("message", resp.status)
            raise ListenError(f"could not register the endpoint: {message}")
        endpoint, secret = created["id"], created["secret"]
        out(f"Ready! Your webhook signing secret is {secret} (^C to quit)")
        if ready is not None:
            ready(endpoint, secret)
        try:
            await asyncio.Event().wait()
        finally:
            try:
                async with session.delete(f"{base}/v1/webhook_endpoints/{endpoint}",
                                          headers=auth):
                    pass
            finally:
                await runner.cleanup()
