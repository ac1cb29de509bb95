"""Who may call the billing client: API tokens for machines (``/api``); administrator accounts,
customers' self-care logins and browser sessions for people (``/admin``, ``/portal``).

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


# -- people: administrators and customers' self-care logins ----------------------------------------
#
# Passwords are hashed with scrypt (hashlib, RFC 7914: memory-hard, so a leaked table is slow to
# attack on GPUs): N=2**14, r=8, p=1 is 16 MiB and about 50 ms per check. The stored form names
# its parameters, so they can be raised later without invalidating old hashes.

PEOPLE_SCHEMA = """
CREATE TABLE IF NOT EXISTS admins (
    username TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS customer_logins (
    customer_id TEXT PRIMARY KEY REFERENCES customers(id),
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    updated INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    id_sha256 TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created INTEGER NOT NULL,
    last_seen INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS login_failures (
    key TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    first_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS audit_object ON audit(object_type, object_id, seq);
"""

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{2,63}$")
MIN_PASSWORD = 10
MAX_PASSWORD = 200


class Password(Secret):
    """A password on its way to the hash; prints as ``•••••``."""

    __slots__ = ()
    kind = "password"

    def masked(self) -> str:
        return "•••••"


class AccountError(ValueError):
    """A username or password that can't be used; ``field`` names the form field."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def check_username(username: str, field: str = "username") -> str:
    if not USERNAME_RE.match(username):
        raise AccountError(
            "A username is 3-64 characters: letters, digits, '.', '_', '@' or '-'.", field
        )
    return username


def check_password(password: str, field: str = "password") -> Password:
    if not (MIN_PASSWORD <= len(password) <= MAX_PASSWORD):
        raise AccountError(
            f"A password is {MIN_PASSWORD}-{MAX_PASSWORD} characters long.", field
        )
    return Password(password)


def hash_password(password: Password) -> str:
    salt = secrets.token_bytes(16)
    derived = hashlib.scrypt(
        password.reveal().encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
    )
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${derived.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, expected = stored.split("$")
        if kind != "scrypt":
            return False
        derived = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
            dklen=len(expected) // 2, maxmem=2**26,
        )
    except (ValueError, UnicodeEncodeError):
        return False
    return hmac.compare_digest(derived.hex(), expected)


# Checked against when the username is unknown, so a miss costs as long as a wrong password.
_DUMMY_HASH = hash_password(Password("not-a-password-of-anyone"))


def generate_password() -> str:
    return secrets.token_urlsafe(18)


class Admins:
    """Administrator accounts (``billing-client create-admin``)."""

    def __init__(self, storage: Storage, *, clock: Callable[[], float] = time.time) -> None:
        self._storage = storage
        self._clock = clock

    async def create(self, username: str, password: str) -> None:
        check_username(username)
        hashed = hash_password(check_password(password))
        now = int(self._clock())
        changed = await self._storage.execute(
            "INSERT INTO admins (username, password_hash, created, updated) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(username) DO NOTHING",
            (username, hashed, now, now),
        )
        if changed != 1:
            raise AccountError(f"an administrator named {username!r} already exists", "username")

    async def count(self) -> int:
        row = await self._storage.fetch_one("SELECT COUNT(*) AS n FROM admins")
        return int(row["n"]) if row else 0

    async def verify(self, username: str, password: str) -> str | None:
        row = await self._storage.fetch_one(
            "SELECT username, password_hash FROM admins WHERE username = ?", (username,)
        )
        ok = verify_password(password, row["password_hash"] if row else _DUMMY_HASH)
        return str(row["username"]) if row and ok else None


class CustomerLogins:
    """A customer's self-care credentials, set by an administrator on the customer's record."""

    def __init__(self, storage: Storage, *, clock: Callable[[], float] = time.time) -> None:
        self._storage = storage
        self._clock = clock

    async def set(self, customer_id: str, username: str, password: str | None) -> None:
        """Set the username and (when given) the password; a first setting needs a password."""
        check_username(username, "self_care_username")
        taken = await self._storage.fetch_one(
            "SELECT customer_id FROM customer_logins WHERE username = ?", (username,)
        )
        if taken is not None and taken["customer_id"] != customer_id:
            raise AccountError("This username is taken by another customer.", "self_care_username")
        current = await self.username(customer_id)
        if password is None or password == "":
            if current is None:
                raise AccountError("Set a password for the self-care portal.", "self_care_password")
            await self._storage.execute(
                "UPDATE customer_logins SET username = ?, updated = ? WHERE customer_id = ?",
                (username, int(self._clock()), customer_id),
            )
            return
        hashed = hash_password(check_password(password, "self_care_password"))
        await self._storage.execute(
            "INSERT INTO customer_logins (customer_id, username, password_hash, updated) "
            "VALUES (?, ?, ?, ?) ON CONFLICT(customer_id) DO UPDATE SET "
            "username = excluded.username, password_hash = excluded.password_hash, "
            "updated = excluded.updated",
            (customer_id, username, hashed, int(self._clock())),
        )

    async def username(self, customer_id: str) -> str | None:
        row = await self._storage.fetch_one(
            "SELECT username FROM customer_logins WHERE customer_id = ?", (customer_id,)
        )
        return str(row["username"]) if row else None

    async def verify(self, username: str, password: str) -> str | None:
        """The customer id these credentials belong to, or None."""
        row = await self._storage.fetch_one(
            "SELECT customer_id, password_hash FROM customer_logins WHERE username = ?",
            (username,),
        )
        ok = verify_password(password, row["password_hash"] if row else _DUMMY_HASH)
        return str(row["customer_id"]) if row and ok else None
