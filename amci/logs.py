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
exceptions and warnings through logging too. The scrubber is ``httpkit.scrub``, shared with the
billing client (tests/test_log_scrubbers.py).
"""

from __future__ import annotations

import json
import logging
import sys
from types import TracebackType
from typing import Any

from httpkit.scrub import scrub as scrub
from httpkit.scrub import scrubbed

FIELDS_ATTR = "amci_fields"

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
        return json.dumps(scrubbed(entry), separators=(",", ":"))


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
