"""The ledger: every money-moving operation is a transaction row, written (with its own AMCI
``Idempotency-Key``) before AMCI is called, then sent, then recorded with its outcome.

This module holds what all of them share: the view, the answer for a transaction in its current
state, client replays (``Idempotency-Key`` header), sending a pending transaction to AMCI, and
``POST /api/transactions/{id}/retry``. The operations themselves live in ``payments`` (sale,
authorization) and ``follow_ups`` (capture, refund, void).
"""

from __future__ import annotations

import logging
import random
from typing import Any

from billing_client import backoff, money
from billing_client.amci_client import AmciError, AmciUnavailable
from billing_client.cards import Card
from billing_client.contract import Retry
from billing_client.errors import (
    AmciUnavailable as AmciUnavailableError,
)
from billing_client.errors import (
    IdempotencyError,
    InvalidRequest,
    NotFound,
    PaymentRefused,
    invalid,
)
from billing_client.logs import log
from billing_client.storage import Row
from billing_client.usecases import (
    authentication,
    cards,
    customers,
    payment_results,
    payment_systems,
)
from billing_client.usecases.context import Context, Result

logger = logging.getLogger("billing_client")
# Backoff jitter only (not a secret): the system source, so no seeding concerns at all.
_jitter = random.SystemRandom().random

PENDING_MESSAGE = (
    "The payment system could not be reached, so this {operation} is pending: it has not been "
    "confirmed. Retry it later (POST /api/transactions/{id}/retry); it will not be charged twice."
)

UNKNOWN_MESSAGE = (
    "For 23 hours AMCI could not confirm this {operation}, so whether it went through is "
    "unknown. It will not be sent again: AMCI and Stripe forget an Idempotency-Key after 24 "
    "hours, and a resend could then charge twice. An administrator should look the payment up "
    "in the Stripe Dashboard (metadata billing_transaction={id}, Idempotency-Key {key}) before "
    "anything is charged again."
)

def success_status(operation: str) -> int:
    """The HTTP status of a transaction that went through (201 when something was created)."""
    return 201 if operation in ("sale", "authorization", "refund") else 200


def view(row: Row, children: list[Row] | None = None) -> dict[str, Any]:
    cur = row["currency"]

    def amount(minor: int | None) -> str | None:
        return money.format_amount(minor, cur) if minor is not None else None

    shown: dict[str, Any] = {
        "object": "transaction",
        "id": row["id"],
        "customer": row["customer_id"],
        "payment_system": row["payment_system_id"],
        "operation": row["operation"],
        "status": row["status"],
        "parent": row["parent_id"],
        "amount": amount(row["amount_minor"]),
        "amount_minor": row["amount_minor"],
        "currency": cur,
        "description": row["description"],
        "card": (
            {
                "id": row["card_id"],
                "source": row["card_source"],
                "brand": row["card_brand"],
                "last4": row["card_last4"],
            }
            if row["card_source"]
            else None
        ),
        "amci": {
            "payment": row["amci_payment"],
            "charge": row["amci_charge"],
            "refund": row["amci_refund"],
            "status": row["amci_status"],
        },
        "idempotency_key": row["idempotency_key"],
        "attempts": row["attempts"],
        # When the reconciler sends it next (pending only).
        "next_attempt_at": row["next_attempt_at"] if row["status"] == "pending" else None,
        "message": row["message"],
        "error": (
            {
                k: v
                for k, v in (
                    ("type", row["error_type"]),
                    ("code", row["error_code"]),
                    ("param", row["error_param"]),
                    ("decline_code", row["decline_code"]),
                    ("retryable", None if row["retryable"] is None else bool(row["retryable"])),
                )
                if v is not None
            }
            if row["error_code"] or row["error_type"]
            else None
        ),
        "action_url": row["action_url"] if row["status"] == "requires_action" else None,
        "off_session": bool(row["off_session"]),
        "capture_before": row["capture_before"],
        "created": row["created"],
        "updated": row["updated"],
    }
    if row["operation"] in ("sale", "authorization"):
        shown["amount_captured"] = amount(row["amount_captured_minor"])
        shown["amount_refunded"] = amount(row["amount_refunded_minor"])
        if row["dispute_id"]:
            shown["dispute"] = {
                "id": row["dispute_id"],
                "status": row["dispute_status"],
                "reason": row["dispute_reason"],
                "amount": amount(row["dispute_amount_minor"]),
            }
    if children is not None:
        shown["related"] = [
            {
                "id": c["id"],
                "operation": c["operation"],
                "status": c["status"],
                "amount": amount(c["amount_minor"]),
            }
            for c in children
        ]
    return shown


