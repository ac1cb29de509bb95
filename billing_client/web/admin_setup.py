"""The console's setup screens (the spec's "Configure Stripe as your payment processor" and
"Assign Stripe as a payment system for a particular currency"): Financial → E-payments → Payment
systems (list and Create panel), each payment system's page, its Payment methods and Data
protection pages; Financial → Currency management."""

from __future__ import annotations

from aiohttp import web

from billing_client import money
from billing_client.cards import METHODS
from billing_client.contract import CurrencyAssignment, PaymentSystemCreate, PaymentSystemUpdate
from billing_client.errors import BillingError, InvalidRequest
from billing_client.usecases import audit, currencies, payment_systems
from billing_client.web import forms, pages
from billing_client.web.pages import SESSION

PS_FIELDS = ("name", "processor", "login", "password", "test_mode")
PROTECTION = (
    (
        "token_only",
        "Token only",
        "During the first payment, all the credit card information is collected and sent to "
        "Stripe once, and a payment token is created. This token is used for all further "
        "transactions (no need to enter the card information again).",
    ),
    (
        "full_card_except_cvv",
        "Full card info except the CVV",
        "During every payment, all the credit card information is sent to Stripe.",
    ),
)
CURRENCY_HINT = (
    "Transaction limitations apply for Stripe. 0.5 USD is the minimum allowed transaction size "
    "(or the equivalent in another currency, e.g. 0.46 CHF). A payment below the minimum is "
    "refused, and the end user sees, for example, \u201cYour payment must be no less than "
    "0.5 USD\u201d."
)


def _actor(request: web.Request) -> str:
    return request[SESSION].subject


async def payment_systems_page(
    request: web.Request, values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None, status: int = 200,
) -> web.Response:
    listing = await payment_systems.list_all(pages.usecases(request))
    return pages.render(
        request, "admin/payment_systems.html", status, systems=listing["data"],
        values=values or {"processor": "Stripe", "test_mode": "on"}, errors=errors or {},
    )


async def list_payment_systems(request: web.Request) -> web.Response:
    return await payment_systems_page(request)


async def create_payment_system(request: web.Request) -> web.Response:
    data = await pages.form(request)
    ctx = pages.usecases(request)
    try:
        body = forms.parse(PaymentSystemCreate, {
            "name": forms.text(data, "name"),
            "processor": forms.text(data, "processor"),
            "login": forms.text(data, "login"),
            "password": forms.text(data, "password"),
            "test_mode": data.get("test_mode") == "on",
        })
        created = await payment_systems.create(ctx, body)
    except BillingError as exc:
        kept = {k: v for k, v in data.items() if k in ("name", "processor", "login", "test_mode")}
        return await payment_systems_page(request, kept, forms.errors(exc, PS_FIELDS), 400)
    await audit.record(
        ctx, _actor(request), "created", "payment_system", created["id"],
        f"name {created['name']!r}, test mode {'on' if created['test_mode'] else 'off'}",
    )
    return pages.redirect(f"/admin/payment-systems/{created['id']}?saved=1")


async def _system_page(
    request: web.Request, ps_id: str, errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None, status: int = 200,
) -> web.Response:
    ctx = pages.usecases(request)
    system = await payment_systems.get(ctx, ps_id)
    return pages.render(
        request, "admin/payment_system.html", status, ps=system, errors=errors or {},
        values=values or {"name": system["name"],
                          "test_mode": "on" if system["test_mode"] else ""},
        trail=await audit.for_object(ctx, "payment_system", ps_id),
        saved=bool(request.query.get("saved")),
    )


async def show_payment_system(request: web.Request) -> web.Response:
    return await _system_page(request, request.match_info["id"])


async def _update(
    request: web.Request, ps_id: str, body: dict[str, object], what: str
) -> None:
    ctx = pages.usecases(request)
    update = forms.parse(PaymentSystemUpdate, body)
    await payment_systems.update(ctx, ps_id, update)
    await audit.record(ctx, _actor(request), "changed", "payment_system", ps_id, what)


async def update_payment_system(request: web.Request) -> web.Response:
    ps_id = request.match_info["id"]
    data = await pages.form(request)
    body: dict[str, object] = {
        "name": forms.text(data, "name"),
        "login": forms.text(data, "login"),
        "password": forms.text(data, "password"),
        "test_mode": data.get("test_mode") == "on",
    }
    changed = [k for k in ("name", "login", "password") if body[k] is not None]
    what = ", ".join(
        ["name" if k == "name" else f"{k} replaced" for k in changed] + ["test mode"]
    )
    try:
        await _update(request, ps_id, body, what)
    except BillingError as exc:
        if exc.status == 404:
            raise
        values = {"name": data.get("name", ""), "test_mode": data.get("test_mode", "")}
        return await _system_page(request, ps_id, forms.errors(exc, PS_FIELDS), values, 400)
    return pages.redirect(f"/admin/payment-systems/{ps_id}?saved=1")


