"""What every storage backend shares: rows as dicts, the errors, and store URLs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Row = dict[str, Any]


class StorageError(RuntimeError):
    """The store can't be used by this version (e.g. made by a newer one) or is misnamed."""


class DuplicateRequest(Exception):
    """An insert hit a UNIQUE index: the same request (client Idempotency-Key) already exists."""


@dataclass(frozen=True, slots=True)
class StoreUrl:
    """``sqlite:///relative/path``, ``sqlite:////absolute/path`` (the SQLAlchemy convention) or
    a bare path (SQLite, the ``--db`` shorthand); ``postgresql://`` / ``postgres://`` URLs are
    passed to the driver as they are."""

    backend: str  # "sqlite" | "postgresql"
    target: str  # the SQLite path, or the PostgreSQL URL

    @classmethod
    def parse(cls, url: str) -> StoreUrl:
        scheme, sep, rest = url.partition("://")
        if not sep:
            if not url:
                raise StorageError("the store is a SQLite path or a URL, not empty")
            return cls("sqlite", url)
        scheme = scheme.lower()
        if scheme == "sqlite":
            if not rest.startswith("/") or rest == "/":
                raise StorageError("a SQLite URL is sqlite:///PATH (three slashes, then the path)")
            return cls("sqlite", rest[1:])
        if scheme in ("postgresql", "postgres"):
            if not rest:
                raise StorageError("a PostgreSQL URL names a host or a database")
            return cls("postgresql", url)
        raise StorageError(f"unsupported store scheme {scheme!r} (sqlite or postgresql)")

    @property
    def safe(self) -> str:
        """For logs: the password, if any, masked."""
        if self.backend == "sqlite":
            return self.target
        scheme, _, rest = self.target.partition("://")
        userinfo, at, hostpart = rest.rpartition("@")
        if at and ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":***"
        return f"{scheme}://{userinfo}{at}{hostpart}"
