"""Secrets in memory (masked types) and at rest (Fernet).

- ``Secret`` and its kinds (``ApiKey``, ``Login``, ``CardNumber``, ``Cvc``) print masked in every
  ``repr``/``str``/f-string, so a stray log line or error message shows ``sk_test_…wxyz`` or
  ``•••• 4242``, never the value. ``.reveal()`` is called only where the plaintext has to leave
  the process: the AMCI wire (``amci_client``) and the sealing below.
- ``Vault`` encrypts what the billing client must keep (the Stripe key and login of each payment
  system; under ``full_card_except_cvv`` the card number and expiry) with Fernet
  (AES-128-CBC + HMAC-SHA256). The CVC is never given to the vault: PCI DSS forbids storing it
  after authorization, and the spec's option is literally "full card info except the CVV".
- ``Vault.fingerprint`` is a keyed hash (HMAC) used to compare idempotent requests without storing
  the card data they carried.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any, ClassVar

from cryptography.fernet import Fernet, InvalidToken


class CryptoError(ValueError):
    """Bad key material or an undecryptable value (wrong key, tampered database)."""


class Secret:
    """A string that never prints itself."""

    __slots__ = ("_value",)
    kind: ClassVar[str] = "secret"

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def masked(self) -> str:
        return "•" * 5

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.masked()!r})"

    def __str__(self) -> str:
        return self.masked()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret) or type(other) is not type(self):
            return False
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._value))

    def __reduce__(self) -> Any:  # pragma: no cover - defensive: never pickle plaintext
        raise TypeError("secrets are not picklable")


class ApiKey(Secret):
    """A Stripe API key; masked like Stripe's dashboard: ``sk_test_…wxyz``."""

    __slots__ = ()
    kind = "api_key"

    def masked(self) -> str:
        value = self._value
        for prefix in ("sk_test_", "sk_live_", "rk_test_", "rk_live_", "pk_test_", "pk_live_"):
            if value.startswith(prefix) and len(value) >= len(prefix) + 8:
                return f"{prefix}…{value[-4:]}"
        return "•" * 5

    @property
    def mode(self) -> str | None:
        """``"test"``, ``"live"`` or ``None`` (not a Stripe key), from the key's prefix."""
        for mode in ("test", "live"):
            if any(self._value.startswith(f"{kind}_{mode}_") for kind in ("sk", "rk", "pk")):
                return mode
        return None

    @property
    def publishable(self) -> bool:
        return self._value.startswith("pk_")


class Login(Secret):
    """The payment system's login: mandatory, ignored by AMCI, still never shown."""

    __slots__ = ()
    kind = "login"


class CardNumber(Secret):
    """A PAN (digits only). Masked as its last four."""

    __slots__ = ()
    kind = "card_number"

    def masked(self) -> str:
        return f"•••• {self._value[-4:]}"

    @property
    def last4(self) -> str:
        return self._value[-4:]


class Cvc(Secret):
    __slots__ = ()
    kind = "cvc"


class Vault:
    """Fernet encryption at rest plus a keyed fingerprint, from one configured key."""

    def __init__(self, key: Secret) -> None:
        raw = key.reveal().encode()
        try:
            self._fernet = Fernet(raw)
        except (ValueError, TypeError) as exc:
            raise CryptoError(
                "encryption key must be a Fernet key (32 url-safe base64-encoded bytes); "
                "generate one with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'"
            ) from exc
        # A separate key for fingerprints, derived so that one configured secret is enough.
        self._mac_key = hashlib.sha256(b"billing-client fingerprint\x00" + raw).digest()

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode()

    def seal(self, secret: Secret) -> str:
        return self._fernet.encrypt(secret.reveal().encode()).decode()

    def seal_json(self, data: dict[str, Any]) -> str:
        """Encrypt a small JSON document (a stored card: number and expiry, never the CVC)."""
        if "cvc" in data:
            raise CryptoError("the CVC is never stored")
        text = json.dumps(data, separators=(",", ":"), default=_reveal_for_storage)
        return self._fernet.encrypt(text.encode()).decode()

    def open(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise CryptoError("stored secret cannot be decrypted with the configured key") from exc

    def open_json(self, token: str) -> dict[str, Any]:
        data = json.loads(self.open(token))
        if not isinstance(data, dict):
            raise CryptoError("stored document is not an object")
        return data

    def fingerprint(self, data: Any) -> str:
        """HMAC-SHA256 of a canonical JSON rendering; secrets inside are revealed only here."""
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=_reveal_for_mac)
        return hmac.new(self._mac_key, canonical.encode(), hashlib.sha256).hexdigest()


def _reveal_for_storage(value: object) -> str:
    if isinstance(value, Cvc):
        raise CryptoError("the CVC is never stored")
    if isinstance(value, Secret):
        return value.reveal()
    raise TypeError(f"cannot store {type(value).__name__}")


def _reveal_for_mac(value: object) -> str:
    if isinstance(value, Secret):
        return f"{value.kind}:{value.reveal()}"
    raise TypeError(f"cannot fingerprint {type(value).__name__}")