async def methods_page(request: web.Request) -> web.Response:
    ctx = pages.usecases(request)
    system = await payment_systems.get(ctx, request.match_info["id"])
    return pages.render(
        request, "admin/methods.html", ps=system, methods=list(METHODS), errors={},
        saved=bool(request.query.get("saved")),
    )


async def save_methods(request: web.Request) -> web.Response:
    ps_id = request.match_info["id"]
    data = await request.post()
    chosen = [m for m in METHODS if m in data.getall("method", [])]
    await _update(
        request, ps_id, {"enabled_methods": chosen},
        f"payment methods: {', '.join(chosen) or 'none'}",
    )
    return pages.redirect(f"/admin/payment-systems/{ps_id}/methods?saved=1")


async def protection_page(request: web.Request) -> web.Response:
    ctx = pages.usecases(request)
    system = await payment_systems.get(ctx, request.match_info["id"])
    return pages.render(
        request, "admin/protection.html", ps=system, options=PROTECTION, errors={},
        saved=bool(request.query.get("saved")),
    )


async def save_protection(request: web.Request) -> web.Response:
    ps_id = request.match_info["id"]
    data = await pages.form(request)
    choice = data.get("data_protection", "")
    try:
        await _update(
            request, ps_id, {"data_protection": choice or None},
            f"data protection: {dict((k, n) for k, n, _ in PROTECTION).get(choice, choice)}",
        )
    except BillingError as exc:
        if exc.status == 404:
            raise
        system = await payment_systems.get(pages.usecases(request), ps_id)
        return pages.render(
            request, "admin/protection.html", 400, ps=system, options=PROTECTION,
            errors={"data_protection": "Select one of the options."}, saved=False,
        )
    return pages.redirect(f"/admin/payment-systems/{ps_id}/data-protection?saved=1")


# -- currency management --------------------------------------------------------------------------


async def list_currencies(request: web.Request) -> web.Response:
    ctx = pages.usecases(request)
    listing = (await currencies.list_all(ctx))["data"]
    names = {s["id"]: s["name"] for s in (await payment_systems.list_all(ctx))["data"]}
    wanted = request.query.get("code", "")
    error = {}
    if wanted:
        try:
            return pages.redirect(f"/admin/currencies/{money.currency_code(wanted)}")
        except money.MoneyError as exc:
            error = {"code": exc.message}
    return pages.render(
        request, "admin/currencies.html", 400 if error else 200, currencies=listing,
        names=names, errors=error, code=wanted,
    )


async def _currency_page(
    request: web.Request, code: str, errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None, status: int = 200,
) -> web.Response:
    ctx = pages.usecases(request)
    try:
        upper = money.currency_code(code)
    except money.MoneyError as exc:
        raise InvalidRequest(exc.message, code=exc.code) from None
    try:
        current = await currencies.get(ctx, upper)
    except BillingError:
        current = None
    systems = (await payment_systems.list_all(ctx))["data"]
    return pages.render(
        request, "admin/currency.html", status, code=upper, current=current, systems=systems,
        errors=errors or {}, values=values or {}, hint=CURRENCY_HINT,
        saved=bool(request.query.get("saved")),
        trail=await audit.for_object(ctx, "currency", upper),
    )


async def show_currency(request: web.Request) -> web.Response:
    return await _currency_page(request, request.match_info["code"])


async def save_currency(request: web.Request) -> web.Response:
    code = request.match_info["code"]
    data = await pages.form(request)
    ctx = pages.usecases(request)
    fields = ("system_type", "payment_system", "minimum_payment")
    try:
        if data.get("system_type", "payment_system") != "payment_system":
            raise InvalidRequest("Select Payment system.", param="system_type")
        body = forms.parse(CurrencyAssignment, {
            "payment_system": forms.text(data, "payment_system"),
            "minimum_payment": (data.get("minimum_payment") or "").strip() or None,
        })
        saved = await currencies.put(ctx, code, body)
    except BillingError as exc:
        values = {k: data.get(k, "") for k in fields}
        return await _currency_page(request, code, forms.errors(exc, fields), values, 400)
    system = await payment_systems.get(ctx, saved["payment_system"])
    await audit.record(
        ctx, _actor(request), "changed", "currency", saved["code"],
        f"payment system {system['name']} ({system['id']}), minimum payment "
        f"{saved['minimum_payment_display']}",
    )
    return pages.redirect(f"/admin/currencies/{saved['code']}?saved=1")
