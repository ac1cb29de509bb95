"""Running an aiohttp app as a server: a deadline on request headers, a clean exit.

aiohttp has no header-read timeout: the only bound on a connection that never completes its
headers is the keep-alive timer (3630 s by default in aiohttp 3.14), so clients sending one byte a
second hold connections for an hour (slowloris). ``GuardedRunner`` gives every connection a
deadline, counted from the connection's start and again from the end of each response, by which
the next request's headers must be complete; past it the connection is closed. A request whose
headers arrived is not timed here (handlers bound their own work). It hooks aiohttp's
``RequestHandler`` (``_handle_request``: called once a request's headers are parsed) and
``Server`` internals, stable across aiohttp 3.x; tests/e2e/test_hostile_clients.py fails if they
change.

``serve`` is what ``amci serve``, ``amci stripe-testmode`` and ``billing-client serve`` run:
bind (a port in use is one clear line and exit status 1, never a traceback), wait for SIGTERM or
SIGINT, stop gracefully.
"""

from __future__ import annotations

import asyncio
import errno
import signal
import sys
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

SHUTDOWN_TIMEOUT_S = 10.0


class _HeaderDeadlineHandler(RequestHandler):
    """aiohttp's connection protocol, closed when a request's headers are late."""

    def __init__(self, manager: web.Server, *, header_timeout: float, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._header_timeout = header_timeout
        self._header_timer: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = asyncio.get_running_loop().call_later(
            self._header_timeout, self._headers_late
        )

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        self.force_close()  # closes the transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._arm()

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        # aiohttp's 400 for a malformed request quotes the offending bytes back (an Authorization
        # line, a key); the first line of its message names the problem without them.
        if message is not None:
            message = message.split("\n", 1)[0].rstrip(":")
        return super().handle_error(request, status, exc, message)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    async def _handle_request(self, *args: Any, **kwargs: Any) -> Any:
        # Called once a request's headers are parsed; returns after its response is written.
        self._disarm()
        try:
            return await super()._handle_request(*args, **kwargs)
        finally:
            if self.transport is not None:
                self._arm()


class _Server(web.Server):
    def __init__(self, base: web.Server, header_timeout: float) -> None:
        super().__init__(
            base.request_handler,
            request_factory=base.request_factory,
            handler_cancellation=base.handler_cancellation,
            loop=base._loop,
            **base._kwargs,
        )
        self.header_timeout = header_timeout

    def __call__(self) -> RequestHandler:
        return _HeaderDeadlineHandler(
            self, header_timeout=self.header_timeout, loop=self._loop, **self._kwargs
        )


class GuardedRunner(web.AppRunner):
    """``web.AppRunner`` whose connections must deliver each request's headers within
    ``header_timeout`` seconds. Sites (``web.TCPSite``) are used as with any runner."""

    def __init__(self, app: web.Application, *, header_timeout: float, **kwargs: Any) -> None:
        if not header_timeout > 0:
            raise ValueError("header_timeout must be > 0")
        super().__init__(app, **kwargs)
        self._header_timeout = header_timeout

    async def _make_server(self) -> web.Server:
        return _Server(await super()._make_server(), self._header_timeout)


def serve(
    app: web.Application,
    *,
    host: str,
    port: int,
    header_timeout: float,
    name: str,
    on_listening: Callable[[], None] | None = None,
) -> int:
    """Run ``app`` until SIGTERM/SIGINT; the exit status (1 when the address can't be bound)."""
    if not header_timeout > 0:  # also refuses NaN
        print(f"{name}: request_header_timeout_seconds must be a number > 0, not {header_timeout}",
              file=sys.stderr, flush=True)
        return 2
    try:
        import uvloop  # the `speed` extra

        factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    except ImportError:
        factory = asyncio.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(
            _serve(app, host, port, header_timeout, name, on_listening or (lambda: None))
        )


async def _serve(
    app: web.Application,
    host: str,
    port: int,
    header_timeout: float,
    name: str,
    on_listening: Callable[[], None],
) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runner = GuardedRunner(
        app, header_timeout=header_timeout, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_S
    )
    try:
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as exc:
            reason = (
                "address already in use" if exc.errno == errno.EADDRINUSE else exc.strerror or exc
            )
            print(f"{name}: cannot listen on {host}:{port}: {reason}", file=sys.stderr, flush=True)
            return 1
        on_listening()
        await stop.wait()
        return 0
    finally:
        await runner.cleanup()
