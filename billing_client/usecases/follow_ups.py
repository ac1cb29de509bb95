"""Follow-ups of a payment: capture an authorization, refund a captured payment, void a payment.

Each is a child transaction of the payment, written before AMCI is called and sent under its own
key (see ``transactions``); one follow-up per payment is decided at a time.
"""

from __future__ import annotations

import uuid
from typing import Any

from billing_client import money
from billing_client.contract import Capture, RefundCreate
from billing_client.errors import InvalidRequest, invalid
from billing_client.storage import Row
from billing_client.usecases import transactions
from billing_client.usecases.context import Context, Result, new_id
from billing_client.usecases.payments import amount_minor

_REFUNDABLE = ("succeeded", "captured", "partially_refunded")


async def _child(
    ctx: Context,
    parent: Row,
    op: str,
    amount_minor: int | None,
    amci_body: dict[str, Any],
    request_key: str | None,
    fingerprint: str,
) -> Row:
    now = ctx.now()
    txn_id = new_id("txn")
    row: Row = {
        "id": txn_id,
        "customer_id": parent["customer_id"],
        "payment_system_id": parent["payment_system_id"],
        "operation": op,
        "parent_id": parent["id"],
        "card_id": parent["card_id"],
        "card_source": parent["card_source"],
        "card_brand": parent["card_brand"],
        "card_last4": parent["card_last4"],
        "currency": parent["currency"],
        "amount_minor": amount_minor,
        "status": "pending",
        "idempotency_key": f"bc-{txn_id}-{uuid.uuid4().hex[:16]}",
        "request_scope": f"{op}:{parent['id']}" if request_key else None,
        "request_key": request_key,
        "request_fingerprint": fingerprint,
        "request_sealed": ctx.vault.seal_json(amci_body),
        "amci_payment": parent["amci_payment"],
        "attempts": 0,
        "created": now,
        "updated": now,
    }
    await ctx.db.insert("transactions", row)
    return row


async def capture(
    ctx: Context, txn_id: str, data: Capture, request_key: str | None = None
) -> Result:
    parent = await transactions.load(ctx, txn_id)
    wanted = amount_minor(data.amount, parent["currency"]) if data.amount is not None else None
    fingerprint = ctx.vault.fingerprint(
        {"capture": data.model_dump(mode="json", exclude_unset=True)}
    )
    replay = await transactions.replay(
        ctx, f"capture:{txn_id}", request_key, fingerprint, None, 200
    )
    if replay is not None:
        return replay
    async with ctx.exclusive(f"follow-up:{txn_id}"):
        parent = await transactions.load(ctx, txn_id)
        if parent["operation"] != "authorization" or parent["status"] != "authorized":
            raise InvalidRequest(
                "Only an authorization that has not been captured yet can be captured; this "
                f"transaction is a {parent['operation']} in status {parent['status']}.",
                code="transaction_not_capturable",
            )
        amount = wanted if wanted is not None else parent["amount_minor"]
        if amount > parent["amount_minor"]:
            raise invalid(
                "amount",
                "The capture amount is greater than the authorized amount "
                f"({money.format_amount(parent['amount_minor'], parent['currency'])}).",
            )
        amci_body = {"amount": money.format_amount(amount, parent["currency"])}
        row = await _child(ctx, parent, "capture", amount, amci_body, request_key, fingerprint)
    async with ctx.exclusive(row["id"]):
        return await transactions.attempt(ctx, row, None, 200)


async def refund(
    ctx: Context, txn_id: str, data: RefundCreate, request_key: str | None = None
) -> Result:
    parent = await transactions.load(ctx, txn_id)
    wanted = amount_minor(data.amount, parent["currency"]) if data.amount is not None else None
    fingerprint = ctx.vault.fingerprint(
        {"refund": data.model_dump(mode="json", exclude_unset=True)}
    )
    replay = await transactions.replay(ctx, f"refund:{txn_id}", request_key, fingerprint, None, 201)
    if replay is not None:
        return replay
    async with ctx.exclusive(f"follow-up:{txn_id}"):
        parent = await transactions.load(ctx, txn_id)
        if (
            parent["operation"] not in ("sale", "authorization")
            or parent["status"] not in _REFUNDABLE
        ):
            code = (
                "charge_already_refunded"
                if parent["status"] == "refunded"
                else "transaction_not_refundable"
            )
            raise InvalidRequest(
                "Only a captured payment can be refunded; this transaction is a "
                f"{parent['operation']} in status {parent['status']}.",
                code=code,
            )
        pending = sum(
            int(c["amount_minor"] or 0)
            for c in await ctx.db.children(txn_id)
            # A refund whose outcome is unknown may have gone through: it stays reserved too.
            if c["operation"] == "refund" and c["status"] in ("pending", "unknown")
        )
        remaining = (
            int(parent["amount_captured_minor"]) - int(parent["amount_refunded_minor"]) - pending
        )
        amount = wanted if wanted is not None else remaining
        cur = parent["currency"]
        if remaining <= 0:
            raise InvalidRequest(
                "Nothing left to refund on this payment (refunds still pending or of unknown "
                "outcome count too).",
                code="charge_already_refunded",
            )
        if amount > remaining:
            raise invalid(
                "amount",
                f"Refund amount ({money.format_amount(amount, cur)} {cur}) is greater than the "
                f"amount left to refund ({money.format_amount(remaining, cur)} {cur}).",
            )
        amci_body: dict[str, Any] = {"amount": money.format_amount(amount, cur)}
        if data.reason:
            amci_body["reason"] = data.reason
        row = await _child(ctx, parent, "refund", amount, amci_body, request_key, fingerprint)
    async with ctx.exclusive(row["id"]):
        return await transactions.attempt(ctx, row, None, 201)


async def void(ctx: Context, txn_id: str) -> Result:
    parent = await transactions.load(ctx, txn_id)
    if parent["operation"] not in ("sale", "authorization") or not parent["amci_payment"]:
        raise InvalidRequest(
            "Only a payment known to the payment system can be voided.",
            code="transaction_not_voidable",
        )
    row = await _child(ctx, parent, "void", None, {}, None, "")
    async with ctx.exclusive(row["id"]):
        return await transactions.attempt(ctx, row, None, 200)
