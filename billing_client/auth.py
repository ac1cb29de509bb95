"""Who may call the billing client: API tokens now; administrator accounts and sessions later.

An API token is 256 random bits (``secrets.token_urlsafe(32)``) behind the prefix ``bct_``, so a
leaked one is recognisable. It is shown once, by ``billing-client create-token``; only its
SHA-256 digest is stored. A fast hash is enough for a random 256-bit secret — there is no
dictionary to try, unlike passwords, which will need a slow KDF when accounts arrive.

Checking a presented token compares its digest with every stored digest in constant time
(``hmac.compare_digest``, no early exit), so neither the comparison nor a database index lookup
tells a caller how close a guess came. The table holds a handful of rows (one per integration),
and it is read on each request, so a revocation from another process takes effect at once.

The token travels as ``ApiToken``, a ``Secret`` whose repr is masked: it never reaches a log line.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from billing_client.crypto import Secret

if TYPE_CHECKING:
    from billing_client.storage import Storage

TOKEN_PREFIX = "bct_"  # noqa: S105 - a public prefix, not a secret
# A presented credential longer than this is not one of ours; refuse it before hashing.
_MAX_PRESENTED = 200
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

# Applied by ``storage.Storage.open`` as one of its versioned migrations.
SCHEMA = """
CREATE TABLE IF NOT EXISTS api_tokens (
    name TEXT PRIMARY KEY,
    token_sha256 TEXT NOT NULL UNIQUE,
    created INTEGER NOT NULL
);
"""


class ApiToken(Secret):
    """A billing client API token; prints as ``bct_•••••``."""

    __slots__ = ()
    kind = "api_token"

    def masked(self) -> str:
        return f"{TOKEN_PREFIX}•••••"


class TokenError(ValueError):
    """A token name that is malformed, taken, or unknown; the message is for the operator."""


def new_token() -> ApiToken:
    return ApiToken(TOKEN_PREFIX + secrets.token_urlsafe(32))


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise TokenError(
            "a token name is 1-64 characters: letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


class Tokens:
    """API tokens in the billing client's store."""

    def __init__(self, storage: Storage, *, clock: Callable[[], float] = time.time) -> None:
        self._storage = storage
        self._clock = clock

    async def create(self, name: str) -> ApiToken:
        """A new token under ``name`` (unique); the plaintext is returned once, never stored."""
        check_name(name)
        token = new_token()
        changed = await self._storage.execute(
            "INSERT INTO api_tokens (name, token_sha256, created) VALUES (?, ?, ?) "
            "ON CONFLICT(name) DO NOTHING",
            (name, digest(token.reveal()), int(self._clock())),
        )
        if changed != 1:
            raise TokenError(f"a token named {name!r} already exists (revoke it first)")
        return token

    async def revoke(self, name: str) -> None:
        check_name(name)
        if await self._storage.execute("DELETE FROM api_tokens WHERE name = ?", (name,)) != 1:
            raise TokenError(f"no token named {name!r}")

    async def names(self) -> list[str]:
        rows = await self._storage.fetch_all("SELECT name FROM api_tokens ORDER BY created, name")
        return [str(r["name"]) for r in rows]

    async def verify(self, presented: str) -> str | None:
        """The name of the token ``presented`` is, or None. Every stored digest is compared."""
        if not (0 < len(presented) <= _MAX_PRESENTED and presented.isascii()):
            return None
        wanted = digest(presented).encode()
        rows = await self._storage.fetch_all("SELECT name, token_sha256 FROM api_tokens")
        found: str | None = None
        for row in rows:
            if hmac.compare_digest(wanted, str(row["token_sha256"]).encode()):
                found = str(row["name"])
        return found
