"""The self-care portal: a customer, signed in with the credentials an administrator set on
their record, sees and deletes their saved cards, adds one (how it is kept follows the payment
system's data protection), pays in their currency, and sees every payment's end-user message
exactly as AMCI worded it ("Your payment must be no less than 0.5 USD"). A payment that needs 3D
Secure shows a link to the bank's check; the customer comes back to the result.

Every page is the signed-in customer's own: ids in paths are looked up within that customer's
records only, so another customer's card or payment is "not found", never shown."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from billing_client.api.wire import return_base
from billing_client.contract import CardSave, CustomerUpdate, PaymentCreate
from billing_client.errors import BillingError, NotFound
from billing_client.usecases import (
    authentication,
    cards,
    currencies,
    customers,
    payments,
    transactions,
)
from billing_client.web import forms, pages
from billing_client.web.pages import SESSION

CARD_FIELDS = ("card.number", "card.exp_month", "card.exp_year", "card.cvc", "card.holder")
PAY_FIELDS = ("amount", "card_id")
EMAIL_NEEDED = (
    "Set your email address first (My details): a card can't be saved without it."
)


def _me(request: web.Request) -> str:
    return request[SESSION].subject


async def _home(
    request: web.Request, errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None, status: int = 200,
) -> web.Response:
    ctx = pages.usecases(request)
    me = _me(request)
    customer = await customers.get(ctx, me)
    protection = None
    try:
        _, ps_row = await currencies.assignment(ctx, customer["currency"])
        protection = ps_row["data_protection"]
    except BillingError:
        pass
    history = list(reversed((await transactions.list_for_customer(ctx, me))["data"]))
    return pages.render(
        request, "portal/home.html", status, customer=customer,
        cards=(await cards.list_all(ctx, me))["data"], history=history,
        protection=protection, errors=errors or {}, values=values or {},
        notice=request.query.get("notice", ""),
    )


async def home(request: web.Request) -> web.Response:
    return await _home(request)


async def add_card(request: web.Request) -> web.Response:
    data = await pages.form(request)
    ctx = pages.usecases(request)
    card: dict[str, Any] = {
        "number": (data.get("card.number") or "").replace(" ", "") or None,
        "exp_month": forms.number(forms.text(data, "card.exp_month")),
        "exp_year": forms.number(forms.text(data, "card.exp_year")),
        "cvc": forms.text(data, "card.cvc"),
        "holder": forms.text(data, "card.holder"),
    }
    try:
        body = forms.parse(CardSave, {"card": {k: v for k, v in card.items() if v is not None}})
        result = await cards.add(ctx, _me(request), body, None, return_base(request))
    except BillingError as exc:
        if exc.code == "email_required":
            return await _home(request, {"email": EMAIL_NEEDED}, None, 400)
        errs = forms.errors(exc, CARD_FIELDS)
        if "form" in errs:
            errs = {"card.number": errs["form"]}
        values = {"holder": data.get("card.holder", "")}
        return await _home(request, errs, values, 400)
    saved = result.body
    if saved.get("status") == "requires_action" and saved.get("action_url"):
        return pages.render(request, "portal/authenticate.html", link=saved["action_url"],
                            what="card")
    return pages.redirect("/portal/?notice=card_saved")


async def delete_card(request: web.Request) -> web.Response:
    ctx = pages.usecases(request)
    await cards.delete(ctx, _me(request), request.match_info["id"])
    return pages.redirect("/portal/?notice=card_deleted")


async def save_details(request: web.Request) -> web.Response:
    data = await pages.form(request)
    ctx = pages.usecases(request)
    try:
        body = forms.parse(CustomerUpdate, {"email": (data.get("email") or "").strip() or None})
        await customers.update(ctx, _me(request), body)
    except BillingError as exc:
        return await _home(request, {"email": exc.message}, {"email": data.get("email", "")},
                           400)
    return pages.redirect("/portal/?notice=details_saved")


async def pay(request: web.Request) -> web.Response:
    data = await pages.form(request)
    ctx = pages.usecases(request)
    try:
        body = forms.parse(PaymentCreate, {
            "amount": (data.get("amount") or "").strip() or None,
            "card_id": forms.text(data, "card_id"),
        })
        result = await payments.pay(ctx, _me(request), body, None, return_base(request))
    except BillingError as exc:
        # A recorded refusal (below the minimum, declined, pending …) is shown on its own page
        # with the end-user message; a form mistake next to its field.
        txn = exc.extra.get("transaction") or {}
        if txn.get("id"):
            return pages.redirect(f"/portal/payments/{txn['id']}")
        errs = forms.errors(exc, PAY_FIELDS)
        if "form" in errs:
            errs = {"amount": errs["form"]}
        return await _home(request, errs, _pay_values(data), 400)
    return pages.redirect(f"/portal/payments/{result.body['id']}")


def _pay_values(data: dict[str, str] | Any) -> dict[str, str]:
    return {"amount": data.get("amount", ""), "card_id": data.get("card_id", "")}


MESSAGES = {
    "succeeded": "The payment was successful.",
    "authorized": "The payment was authorized.",
    "captured": "The payment was successful.",
    "refunded": "The payment was refunded.",
    "partially_refunded": "The payment was partly refunded.",
    "requires_action": "Your bank asks you to confirm this payment.",
    "pending": "The payment is being processed.",
    "processing": "The payment is being processed.",
    "canceled": "The payment was canceled.",
}


async def show_payment(request: web.Request) -> web.Response:
    ctx = pages.usecases(request)
    txn_id = request.match_info["id"]
    row = await transactions.load(ctx, txn_id)
    if row["customer_id"] != _me(request) or row["operation"] not in ("sale", "authorization"):
        raise NotFound("There is no such payment.")
    if row["status"] == "requires_action":
        row = await authentication.refresh(ctx, txn_id)
    txn = transactions.view(row)
    message = txn["message"] or MESSAGES.get(txn["status"], "")
    return pages.render(request, "portal/payment.html", txn=txn, message=message)
