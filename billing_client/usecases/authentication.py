"""3D Secure for transactions: a fresh link when AMCI says authentication_required, and the
refresh when the customer's browser comes back (``/return/payments/{id}``)."""

from __future__ import annotations

import logging

from billing_client.amci_client import AmciError, AmciUnavailable, Credentials
from billing_client.errors import NotFound
from billing_client.logs import log
from billing_client.storage import Row
from billing_client.usecases import cards, payment_results, payment_systems
from billing_client.usecases.context import Context

logger = logging.getLogger("billing_client")


async def link(ctx: Context, row: Row, creds: Credentials, payment: str, success: int) -> Row:
    """AMCI refused with authentication_required: ask it for a 3D Secure link that brings the
    customer back to this transaction's return page. If AMCI can't give the link, the transaction
    still waits in requires_action, without a link (logged)."""
    fields: Row = {
        "status": "requires_action",
        "amci_payment": payment,
        "amci_status": "requires_action",
        "message": payment_results.AUTHENTICATION_MESSAGE,
        "http_status": success,
        "action_url": None,
    }
    try:
        result = await ctx.amci.authenticate(
            creds, payment, row["return_url"], f"{row['idempotency_key']}-auth-{row['attempts']}"
        )
    except (AmciError, AmciUnavailable) as exc:
        log(logger, "authentication_link_failed", level=logging.WARNING,
            transaction=row["id"], reason=type(exc).__name__)
        return fields
    return fields | payment_results.fields(result, row["currency"])


async def refresh(ctx: Context, txn_id: str) -> Row:
    """The customer is back from 3D Secure: read the payment from AMCI and record its final
    state. Only payments still waiting on something are read; AMCI unreachable leaves the row as
    it was."""
    found = await ctx.db.get_transaction(txn_id)
    if found is None:
        raise NotFound(f"No such transaction: {txn_id}")
    row = found
    if row["operation"] not in ("sale", "authorization") or not row["amci_payment"]:
        return row
    if row["status"] not in ("requires_action", "processing", "authorized"):
        return row
    ps_row = await payment_systems.load(ctx, row["payment_system_id"])
    creds = payment_systems.credentials(ctx, ps_row)
    try:
        result = await ctx.amci.get_payment(creds, row["amci_payment"])
    except (AmciError, AmciUnavailable):
        return row
    fields = payment_results.fields(result, row["currency"])
    if fields["status"] not in ("requires_action", "failed", "expired"):
        fields["message"] = None
    if fields["status"] == row["status"] and fields.get("action_url") == row["action_url"]:
        return row
    fields["http_status"] = fields.get("http_status") or (
        201 if row["operation"] in ("sale", "authorization") else 200)
    fields["updated"] = ctx.now()
    await ctx.db.update("transactions", "id", txn_id, fields)
    if row["save_card"]:
        await cards.refresh_for_payment(ctx, row, result)
    ctx.metrics.transactions.labels(operation=row["operation"], outcome=fields["status"]).inc()
    updated = await ctx.db.get_transaction(txn_id)
    assert updated is not None
    return updated