def outcome(row: Row, success: int, replayed: bool = False) -> Result:
    """The answer for a transaction in its current state (first answer or a replay)."""
    shown = view(row)
    status = row["status"]
    if status == "pending":
        raise AmciUnavailableError(
            row["message"] or "The payment system could not be reached.",
            code="transaction_pending",
            extra={"transaction": shown},
        )
    if status == "unknown":
        raise AmciUnavailableError(
            row["message"] or "The outcome of this transaction is unknown.",
            code="transaction_outcome_unknown",
            extra={"transaction": shown},
        )
    if row["error_code"] or row["error_type"]:
        raise PaymentRefused(
            row["message"] or "The transaction was refused.",
            status=row["http_status"] or 400,
            type_=row["error_type"] or "invalid_request_error",
            code=row["error_code"],
            param=row["error_param"],
            extra={
                **({"decline_code": row["decline_code"]} if row["decline_code"] else {}),
                **({"retryable": bool(row["retryable"])} if row["retryable"] is not None else {}),
                "transaction": shown,
            },
        )
    return Result(row["http_status"] or success, shown, replayed=replayed)


async def load(ctx: Context, txn_id: str) -> Row:
    row = await ctx.db.get_transaction(txn_id)
    if row is None:
        raise NotFound(f"No such transaction: {txn_id}")
    return row


async def get(ctx: Context, txn_id: str) -> dict[str, Any]:
    row = await load(ctx, txn_id)
    return view(row, await ctx.db.children(txn_id))


async def list_for_customer(ctx: Context, customer_id: str) -> dict[str, Any]:
    await customers.load(ctx, customer_id)
    rows = await ctx.db.list_transactions(customer_id)
    return {"object": "list", "data": [view(r) for r in rows]}


async def replay(
    ctx: Context,
    scope: str,
    request_key: str | None,
    fingerprint: str,
    retry_card: Card | None,
    success: int,
) -> Result | None:
    """A client retry of a request it sent before: the first result, or finish it."""
    if not request_key:
        return None
    existing = await ctx.db.find_request(scope, request_key)
    if existing is None:
        return None
    if existing["request_fingerprint"] != fingerprint:
        raise IdempotencyError(
            "Keys for idempotent requests can only be used with the same parameters they "
            "were first used with. Try using a key other than "
            f"'{request_key}' if you meant to execute a different request.",
            param="Idempotency-Key",
        )
    if existing["status"] == "pending":
        return await _retry_row(ctx, existing, retry_card, success)
    return outcome(existing, success, replayed=True)


# -- sending ---------------------------------------------------------------------------------------


async def attempt(ctx: Context, row: Row, one_off: Card | None, success: int) -> Result:
    """Send a pending transaction to AMCI once (under its own key); answer with the outcome."""
    return outcome(await send(ctx, row, one_off, success), success)


async def _apply_refund(ctx: Context, parent: Row, amount: int) -> None:
    await ctx.db.execute(
        "UPDATE transactions SET amount_refunded_minor = amount_refunded_minor + ?, "
        "status = CASE WHEN amount_refunded_minor + ? >= amount_captured_minor "
        "THEN 'refunded' ELSE 'partially_refunded' END, updated = ? WHERE id = ?",
        (amount, amount, ctx.now(), parent["id"]),
    )


async def give_up(ctx: Context, row: Row) -> Row:
    """Past the resend window: record the transaction as ``unknown``; it is never sent again."""
    op = row["operation"]
    await ctx.db.update(
        "transactions",
        "id",
        row["id"],
        {
            "status": "unknown",
            "message": UNKNOWN_MESSAGE.format(
                operation="payment" if op in ("sale", "authorization") else op,
                id=row["id"],
                key=row["idempotency_key"],
            ),
            "http_status": 502,
            "next_attempt_at": None,
            "updated": ctx.now(),
        },
    )
    # For the administrator: our own ids only (no card data, no keys of Stripe's).
    log(
        logger,
        "transaction_outcome_unknown",
        level=logging.ERROR,
        transaction=row["id"],
        operation=op,
        attempts=row["attempts"],
    )
    ctx.metrics.transactions.labels(operation=op, outcome="unknown").inc()
    return await load(ctx, row["id"])


