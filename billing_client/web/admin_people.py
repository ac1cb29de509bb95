"""The console's people and money screens: Customers (list, search, a customer's record with
Personal → General info, self-care credentials, saved cards and transactions), E-payments search,
a payment's detail with its history and the capture / refund / void actions, the audit trail."""

from __future__ import annotations

from aiohttp import web

from billing_client import keys
from billing_client.auth import AccountError
from billing_client.contract import Capture, CustomerCreate, CustomerUpdate, RefundCreate
from billing_client.errors import BillingError, PaymentRefused
from billing_client.usecases import audit, cards, customers, follow_ups, search, transactions
from billing_client.web import forms, pages
from billing_client.web.pages import SESSION

CUSTOMER_FIELDS = ("name", "email", "currency")


def _actor(request: web.Request) -> str:
    return request[SESSION].subject


async def _customers_page(
    request: web.Request, values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None, status: int = 200,
) -> web.Response:
    query = request.query.get("q", "")
    found = await search.find_customers(pages.usecases(request), query)
    return pages.render(
        request, "admin/customers.html", status, customers=found, q=query,
        values=values or {"currency": "USD"}, errors=errors or {},
    )


async def list_customers(request: web.Request) -> web.Response:
    return await _customers_page(request)


async def create_customer(request: web.Request) -> web.Response:
    data = await pages.form(request)
    ctx = pages.usecases(request)
    try:
        body = forms.parse(CustomerCreate, {
            "name": forms.text(data, "name"),
            "currency": (forms.text(data, "currency") or "").strip().upper() or None,
            "email": forms.text(data, "email"),
        })
        created = await customers.create(ctx, body)
    except BillingError as exc:
        values = {k: data.get(k, "") for k in CUSTOMER_FIELDS}
        return await _customers_page(request, values, forms.errors(exc, CUSTOMER_FIELDS), 400)
    await audit.record(ctx, _actor(request), "created", "customer", created["id"],
                       f"name {created['name']!r}, currency {created['currency']}")
    return pages.redirect(f"/admin/customers/{created['id']}")


async def _record(
    request: web.Request, customer_id: str, errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None, status: int = 200,
) -> web.Response:
    ctx = pages.usecases(request)
    customer = await customers.get(ctx, customer_id)
    return pages.render(
        request, "admin/customer.html", status, customer=customer,
        cards=(await cards.list_all(ctx, customer_id))["data"],
        history=(await transactions.list_for_customer(ctx, customer_id))["data"],
        self_care=await request.app[keys.CUSTOMER_LOGINS].username(customer_id),
        errors=errors or {}, values=values or {"name": customer["name"],
                                               "email": customer["email"] or ""},
        saved=request.query.get("saved", ""),
        trail=await audit.for_object(ctx, "customer", customer_id),
    )


async def show_customer(request: web.Request) -> web.Response:
    return await _record(request, request.match_info["id"])


async def save_general_info(request: web.Request) -> web.Response:
    customer_id = request.match_info["id"]
    data = await pages.form(request)
    ctx = pages.usecases(request)
    try:
        body = forms.parse(CustomerUpdate, {
            "name": forms.text(data, "name"),
            "email": (data.get("email") or "").strip() or None,
        })
        await customers.update(ctx, customer_id, body)
    except BillingError as exc:
        if exc.status == 404:
            raise
        values = {"name": data.get("name", ""), "email": data.get("email", "")}
        return await _record(request, customer_id, forms.errors(exc, ("name", "email")),
                             values, 400)
    await audit.record(ctx, _actor(request), "changed", "customer", customer_id,
                       "general info (name, email)")
    return pages.redirect(f"/admin/customers/{customer_id}?saved=general")


