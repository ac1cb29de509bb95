"""Structured JSON logs: one line per event, with the request id.

What goes in: event names, route templates, statuses, durations, modes, subscription ids, masked
keys (``sk_test_…wxyz``), Stripe object ids, card brand and last4. What never goes in: card
numbers, CVCs, API keys, logins, request bodies. Fields are passed explicitly by the caller
(``log(logger, "event", request_id=…, …)``) — nothing is scraped from requests.

The stripe SDK's own logger prints request bodies (card numbers) at DEBUG/INFO; AMCI keeps it at
WARNING (see ``quiet_stripe_logger``).

Other code logs what it likes: aiohttp's server logger prints the raw bytes of a malformed request
line (an ``Authorization`` header, a key), tracebacks quote arguments. So the formatter passes every
message, field and traceback through ``scrub`` before writing, and ``configure`` routes uncaught
exceptions and warnings through logging too. The billing client has its own copy of the scrubber
(``billing_client/logs.py``; the packages never import each other); tests/test_log_scrubbers.py
holds both to the same corpus.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from types import TracebackType
from typing import Any

FIELDS_ATTR = "amci_fields"

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


def _scrubbed(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {str(k): _scrubbed(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrubbed(v) for v in value]
    if isinstance(value, bool | float) or value is None:
        return value
    if isinstance(value, int):
        text = scrub(str(value))
        return value if text == str(value) else text
    return scrub(str(value))


def log(logger: logging.Logger, event: str, *, level: int = logging.INFO, **fields: Any) -> None:
    if logger.isEnabledFor(level):
        logger.log(level, event, extra={FIELDS_ATTR: fields})


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": round(record.created, 6),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        fields = getattr(record, FIELDS_ATTR, None)
        if fields:
            entry.update(fields)
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(_scrubbed(entry), separators=(",", ":"))


def quiet_stripe_logger() -> None:
    """The SDK logs "Post details" (form bodies with card numbers) at DEBUG and requests at INFO
    on the ``stripe`` logger; never let those through, whatever the root level is."""
    logging.getLogger("stripe").setLevel(logging.WARNING)


def _log_uncaught(
    kind: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    logging.getLogger("amci").critical("uncaught_exception", exc_info=(kind, exc, tb))


def configure(level: str = "INFO") -> None:
    """Process-wide setup for ``amci serve`` and ``amci stripe-testmode`` (the CLI calls it;
    tests inject their handlers): every logger, aiohttp's included, writes through the scrubbing
    JSON formatter; so do uncaught exceptions and warnings."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    quiet_stripe_logger()
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
