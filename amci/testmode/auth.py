"""API keys → accounts, with Stripe's authentication errors (docs.stripe.com/keys,
docs.stripe.com/api/authentication).

Any well-formed test key (``sk_test_…``/``rk_test_…``) is accepted and is its own account: the
account id and the card-fingerprint secret are derived from the key, which itself is never stored,
logged or echoed (only its masked form ``sk_test_****…wxyz``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from amci.testmode.errors import AuthenticationError, PermissionError_

_TEST_KEY = re.compile(r"^(?:sk|rk)_test_[A-Za-z0-9_]{1,247}$")
_PUBLISHABLE = re.compile(r"^pk_(?:test|live)_")

NO_KEY = (
    "You did not provide an API key. You need to provide your API key in the Authorization"
    " header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See"
    " https://stripe.com/docs/api#authentication for details, or we can help at"
    " https://support.stripe.com/."
)
PUBLISHABLE = (
    "This API call cannot be made with a publishable API key. Please use a secret API key. You"
    " can find a list of your API keys at https://dashboard.stripe.com/account/apikeys."
)


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    fingerprint_secret: bytes = b""

    def __repr__(self) -> str:
        return f"Account({self.id})"


def mask(key: str) -> str:
    """Stripe's masked form: prefix kept, last 4 shown ("sk_test_****…Aso0")."""
    m = re.match(r"^((?:sk|rk|pk)_(?:test|live)_)", key)
    prefix = m.group(1) if m else ""
    rest = key[len(prefix):]
    if len(rest) <= 4:
        return prefix + "*" * len(rest)
    return prefix + "*" * (len(rest) - 4) + rest[-4:]


def key_from_header(header: str | None) -> str:
    """The API key of ``Authorization: Bearer <key>`` or ``Basic base64(<key>:)``."""
    if not header or not header.strip():
        raise AuthenticationError(NO_KEY)
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        key = value
    elif scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise AuthenticationError(
                "Invalid API Key provided: the Basic credentials are not valid base64."
            ) from None
        key = decoded.partition(":")[0]
    else:
        raise AuthenticationError(NO_KEY)
    if not key:
        raise AuthenticationError(NO_KEY)
    return key


def account_for(header: str | None) -> Account:
    key = key_from_header(header)
    if _PUBLISHABLE.match(key):
        raise PermissionError_(PUBLISHABLE, code="secret_key_required")
    if not _TEST_KEY.match(key):
        # Live keys are unknown to a test-mode server, so they are invalid keys here.
        raise AuthenticationError(f"Invalid API Key provided: {mask(key[:255])}")
    digest = hashlib.sha256(b"amci-testmode-account\x00" + key.encode()).hexdigest()
    secret = hashlib.sha256(b"amci-testmode-fingerprint\x00" + key.encode()).digest()
    return Account(id="acct_" + digest[:24], fingerprint_secret=secret)
