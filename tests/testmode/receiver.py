"""A loopback webhook receiver for tests: a real aiohttp server on 127.0.0.1 that records every
delivery (raw body and headers), answers with the statuses it is told to, and lets a test wait
for the n-th delivery (an asyncio condition, no sleeps)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.test_utils import TestServer


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]


@dataclass
class Receiver:
    # Statuses to answer, in order; once used up, 200.
    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    server: TestServer | None = None
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()
        return str(self.server.make_url("/hook"))

    @property
    def url(self) -> str:
        assert self.server is not None, "start() the receiver first"
        return str(self.server.make_url("/hook"))

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        status = self.statuses.pop(0) if self.statuses else 200
        async with self._changed:
            self.received.append(Received(body, dict(request.headers)))
            self._changed.notify_all()
        return web.Response(status=status, text="ok")

    async def wait_for(self, count: int) -> list[Received]:
        """Wait (at most 10 s) until ``count`` deliveries have arrived."""
        async with asyncio.timeout(10):
            async with self._changed:
                await self._changed.wait_for(lambda: len(self.received) >= count)
        return self.received
