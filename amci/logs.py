"""Structured JSON logs: one line per event, with the request id.

What goes in: event names, route templates, statuses, durations, modes, subscription ids, masked
keys (``sk_test_…wxyz``), Stripe object ids, card brand and last4. What never goes in: card
numbers, CVCs, API keys, logins, request bodies. Fields are passed explicitly by the caller
(``log(logger, "event", request_id=…, …)``) — nothing is scraped from requests.

The stripe SDK's own logger prints request bodies (card numbers) at DEBUG/INFO; AMCI keeps it at
WARNING (see ``quiet_stripe_logger``).
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

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
        return json.dumps(entry, default=str, separators=(",", ":"))

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))


def quiet_stripe_logger() -> None:
    """The SDK logs "Post details" (form bodies with card numbers) at DEBUG and requests at INFO
    on the ``stripe`` logger; never let those through, whatever the root level is."""
    logging.getLogger("stripe").setLevel(logging.WARNING)


def configure(level: str = "INFO") -> None:
    """Process-wide setup for ``amci serve`` (the CLI calls it; tests inject their handlers)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    quiet_stripe_logger()
