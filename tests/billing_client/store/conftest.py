"""The billing client's storage contract runs on every backend: ``store_url`` is parametrised
(SQLite in a temporary file; PostgreSQL: a fresh database on the suite's throwaway cluster)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from billing_client.storage import Storage


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'bc.sqlite3'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
async def storage(store_url: str) -> AsyncIterator[Storage]:
    opened = Storage(store_url)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()
