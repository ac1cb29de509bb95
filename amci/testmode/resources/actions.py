"""``next_action`` of an intent waiting for 3D Secure, pointing at the test authentication page.

Stripe: confirming with a ``return_url`` gives ``redirect_to_url`` ({"url", "return_url"}); with
``use_stripe_sdk=true``, or without a return URL, ``use_stripe_sdk`` (whose contents "are only
intended to be used by Stripe.js"; docs.stripe.com/api/payment_intents/object, next_action).
The page URL is stored as a path: ``amci.testmode.pages`` prefixes the public base URL when a
response is written, so URLs follow the ``public_url`` setting across restarts.
"""

from __future__ import annotations

import re
import secrets

from yarl import URL

from amci.testmode.auth import Account
from amci.testmode.errors import InvalidRequestError
from amci.testmode.store import Row
from amci.testmode.wire import new_id

PAGE_PREFIX = "/_testmode/authenticate/"
_CONTROL = re.compile(r"[\x00-\x20\x7f]")


def check_return_url(url: str | None) -> None:
    """``return_url`` must be an absolute URL (an app scheme such as ``myapp://`` is fine: the
    mobile SDKs use them); the customer is redirected there. Wording UNVERIFIED."""
    if url is None:
        return
    parsed = URL(url) if not _CONTROL.search(url) else None
    if parsed is None or not parsed.scheme or (
            parsed.scheme in ("http", "https") and not parsed.host):
        raise InvalidRequestError(
            f"Invalid URL: {url[:200]!r} is not an absolute URL (e.g. https://example.com/done).",
            param="return_url")


def page_path(acct: Account, intent_id: str, nonce: str) -> str:
    return f"{PAGE_PREFIX}{acct.id}/{intent_id}/{nonce}"


def require_action(acct: Account, row: Row, *, return_url: str | None,
                   use_stripe_sdk: bool) -> None:
    """Put the intent in ``row`` into requires_action with a fresh page (an unguessable nonce
    per attempt: a page of an earlier attempt no longer moves the intent)."""
    nonce = secrets.token_urlsafe(18)
    row.internal["action"] = {"nonce": nonce, "return_url": return_url}
    path = page_path(acct, row.id, nonce)
    if return_url is not None and not use_stripe_sdk:
        row.data["next_action"] = {"type": "redirect_to_url",
                                   "redirect_to_url": {"url": path, "return_url": return_url}}
    else:
        # UNVERIFIED: the default for a server-side confirm without return_url; the shape
        # follows an observed three_d_secure_redirect payload.
        row.data["next_action"] = {"type": "use_stripe_sdk", "use_stripe_sdk": {
            "type": "three_d_secure_redirect", "stripe_js": path, "source": new_id("src")}}
    row.data["status"] = "requires_action"


def clear_action(row: Row) -> None:
    row.internal.pop("action", None)
    row.data["next_action"] = None
