"""The embedded test mode is guarded like AMCI itself: a client that never finishes its request
headers is dropped after AMCI's ``server.request_header_timeout_seconds``."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from amci import keys
from amci.app import create_app
from amci.settings import (
    EmbeddedTestmodeSettings,
    ServerSettings,
    Settings,
    StoreSettings,
)


async def test_embedded_testmode_drops_clients_whose_headers_are_late(
    aiohttp_client: Any, tmp_path: Path,
) -> None:
    settings = Settings(
        server=ServerSettings(request_header_timeout_seconds=0.5),
        store=StoreSettings(db_path=str(tmp_path / "amci.sqlite3")),
        testmode=EmbeddedTestmodeSettings(db_path=None, rate_limit_per_second=None),
    )
    client = await aiohttp_client(create_app(settings))
    base = urlsplit(client.server.app[keys.TEST_API_BASE])
    assert base.hostname is not None and base.port is not None
    reader, writer = await asyncio.open_connection(base.hostname, base.port)
    started = time.monotonic()
    writer.write(b"GET /v1/customers HTTP/1.1\r\nHost: x\r\n")  # headers never finished
    await writer.drain()
    # The server closes the connection: read() returns b"" (EOF). Bounded well above the limit.
    assert await asyncio.wait_for(reader.read(), timeout=5) == b""
    elapsed = time.monotonic() - started
    writer.close()
    assert 0.4 <= elapsed < 3, elapsed