async def save_self_care(request: web.Request) -> web.Response:
    customer_id = request.match_info["id"]
    data = await pages.form(request)
    ctx = pages.usecases(request)
    await customers.load(ctx, customer_id)
    username = (data.get("self_care_username") or "").strip()
    password = data.get("self_care_password") or None
    try:
        await request.app[keys.CUSTOMER_LOGINS].set(customer_id, username, password)
    except AccountError as exc:
        return await _record(request, customer_id, {exc.field: exc.message}, None, 400)
    if password:
        # A new password ends the customer's open sessions.
        await request.app[keys.SESSIONS].end_all("customer", customer_id)
    await audit.record(ctx, _actor(request), "changed", "customer", customer_id,
                       "self-care username" + (", password replaced" if password else ""))
    return pages.redirect(f"/admin/customers/{customer_id}?saved=self_care")


# -- E-payments -----------------------------------------------------------------------------------


async def search_payments(request: web.Request) -> web.Response:
    q = request.query
    query = search.PaymentQuery(
        status=q.get("status", ""), test_mode=q.get("test_mode", ""),
        date_from=q.get("date_from", ""), date_to=q.get("date_to", ""),
        customer=q.get("customer", ""),
    )
    errors: dict[str, str] = {}
    try:
        found = await search.find_payments(pages.usecases(request), query)
    except BillingError as exc:
        found, errors = [], forms.errors(exc)
    return pages.render(
        request, "admin/payments.html", 400 if errors else 200, payments=found, query=query,
        statuses=search.STATUSES, errors=errors,
    )


async def _payment_page(
    request: web.Request, txn_id: str, errors: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    ctx = pages.usecases(request)
    txn = await transactions.get(ctx, txn_id)
    history = [await transactions.get(ctx, c["id"]) for c in txn.get("related", [])]
    trail = await audit.for_object(ctx, "transaction", txn_id)
    return pages.render(
        request, "admin/payment.html", status, txn=txn, history=history, errors=errors or {},
        trail=trail, customer=await customers.get(ctx, txn["customer"]),
    )


async def show_payment(request: web.Request) -> web.Response:
    return await _payment_page(request, request.match_info["id"])


async def _follow_up(request: web.Request, action: str) -> web.Response:
    txn_id = request.match_info["id"]
    data = await pages.form(request)
    ctx = pages.usecases(request)
    parent = await transactions.load(ctx, txn_id)
    if parent["operation"] not in ("sale", "authorization"):
        return await _payment_page(request, txn_id, {action: "Only a payment has actions."}, 400)
    amount = forms.text(data, "amount")
    try:
        if action == "capture":
            result = await follow_ups.capture(ctx, txn_id, forms.parse(Capture, {
                "amount": amount.strip() if amount else None}))
        elif action == "refund":
            result = await follow_ups.refund(ctx, txn_id, forms.parse(RefundCreate, {
                "amount": amount.strip() if amount else None,
                "reason": forms.text(data, "reason"),
            }))
        else:
            result = await follow_ups.void(ctx, txn_id)
    except BillingError as exc:
        # A refusal after the attempt was recorded (void: Stripe has none) names its child.
        child = (exc.extra.get("transaction") or {}).get("id") if isinstance(
            exc, PaymentRefused) else None
        await audit.record(
            ctx, _actor(request), f"{action} refused", "transaction", txn_id,
            f"{child + ': ' if child else ''}{exc.message}",
        )
        if exc.status == 404:
            raise
        return await _payment_page(request, txn_id, {action: exc.message}, exc.status)
    child_row = result.body
    past = {"capture": "captured", "refund": "refunded", "void": "voided"}[action]
    await audit.record(
        ctx, _actor(request), past, "transaction", txn_id,
        f"{child_row['id']}: {child_row.get('amount') or ''} {child_row['currency']}".strip(),
    )
    return pages.redirect(f"/admin/payments/{txn_id}")


async def capture(request: web.Request) -> web.Response:
    return await _follow_up(request, "capture")


async def refund(request: web.Request) -> web.Response:
    return await _follow_up(request, "refund")


async def void(request: web.Request) -> web.Response:
    return await _follow_up(request, "void")


async def audit_trail(request: web.Request) -> web.Response:
    return pages.render(
        request, "admin/audit.html", entries=await audit.recent(pages.usecases(request))
    )


async def home(request: web.Request) -> web.Response:
    return pages.redirect("/admin/payment-systems")
