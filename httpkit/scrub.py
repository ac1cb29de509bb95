"""Secrets out of text: card numbers, CVCs, Stripe keys, webhook secrets, HTTP credentials.

Both services' log formatters pass every message, field and traceback through ``scrub`` before
writing: other code logs what it likes (aiohttp's server logger prints the raw bytes of a
malformed request line — an ``Authorization`` header, a key; tracebacks quote arguments).
"""

from __future__ import annotations

import re
from typing import Any

# 12-19 digits, single spaces or dashes allowed between them (how card numbers are written).
_DIGIT_RUN_RE = re.compile(r"(?<![0-9])[0-9](?:[ -]?[0-9]){11,}(?![0-9])")
# Stripe secret and restricted keys, webhook signing secrets: the secret part goes.
_KEY_RE = re.compile(r"(?<![A-Za-z0-9])((?:sk|rk)_(?:test|live)_|whsec_)[A-Za-z0-9]+")
# A CVC field in any notation: "cvc": "123", cvc=123, card[cvc]=123, 'cvv': 1234.
_CVC_RE = re.compile(r"""(?i)((?:cvc|cvv|cvn|csc)[0-9]?[\]"']*\s*[:=]\s*[\"']*)[0-9]{3,4}""")
# HTTP credentials: "Basic <base64>", "Bearer <token>", and whole Authorization header lines.
_CREDENTIAL_RE = re.compile(r"(?i)\b(basic|bearer)\s+[A-Za-z0-9+/=._~-]+")
_AUTH_HEADER_RE = re.compile(r"(?i)\b((?:proxy-)?authorization)\s*[:=][^\r\n'\"]*")
_REDACTED = "[redacted]"


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _mask_pan(match: re.Match[str]) -> str:
    """Any Luhn-valid 12-19 digit stretch inside the run masks the run (last4 stays, as logged
    for cards anyway)."""
    digits = re.sub(r"[ -]", "", match[0])
    for size in range(12, min(19, len(digits)) + 1):
        for start in range(len(digits) - size + 1):
            if _luhn_ok(digits[start : start + size]):
                return "••••" + digits[-4:]
    return match[0]


def scrub(text: str) -> str:
    """``text`` without card numbers, CVCs, Stripe keys, webhook secrets or HTTP credentials."""
    text = _AUTH_HEADER_RE.sub(lambda m: f"{m[1]}: {_REDACTED}", text)
    text = _CREDENTIAL_RE.sub(lambda m: f"{m[1]} {_REDACTED}", text)
    text = _KEY_RE.sub(lambda m: f"{m[1]}{_REDACTED}", text)
    text = _CVC_RE.sub(lambda m: f"{m[1]}***", text)
    return _DIGIT_RUN_RE.sub(_mask_pan, text)


def scrubbed(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {str(k): scrubbed(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrubbed(v) for v in value]
    if isinstance(value, bool | float) or value is None:
        return value
    if isinstance(value, int):
        text = scrub(str(value))
        return value if text == str(value) else text
    return scrub(str(value))
