"""``/return/payments/{id}`` and ``/return/cards/{id}``: where the customer's browser lands after
3D Secure (the ``return_url`` the billing client gave AMCI).

No bearer token (a customer's browser has none): the page reads the payment or card fresh from
AMCI, records the outcome, and shows the end-user message and nothing else — no amounts, card
digits, ids or links. The ids are random (``txn_`` / ``card_`` plus 64 bits).
"""

from __future__ import annotations

import html

from aiohttp import web

from billing_client.api.wire import usecases
from billing_client.errors import NotFound
from billing_client.usecases import authentication, cards, payment_results

_PAYMENT_MESSAGES = {
    "succeeded": "The payment was successful.",
    "authorized": "The payment was authorized.",
    "requires_action": payment_results.AUTHENTICATION_MESSAGE,
    "expired": payment_results.EXPIRED_MESSAGE,
    "canceled": "The payment was canceled.",
}
_CARD_MESSAGES = {
    "active": "The card was saved.",
    "requires_action": "Additional authentication is required to save this card.",
}
_PROCESSING = "The payment is being processed."


def _page(title: str, message: str, status: int = 200) -> web.Response:
    body = (
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title></head><body>"
        f"<h1>{html.escape(title)}</h1><p id=\"message\">{html.escape(message)}</p>"
        # The self-care portal's customers go back to their account (they sign in if needed).
        "<p><a href=\"/portal/\">Back to your account</a></p>"
        "</body></html>"
    )
    return web.Response(
        text=body, status=status, content_type="text/html",
        # The outcome is the customer's: never cached by a shared proxy.
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


async def payment(request: web.Request) -> web.Response:
    try:
        row = await authentication.refresh(usecases(request), request.match_info["id"])
    except NotFound:
        return _page("Payment", "No such payment.", 404)
    if row["operation"] not in ("sale", "authorization"):
        return _page("Payment", "No such payment.", 404)
    status = row["status"]
    message = (
        row["message"] if status == "failed" and row["message"] else
        _PAYMENT_MESSAGES.get(status, _PROCESSING)
    )
    return _page("Payment", message)


async def card(request: web.Request) -> web.Response:
    row = await cards.returned(usecases(request), request.match_info["id"])
    if row is None:
        return _page("Card", "No such card.", 404)
    status = row["status"]
    message = _CARD_MESSAGES.get(status) or row.get("message") or "The card was not saved."
    return _page("Card", message)
