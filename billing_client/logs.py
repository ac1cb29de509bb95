"""Structured JSON logs with the request id; the same rules as AMCI.

What goes in: event names, methods, route templates, statuses, durations, ids of our own objects
and AMCI's, error codes. What never goes in: card numbers, CVCs, API keys, logins, request or
response bodies. Callers pass fields explicitly (``log(logger, "event", …)``).

Other code logs what it likes: aiohttp's server logger prints the raw bytes of a malformed request
line (an ``Authorization`` header, a token), tracebacks quote arguments. So the formatter passes
every message, field and traceback through ``scrub`` before writing, and ``configure`` routes
uncaught exceptions and warnings through logging too. AMCI has its own copy of the scrubber
(``amci/logs.py``; the packages never import each other); tests/test_log_scrubbers.py holds both
to the same corpus.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from types import TracebackType
from typing import Any, TextIO

FIELDS_ATTR = "billing_fields"

# The request being served (set by the middleware, read by the formatter): context-local.
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "billing_client_request_id", default=None
)

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


def log(
    logger: logging.Logger,
    event: str,
    *,
    level: int = logging.INFO,
    exc_info: bool = False,
    **fields: Any,
) -> None:
    if logger.isEnabledFor(level):
        logger.log(level, event, exc_info=exc_info, extra={FIELDS_ATTR: fields})


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": round(record.created, 6),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id is not None:
            entry["request_id"] = request_id
        fields = getattr(record, FIELDS_ATTR, None)
        if fields:
            entry.update(fields)
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(_scrubbed(entry), separators=(",", ":"), ensure_ascii=False)


def _log_uncaught(
    kind: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    logging.getLogger("billing_client").critical("uncaught_exception", exc_info=(kind, exc, tb))


def configure(level: str = "INFO", stream: TextIO | None = None) -> None:
    """Process-wide setup for ``billing-client serve`` (tests attach their own handlers): every
    logger, aiohttp's included, writes through the scrubbing JSON formatter; so do uncaught
    exceptions and warnings."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiohttp's access log repeats what our middleware logs, in a non-JSON format.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
