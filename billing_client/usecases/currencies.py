"""Currencies: which payment system takes a currency, and its minimum payment (the spec's
"0.5 USD", "0.46 CHF"). A customer pays through the payment system assigned to their currency."""

from __future__ import annotations

from typing import Any

from billing_client import money
from billing_client.contract import CurrencyAssignment
from billing_client.errors import InvalidRequest, NotFound
from billing_client.storage import Row
from billing_client.usecases import payment_systems
from billing_client.usecases.context import Context


def view(row: Row) -> dict[str, Any]:
    code = row["code"]
    return {
        "object": "currency",
        "code": code,
        "payment_system": row["payment_system_id"],
        "minimum_payment": money.format_amount(row["minimum_minor"], code),
        "minimum_payment_display": money.human(row["minimum_minor"], code),
        "updated": row["updated"],
    }


def _code(code: str) -> str:
    try:
        return money.currency_code(code)
    except money.MoneyError as exc:
        raise InvalidRequest(exc.message, code=exc.code, param="currency") from exc


async def put(ctx: Context, code: str, request: CurrencyAssignment) -> dict[str, Any]:
    upper = _code(code)
    try:
        minimum = money.parse_amount(request.minimum_payment, upper)
    except money.MoneyError as exc:
        raise InvalidRequest(exc.message, code=exc.code, param="minimum_payment") from exc
    await payment_systems.load(ctx, request.payment_system, param="payment_system")
    await ctx.db.put_currency(upper, request.payment_system, minimum, ctx.now())
    row = await ctx.db.get_currency(upper)
    assert row is not None
    return view(row)


async def get(ctx: Context, code: str) -> dict[str, Any]:
    upper = _code(code)
    row = await ctx.db.get_currency(upper)
    if row is None:
        raise NotFound(f"No payment system is assigned to {upper}.")
    return view(row)


async def list_all(ctx: Context) -> dict[str, Any]:
    rows = await ctx.db.list_currencies()
    return {"object": "list", "data": [view(r) for r in rows]}


async def assignment(ctx: Context, currency: str) -> tuple[Row, Row]:
    """The customer's currency → (currency row, payment system row), or a clear refusal."""
    cur = await ctx.db.get_currency(currency)
    if cur is None:
        raise InvalidRequest(
            f"No payment system is assigned to {currency}: assign one with "
            f"PUT /api/currencies/{currency}.",
            code="currency_not_configured",
            param="currency",
        )
    return cur, await payment_systems.load(ctx, cur["payment_system_id"])
