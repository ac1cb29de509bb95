"""Access rules by route family, in one middleware (inside the error middleware, which renders).

============  ==========================================================================
family        rule
============  ==========================================================================
``/api``      ``Authorization: Bearer <token>`` (``auth.Tokens``) on every method, known
              route or not (an unknown ``/api`` path is a 401, not a 404: nothing to map
              without a token). A request that changes state and carries a body must say
              ``Content-Type: application/json`` (415 otherwise); a bodiless POST (void,
              retry) is fine.
service       ``/healthz``, ``/metrics``, ``/openapi.json``: open (probes, scrapers, docs).
``/admin``    an administrator's session; ``/portal``: a customer's; and on every POST the
``/portal``   session's CSRF token (``web/pages.py``, its own middleware, which also renders
              these families' errors as pages). Only the sign-in pages are open.
``/static``   open: the pages' stylesheet.
``/return``   ``GET`` only, open: the customer's browser back from 3D Secure. The page shows
              the outcome's end-user message and nothing else (``api/returns.py``).
callbacks     ``POST /notifications/amci``: no token; authenticated by ``AMCI-Signature``
              alone, checked by its use case (``usecases/notifications.py``).
============  ==========================================================================

Why the content type too: a web page the operator visits can make the browser POST a JSON
text as ``text/plain`` (a "simple" request, no CORS preflight). The bearer token already stops
that — a page cannot add an ``Authorization`` header cross-site without a preflight we never
grant — and refusing anything but ``application/json`` keeps it stopped if a cookie-based
session is ever added to this family by mistake.

Routes added later outside these families bring their own authentication (sessions + CSRF for
pages, signatures for callbacks): ``check_routes`` refuses, at start-up, a route that belongs to
no family, so a new one can't be open by accident.
"""

from __future__ import annotations

from aiohttp import web

from billing_client import keys
from billing_client.api.routes import Handler
from billing_client.errors import Unauthenticated, UnsupportedMediaType

API_PREFIX = "/api"
OPEN_ROUTES = frozenset({"/healthz", "/metrics", "/openapi.json"})
RETURN_PREFIX = "/return/"
PAGE_PREFIXES = ("/admin", "/portal", "/static")
CALLBACK_ROUTES = frozenset({"/notifications/amci"})
_STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _in_api(path: str) -> bool:
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


def check_routes(app: web.Application) -> None:
    """Every route is in a family with a rule; raise on one that isn't."""
    for resource in app.router.resources():
        path = resource.canonical
        if (
            path not in OPEN_ROUTES | CALLBACK_ROUTES
            and not _in_api(path)
            and not path.startswith(RETURN_PREFIX)
            and not any(path == p or path.startswith(p + "/") for p in PAGE_PREFIXES)
        ):
            raise RuntimeError(f"route {path} belongs to no access family (see access.py)")


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    # RFC 7235: the scheme name is case-insensitive.
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def _has_body(request: web.Request) -> bool:
    return request.content_length not in (None, 0) or request.headers.get(
        "Transfer-Encoding", ""
    ).lower().endswith("chunked")


@web.middleware
async def access_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    resource = request.match_info.route.resource
    canonical = resource.canonical if resource is not None else ""
    if not (_in_api(request.path) or _in_api(canonical)):
        return await handler(request)
    presented = _bearer(request)
    name = await request.app[keys.TOKENS].verify(presented) if presented is not None else None
    if name is None:
        raise Unauthenticated()
    request[keys.API_CLIENT] = name
    if request.method in _STATE_CHANGING and _has_body(request):
        if request.content_type != "application/json":
            raise UnsupportedMediaType(
                "Send the request body as JSON, with 'Content-Type: application/json'."
            )
    return await handler(request)
