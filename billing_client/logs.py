"""Structured JSON logs with the request id; the same rules as AMCI.

What goes in: event names, methods, route templates, statuses, durations, ids of our own objects
and AMCI's, error codes. What never goes in: card numbers, CVCs, API keys, logins, request or
response bodies. Callers pass fields explicitly (``log(logger, "event", …)``).

Other code logs what it likes: aiohttp's server logger prints the raw bytes of a malformed request
line (an ``Authorization`` header, a token), tracebacks quote arguments. So the formatter passes
every message, field and traceback through ``scrub`` before writing, and ``configure`` routes
uncaught exceptions and warnings through logging too. The scrubber is ``httpkit.scrub``, shared
with AMCI (tests/test_log_scrubbers.py).
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from types import TracebackType
from typing import Any, TextIO

from httpkit.scrub import scrub as scrub
from httpkit.scrub import scrubbed

FIELDS_ATTR = "billing_fields"

# The request being served (set by the middleware, read by the formatter): context-local.
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "billing_client_request_id", default=None
)

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
        return json.dumps(scrubbed(entry), separators=(",", ":"), ensure_ascii=False)


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
