"""Secrets AMCI keeps at rest — the ``whsec_`` of each test-mode webhook endpoint it registered,
and the Stripe key it must fetch objects with when an event arrives — sealed with Fernet
(AES-128-CBC + HMAC-SHA256) under AMCI's encryption key (``notifications.encryption_key``)."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken


class SealingError(ValueError):
    """A sealed value this key cannot open (another key, or tampered)."""


class Sealer:
    __slots__ = ("_fernet",)

    def __init__(self, key: str) -> None:
        try:
            self._fernet = Fernet(key.encode())
        except ValueError:
            raise SealingError("the encryption key must be a Fernet key (32 url-safe base64 "
                               "bytes)") from None

    def seal(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def open(self, sealed: bytes) -> str:
        try:
            return self._fernet.decrypt(sealed).decode()
        except InvalidToken:
            raise SealingError("a sealed value does not open with this key") from None

    def __repr__(self) -> str:
        return "Sealer('•••••')"

    @staticmethod
    def generate() -> str:
        return Fernet.generate_key().decode()
