"""The test authentication page's state changes: *Complete* or *Fail* on a pending 3D Secure.

"the authentication process displays a mock authentication page. On that page, you can either
authorize or cancel the payment. Authorizing … redirects you to the specified return URL.
Clicking the Failure button simulates an unsuccessful attempt"
(docs.stripe.com/payments/3d-secure/authentication-flow). The return URL gets Stripe's query
parameters: ``payment_intent``/``payment_intent_client_secret`` or
``setup_intent``/``setup_intent_client_secret``, and ``redirect_status``
(docs.stripe.com/payments/save-and-reuse; ``redirect_status`` as observed).
"""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

from amci.testmode.auth import Account
from amci.testmode.errors import CardError
from amci.testmode.resources import payment_attempts, setup_intents
from amci.testmode.resources.context import Context, Json
from amci.testmode.store import Row

KINDS = {"pi": "payment_intent", "seti": "setup_intent"}


def pending(ctx: Context, acct: Account, intent_id: str, nonce: str) -> Row | None:
    """The intent waiting for authentication on the page ``nonce``, or None."""
    kind = KINDS.get(intent_id.partition("_")[0])
    row = ctx.store.get(acct.id, intent_id) if kind else None
    if row is None or row.kind != kind or row.data["status"] != "requires_action":
        return None
    action = row.internal.get("action") or {}
    if not secrets.compare_digest(str(action.get("nonce", "")), nonce):
        return None
    return row


def finish(ctx: Context, acct: Account, row: Row, success: bool) -> str | None:
    """Move the pending intent on; the URL to redirect to (None without a return URL)."""
    return_url = (row.internal.get("action") or {}).get("return_url")
    if row.kind == "payment_intent":
        try:
            status = payment_attempts.after_challenge(ctx, acct, row, success)
        except CardError:  # a decline after authentication is a result, already recorded
            status = "failed"
    else:
        status = setup_intents.after_challenge(ctx, acct, row, success)
    if not return_url:
        return None
    return with_query(return_url, _query(row.data, status))


def with_query(url: str, query: dict[str, str]) -> str:
    """``url`` with ``query`` appended, the rest as given ("You can also append your own query
    parameters … they persist through the redirect process"); before any ``#fragment``."""
    base, hash_, fragment = url.partition("#")
    sep = "" if base.endswith(("?", "&")) else "&" if "?" in base else "?"
    return base + sep + urlencode(query) + hash_ + fragment


def _query(intent: Json, status: str) -> dict[str, str]:
    kind = intent["object"]
    return {kind: intent["id"], f"{kind}_client_secret": intent["client_secret"],
            "redirect_status": status}