async def send(ctx: Context, row: Row, one_off: Card | None, success: int) -> Row:
    """Send a pending transaction to AMCI once (under its own key), record and return it.

    Past the resend window (``backoff``) nothing is sent: the transaction becomes ``unknown``.
    Every way of resending (the request's own retry, a client replay, the reconciler) comes
    through here, so none of them can send it late."""
    txn_id = row["id"]
    op = row["operation"]
    if backoff.expired(ctx.now(), int(row["created"])):
        return await give_up(ctx, row)
    ps_row = await payment_systems.load(ctx, row["payment_system_id"])
    creds = payment_systems.credentials(ctx, ps_row)
    body = ctx.vault.open_json(row["request_sealed"]) if row["request_sealed"] else {}
    attempts = int(row["attempts"]) + 1
    await ctx.db.update("transactions", "id", txn_id, {"attempts": attempts, "updated": ctx.now()})
    row = {**row, "attempts": attempts}
    fields: Row = {}
    try:
        if op in ("sale", "authorization"):
            if row["card_source"] == "saved" and "token" not in body:
                # Full card info except the CVV: number and expiry on every payment, never a CVC.
                body["card"] = await cards.stored_payload(ctx, row["card_id"])
            elif row["card_source"] == "one_off":
                assert one_off is not None
                body["card"] = cards.amci_payload(one_off)
            result = await ctx.amci.create_payment(creds, body, row["idempotency_key"])
            fields = payment_results.fields(result, row["currency"])
            if row["save_card"] and result.get("token"):
                await cards.saved_during_payment(ctx, row, result)
        elif op == "capture":
            parent = await load(ctx, row["parent_id"])
            result = await ctx.amci.capture(
                creds, parent["amci_payment"], body, row["idempotency_key"]
            )
            payment = payment_results.fields(result, row["currency"])
            fields = {
                "status": "succeeded",
                "amci_payment": result.get("id"),
                "amci_status": result.get("status"),
            }
            await ctx.db.update(
                "transactions",
                "id",
                parent["id"],
                {
                    "status": "captured" if payment["status"] == "succeeded" else payment["status"],
                    "amci_status": payment["amci_status"],
                    "amci_charge": payment.get("amci_charge") or parent["amci_charge"],
                    "amount_captured_minor": payment["amount_captured_minor"],
                    "updated": ctx.now(),
                },
            )
        elif op == "refund":
            parent = await load(ctx, row["parent_id"])
            result = await ctx.amci.refund(
                creds, parent["amci_payment"], body, row["idempotency_key"]
            )
            fields = {
                "status": "succeeded" if result.get("status") != "failed" else "failed",
                "amci_refund": result.get("id"),
                "amci_payment": parent["amci_payment"],
                "amci_status": result.get("status"),
            }
            await _apply_refund(ctx, parent, int(row["amount_minor"]))
        else:  # void: AMCI refuses it by contract (Stripe has no void); recorded either way
            parent = await load(ctx, row["parent_id"])
            result = await ctx.amci.void(creds, parent["amci_payment"])
            fields = {"status": "succeeded", "amci_status": result.get("status")}
        fields["http_status"] = success
    except AmciError as exc:
        if exc.code == "authentication_required" and exc.payment and row["return_url"]:
            # The bank wants the customer (an off-session charge, typically): not a failure,
            # the transaction waits for them, with a fresh link to send them.
            fields = await authentication.link(ctx, row, creds, exc.payment, success)
        else:
            fields = {
                "status": "refused" if op == "void" else "failed",
                "error_type": exc.type,
                "error_code": exc.code,
                "error_param": exc.param,
                "decline_code": exc.decline_code,
                "retryable": exc.retryable,
                "message": exc.message,
                "http_status": exc.status,
            }
            if exc.payment and op in ("sale", "authorization"):
                fields["amci_payment"] = exc.payment
    except AmciUnavailable:
        fields = {
            "status": "pending",
            "message": PENDING_MESSAGE.format(
                operation="payment" if op in ("sale", "authorization") else op, id=txn_id
            ),
            "http_status": 502,
            "next_attempt_at": backoff.next_attempt_at(
                ctx.now(), int(row["created"]), attempts, _jitter()
            ),
        }
    if fields["status"] != "pending":
        # A finished attempt clears the pending notice left by an earlier one.
        fields.setdefault("message", None)
    fields["updated"] = ctx.now()
    await ctx.db.update("transactions", "id", txn_id, fields)
    row = await load(ctx, txn_id)
    ctx.metrics.transactions.labels(operation=op, outcome=row["status"]).inc()
    return row


async def resend(ctx: Context, row: Row, card: Card | None, success: int) -> tuple[Row, bool]:
    """Attempt a pending transaction again, alone (a concurrent one gets IdempotencyInUse).

    Returns the transaction as recorded and whether this call sent it (False: another
    retry finished it meanwhile)."""
    async with ctx.exclusive(row["id"]):
        fresh = await load(ctx, row["id"])  # another retry may have finished it meanwhile
        if fresh["status"] != "pending":
            return fresh, False
        return await send(ctx, fresh, card, success), True


# -- retry -----------------------------------------------------------------------------------------


async def retry(ctx: Context, txn_id: str, request: Retry) -> Result:
    row = await load(ctx, txn_id)
    card = request.card.to_card() if request.card is not None else None
    success = success_status(row["operation"])
    if row["status"] != "pending":
        return outcome(row, success, replayed=True)
    return await _retry_row(ctx, row, card, success)


async def _retry_row(ctx: Context, row: Row, card: Card | None, success: int) -> Result:
    if row["card_source"] == "one_off" and row["operation"] in ("sale", "authorization"):
        if card is None:
            raise InvalidRequest(
                "This payment used a one-off card, which the billing client does not keep: "
                "send the same card again to retry it.",
                code="parameter_missing",
                param="card",
            )
        if ctx.vault.fingerprint({"card": card.number}) != row["card_fingerprint"]:
            raise invalid("card", "This is not the card the pending payment was made with.")
    done, attempted = await resend(ctx, row, card, success)
    return outcome(done, success, replayed=not attempted)
