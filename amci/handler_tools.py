"""What every handler does the same way: read the body once through the contract, read path ids,
the caller, today's date, count outcomes, and where browsers reach the 3D Secure pages."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel

from amci import contract, keys
from amci.auth import Principal
from amci.errors import AmciError, AuthenticationRequired, NotFound, UpstreamError

_ID_RE = re.compile(contract.ID_PATTERN)
M = TypeVar("M", bound=BaseModel)


async def parse(request: web.Request, model: type[M]) -> M:
    """The body as ``model``: the one call into the contract per handler."""
    return contract.parse(model, await request.read())


def metadata(
    given: Mapping[str, str] | None, reference: str | None, customer_reference: str | None
) -> dict[str, str]:
    """Stripe metadata (docs.stripe.com/metadata): the caller's keys (``contract.Metadata``
    checked them) plus AMCI's ``reference`` and ``customer_reference``."""
    meta = dict(given or {})
    if reference is not None:
        meta["reference"] = reference
    if customer_reference is not None:
        meta["customer_reference"] = customer_reference
    return meta


def canonical(req: BaseModel) -> dict[str, Any]:
    """What an Idempotency-Key is bound to: the parameters as the caller sent them."""
    return req.model_dump(mode="json", exclude_unset=True)


def path_id(request: web.Request, name: str, param: str) -> str:
    value = request.match_info[name]
    if not _ID_RE.match(value):
        raise NotFound(f"No such {param}: the id is malformed.", param=param)
    return value


def principal(request: web.Request) -> Principal:
    return request[keys.PRINCIPAL]


def today(request: web.Request) -> date:
    return datetime.fromtimestamp(request.app[keys.CLOCK](), UTC).date()


def count(request: web.Request, operation: str, outcome: str, currency: str = "none") -> None:
    mode = principal(request).mode.value
    metrics = request.app[keys.METRICS]
    metrics.child(metrics.payments, operation, outcome, mode, currency).inc()


def refused(request: web.Request, operation: str, exc: AmciError, currency: str = "none") -> None:
    if isinstance(exc, AuthenticationRequired) or exc.code == "authentication_required":
        outcome = "requires_action"
    elif isinstance(exc, UpstreamError) and exc.status == 402:
        outcome = "declined"
    elif isinstance(exc, UpstreamError) or exc.status >= 500:
        outcome = "failed"
    else:
        outcome = "refused"
    count(request, operation, outcome, currency)


def pages(request: web.Request) -> tuple[str, str] | None:
    """(the embedded test mode's loopback address, the address this request reached AMCI at),
    when AMCI runs the test mode itself and no ``testmode.public_url`` is configured: its 3D
    Secure page URLs are then moved onto AMCI, which proxies them (``pages.py``)."""
    embedded = request.app.get(keys.EMBEDDED_TESTMODE)
    if embedded is None or request.app[keys.SETTINGS].testmode.public_url is not None:
        return None
    return embedded, f"{request.scheme}://{request.host}"
