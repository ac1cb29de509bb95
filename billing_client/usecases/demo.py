"""The demo payment system from the settings, created once at start-up (by name)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from billing_client import contract
from billing_client.usecases import currencies, payment_systems
from billing_client.usecases.context import Context


async def seed_payment_system(
    ctx: Context, body: Mapping[str, Any], currency_minimums: Mapping[str, str]
) -> str:
    """Create the configured demo payment system once (by name) and assign its currencies."""
    existing = await ctx.db.find_payment_system_by_name(str(body.get("name")))
    if existing is None:
        request = contract.parse(contract.PaymentSystemCreate, dict(body))
        ps_id = (await payment_systems.create(ctx, request))["id"]
    else:
        ps_id = existing["id"]
    for code, minimum in currency_minimums.items():
        if await ctx.db.get_currency(code.upper()) is None:
            assignment = contract.CurrencyAssignment(payment_system=ps_id, minimum_payment=minimum)
            await currencies.put(ctx, code, assignment)
    return str(ps_id)
