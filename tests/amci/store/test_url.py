"""Store URLs: the backends they name, refusals that say what is wrong, no password in logs."""

from __future__ import annotations

import pytest

from amci.store import StoreUrl, StoreUrlError


@pytest.mark.parametrize(("url", "backend", "target"), [
    ("sqlite:///var/amci.sqlite3", "sqlite", "var/amci.sqlite3"),
    ("sqlite:////srv/amci/amci.sqlite3", "sqlite", "/srv/amci/amci.sqlite3"),
    ("sqlite:///:memory:", "sqlite", ":memory:"),
    ("postgresql://amci@db:5432/amci", "postgresql", "postgresql://amci@db:5432/amci"),
    ("postgres://amci:pw@db/amci", "postgresql", "postgres://amci:pw@db/amci"),
])
def test_parse(url: str, backend: str, target: str) -> None:
    parsed = StoreUrl.parse(url)
    assert (parsed.backend, parsed.target) == (backend, target)


@pytest.mark.parametrize(("url", "message"), [
    ("var/amci.sqlite3", "expected sqlite:///PATH"),
    ("sqlite://var/amci.sqlite3", "three slashes"),
    ("sqlite:///", "three slashes"),
    ("mysql://db/amci", "unsupported store scheme 'mysql'"),
    ("postgresql://", "names a host"),
])
def test_refusals(url: str, message: str) -> None:
    with pytest.raises(StoreUrlError, match=message):
        StoreUrl.parse(url)


def test_safe_form_masks_the_password() -> None:
    assert StoreUrl.parse("postgresql://amci:s3cret@db:5432/amci").safe == (
        "postgresql://amci:***@db:5432/amci")
    assert StoreUrl.parse("postgresql://amci@db/amci").safe == "postgresql://amci@db/amci"
