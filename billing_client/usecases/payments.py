"""Payments: a sale (captured at once) or an authorization (captured later), with a saved card or a
one-off card, in the customer's currency, through the payment system assigned to it."""

from __future__ import annotations

import uuid
from typing import Any

from billing_client import money
from billing_client.cards import METHODS
from billing_client.contract import PaymentCreate
from billing_client.errors import InvalidRequest
from billing_client.storage import DuplicateRequest, Row
from billing_client.usecases import cards, currencies, customers, payment_systems, transactions
from billing_client.usecases.context import Context, Result, new_id


def amount_minor(amount: str, currency: str) -> int:
    """A contract amount in the currency's minor units; too many decimals is refused."""
    try:
        return money.parse_amount(amount, currency)
    except money.MoneyError as exc:
        raise InvalidRequest(exc.message, code=exc.code, param="amount") from exc


def return_url(base: str, txn_id: str) -> str:
    """The billing client's page the customer's browser comes back to after 3D Secure."""
    return f"{base.rstrip('/')}/return/payments/{txn_id}"


async def pay(
    ctx: Context,
    customer_id: str,
    data: PaymentCreate,
    request_key: str | None = None,
    return_base: str | None = None,
) -> Result:
    """``return_base``: the address the customer's browser reaches the billing client at;
    with it a payment that needs 3D Secure waits in ``requires_action`` with a link, and the
    customer comes back to ``/return/payments/{id}``."""
    customer = await customers.load(ctx, customer_id)
    minor = amount_minor(data.amount, customer["currency"])
    card = data.card.to_card() if data.card is not None else None
    scope = f"pay:{customer_id}"
    fingerprint = ctx.vault.fingerprint({"pay": data.model_dump(mode="json", exclude_unset=True)})
    replay = await transactions.replay(ctx, scope, request_key, fingerprint, card, 201)
    if replay is not None:
        return replay

    currency = customer["currency"]
    cur_row, ps_row = await currencies.assignment(ctx, currency)
    ps = payment_systems.stored_input(ctx, ps_row)
    now = ctx.now()
    txn_id = new_id("txn")
    row: Row = {
        "id": txn_id,
        "customer_id": customer_id,
        "payment_system_id": ps_row["id"],
        "operation": data.type,
        "parent_id": None,
        "currency": currency,
        "amount_minor": minor,
        "status": "pending",
        "description": data.description,
        "idempotency_key": f"bc-{txn_id}-{uuid.uuid4().hex[:16]}",
        "request_scope": scope if request_key else None,
        "request_key": request_key,
        "request_fingerprint": fingerprint,
        "attempts": 0,
        "created": now,
        "updated": now,
        "return_url": return_url(return_base, txn_id) if return_base else None,
        "off_session": int(data.off_session),
        "save_card": int(data.save_card),
    }
    amci_body: dict[str, Any] = {
        "amount": money.format_amount(minor, currency),
        "currency": currency,
        "capture": data.type == "sale",
        "customer": customers.amci_payload(customer),
        "enabled_brands": [METHODS[m] for m in ps.enabled_methods],
        "reference": txn_id,
        "metadata": {"billing_transaction": txn_id},
    }
    if data.description:
        amci_body["description"] = data.description
    if data.off_session:
        # Merchant-initiated (an auto-payment): nobody to authenticate now. If the bank wants
        # the customer anyway, AMCI says authentication_required and the transaction waits in
        # requires_action with a link (transactions.send).
        amci_body["off_session"] = True
    elif row["return_url"]:
        amci_body["return_url"] = row["return_url"]
    if data.save_card:
        if ps.data_protection != "token_only":
            raise InvalidRequest(
                "save_card needs a token_only payment system (this one keeps card data itself).",
                code="parameter_invalid",
                param="save_card",
            )
        amci_body["save_card"] = True

    if data.card_id is not None:
        card_row = await cards.load(ctx, customer_id, data.card_id, param="card_id")
        if card_row["payment_system_id"] != ps_row["id"]:
            raise InvalidRequest(
                "This card was saved with another payment system than the one now assigned "
                f"to {currency}; save the card again.",
                code="card_payment_system_mismatch",
                param="card_id",
            )
        cards.check_brand(card_row["brand"], ps.enabled_methods)
        row |= {
            "card_id": card_row["id"],
            "card_source": "saved",
            "card_brand": card_row["brand"],
            "card_last4": card_row["last4"],
        }
        if card_row["status"] != "active":
            raise InvalidRequest(
                "This card has not been saved yet: the customer must first authenticate it.",
                code="card_not_ready",
                param="card_id",
            )
        if card_row["storage"] == "token":
            amci_body["token"] = card_row["token"]
        elif data.off_session:
            raise InvalidRequest(
                "off_session charges need a saved token (a token_only payment system).",
                code="parameter_invalid",
                param="off_session",
            )
    else:
        assert card is not None
        cards.check_brand(card.brand, ps.enabled_methods)
        row |= {
            "card_source": "one_off",
            "card_brand": card.brand,
            "card_last4": card.last4,
            "card_fingerprint": ctx.vault.fingerprint({"card": card.number}),
        }
    # The AMCI body minus card data is kept (encrypted) so that every retry sends the very same
    # body under the same Idempotency-Key; card data is added back at send time.
    row["request_sealed"] = ctx.vault.seal_json(amci_body)

    minimum = int(cur_row["minimum_minor"])
    if minor < minimum:
        # Refused by the billing client itself, worded exactly as AMCI would word it.
        row |= {
            "status": "failed",
            "error_type": "invalid_request_error",
            "error_code": "amount_too_small",
            "error_param": "amount",
            "message": money.minimum_message(minimum, currency),
            "http_status": 400,
        }
    try:
        await ctx.db.insert("transactions", row)
    except DuplicateRequest:
        # The same client request raced us in: answer as its replay.
        replay = await transactions.replay(ctx, scope, request_key, fingerprint, card, 201)
        if replay is None:
            raise
        return replay
    if row["status"] == "failed":
        ctx.metrics.transactions.labels(operation=data.type, outcome="failed").inc()
        return transactions.outcome(await transactions.load(ctx, txn_id), 400)
    async with ctx.exclusive(txn_id):
        return await transactions.attempt(ctx, row, card, 201)
