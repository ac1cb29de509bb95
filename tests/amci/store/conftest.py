"""The store contract runs on every backend: ``store_url`` is parametrised."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'amci.sqlite3'}"
    url: str = request.getfixturevalue("pg_url")
    return url
