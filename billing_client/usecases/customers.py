"""Customers: name, email (needed before a card token) and the currency they pay in."""

from __future__ import annotations

from typing import Any

from billing_client.contract import CustomerCreate, CustomerUpdate
from billing_client.errors import NotFound
from billing_client.storage import Row
from billing_client.usecases.context import Context, new_id


def view(row: Row) -> dict[str, Any]:
    return {
        "object": "customer",
        "id": row["id"],
        "name": row["name"],
        "email": row["email"],
        "currency": row["currency"],
        "created": row["created"],
        "updated": row["updated"],
    }


def amci_payload(customer: Row) -> dict[str, Any]:
    """What AMCI is told about the customer with a card or a payment."""
    payload: dict[str, Any] = {"name": customer["name"], "reference": customer["id"]}
    if customer["email"]:
        payload["email"] = customer["email"]
    return payload


async def load(ctx: Context, customer_id: str) -> Row:
    row = await ctx.db.get_customer(customer_id)
    if row is None:
        raise NotFound(f"No such customer: {customer_id}")
    return row


async def create(ctx: Context, data: CustomerCreate) -> dict[str, Any]:
    now = ctx.now()
    row = {
        "id": new_id("cust"),
        "name": data.name,
        "email": data.email,
        "currency": data.currency,
        "created": now,
        "updated": now,
    }
    await ctx.db.insert("customers", row)
    return view(row)


async def get(ctx: Context, customer_id: str) -> dict[str, Any]:
    return view(await load(ctx, customer_id))


async def list_all(ctx: Context) -> dict[str, Any]:
    return {"object": "list", "data": [view(r) for r in await ctx.db.list_customers()]}


async def update(ctx: Context, customer_id: str, request: CustomerUpdate) -> dict[str, Any]:
    row = await load(ctx, customer_id)
    changes: Row = {name: getattr(request, name) for name in sorted(request.model_fields_set)}
    changes["updated"] = ctx.now()
    await ctx.db.update("customers", "id", customer_id, changes)
    return view({**row, **changes})
