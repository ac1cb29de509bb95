"""Structured JSON logs with the request id; the same rules as AMCI.

What goes in: event names, methods, route templates, statuses, durations, ids of our own objects
and AMCI's, error codes. What never goes in: card numbers, CVCs, API keys, logins, request or
response bodies. Callers pass fields explicitly (``log(logger, "event", …)``); as a safety net the
formatter also masks anything shaped like a Stripe key or a card number.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
from typing import Any, TextIO

FIELDS_ATTR = "billing_fields"

# The request being served (set by the middleware, read by the formatter): context-local.
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "billing_client_request_id", default=None
)

_KEY_RE = re.compile(r"\b([sprk]k_(?:test|live)_)[A-Za-z0-9]{4,}([A-Za-z0-9]{4})\b")
_PAN_RE = re.compile(r"\b\d(?:[ -]?\d){11,18}\b")


def scrub(text: str) -> str:
    text = _KEY_RE.sub(lambda m: f"{m[1]}…{m[2]}", text)
    return _PAN_RE.sub(lambda m: "•••• " + re.sub(r"\D", "", m[0])[-4:], text)


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
        return scrub(json.dumps(entry, default=str, separators=(",", ":"), ensure_ascii=False))


def configure(level: str = "INFO", stream: TextIO | None = None) -> None:
    """Process-wide setup for ``billing-client serve`` (tests attach their own handlers)."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiohttp's access log repeats what our middleware logs, in a non-JSON format.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
