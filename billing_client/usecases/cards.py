"""Cards: saved per customer with the payment system of the customer's currency.

``token_only``: the card data goes to AMCI once and AMCI answers with a token (the only thing
kept). ``full_card_except_cvv``: nothing goes to AMCI until a payment; number and expiry are kept
encrypted, the CVC never. A card of a brand the payment system has not enabled is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from typing import Any

from billing_client.amci_client import AmciError, AmciUnavailable
from billing_client.cards import BRAND_NAMES, METHODS, Card, check_card
from billing_client.contract import CardSave
from billing_client.crypto import CardNumber
from billing_client.errors import (
    AmciUnavailable as AmciUnavailableError,
)
from billing_client.errors import BillingError, IdempotencyError, InvalidRequest, NotFound
from billing_client.storage import DuplicateRequest, Row
from billing_client.usecases import currencies, customers, payment_systems
from billing_client.usecases.context import Context, Result, new_id

UNREACHABLE_CARD_MESSAGE = (
    "The payment system could not be reached, so the card was not saved. Please try again later."
)


def view(ctx: Context, row: Row) -> dict[str, Any]:
    exp_month, exp_year = row.get("exp_month"), row.get("exp_year")
    if row["storage"] == "encrypted" and row.get("sealed"):
        opened = ctx.vault.open_json(row["sealed"])
        exp_month, exp_year = opened["exp_month"], opened["exp_year"]
    return {
        "object": "card",
        "id": row["id"],
        "customer": row["customer_id"],
        "payment_system": row["payment_system_id"],
        "brand": row["brand"],
        "brand_name": BRAND_NAMES.get(row["brand"], row["brand"]),
        "last4": row["last4"],
        "exp_month": exp_month,
        "exp_year": exp_year,
        "storage": row["storage"],
        "created": row["created"],
        "status": row.get("status") or "active",
        "action_url": row.get("action_url") if row.get("status") == "requires_action" else None,
        "off_session_ready": bool(row.get("off_session_ready")),
        "message": row.get("message") if row.get("status") != "active" else None,
    }


# AMCI's card status (a Stripe SetupIntent's) → the billing client's card status.
_CARD_STATUS = {"succeeded": "active", "requires_action": "requires_action"}


def _card_fields(saved: dict[str, Any]) -> Row:
    status = _CARD_STATUS.get(str(saved.get("status") or "succeeded"), "failed")
    action = saved.get("next_action")
    return {
        "status": status,
        "action_url": action.get("url") if isinstance(action, dict) else None,
        "off_session_ready": int(bool(saved.get("off_session_ready"))),
        "message": None if status == "active" else saved.get("message"),
    }


def return_url(base: str, card_id: str) -> str:
    """The page the customer's browser comes back to after authenticating a card."""
    return f"{base.rstrip('/')}/return/cards/{card_id}"


def check_brand(brand: str | None, enabled: tuple[str, ...]) -> str:
    """The spec's "Payment methods": a card of a brand not enabled is refused (param named)."""
    if brand is None or BRAND_NAMES[brand] not in enabled:
        shown = BRAND_NAMES.get(brand or "", "This card's brand")
        allowed = ", ".join(enabled) if enabled else "none"
        raise InvalidRequest(
            f"{shown} cards are not accepted by this payment system (enabled: {allowed}).",
            code="card_brand_not_enabled",
            param="card.number",
        )
    return brand


def _amci_refusal(exc: AmciError, extra: dict[str, Any] | None = None) -> BillingError:
    """AMCI's refusal, shown as AMCI worded it (the message is meant for the end user)."""
    if exc.decline_code is not None:
        extra = {**(extra or {}), "decline_code": exc.decline_code}
    return BillingError(
        exc.message,
        status=exc.status,
        type_=exc.type,
        code=exc.code,
        param=exc.param,
        extra=extra,
    )


def amci_payload(card: Card, *, with_cvc: bool = True) -> dict[str, Any]:
    """The card as AMCI takes it (number, expiry, CVC if given, holder)."""
    payload: dict[str, Any] = {
        "number": card.number,
        "exp_month": card.exp_month,
        "exp_year": card.exp_year,
    }
    if with_cvc and card.cvc is not None:
        payload["cvc"] = card.cvc
    if card.holder:
        payload["holder"] = card.holder
    return payload


async def stored_payload(ctx: Context, card_id: str) -> dict[str, Any]:
    """A saved full_card_except_cvv card, opened for a payment: number and expiry, never a CVC."""
    card_row = await ctx.db.fetch_one("SELECT * FROM cards WHERE id = ?", (card_id,))
    if card_row is None or not card_row["sealed"]:
        raise InvalidRequest(
            "The saved card of this payment has been deleted; it cannot be retried.",
            code="card_deleted",
            param="card_id",
        )
    opened = ctx.vault.open_json(card_row["sealed"])
    return {
        "number": CardNumber(str(opened["number"])),
        "exp_month": int(opened["exp_month"]),
        "exp_year": int(opened["exp_year"]),
    }


async def _replay_encrypted(
    ctx: Context, card_id: str, card: Card, request_key: str | None
) -> Result | None:
    """A client retry (same ``Idempotency-Key``) of a full_card_except_cvv save: the card it
    saved, or a refusal when the key comes back with another card (as Stripe refuses a key
    reused with other parameters)."""
    existing = await ctx.db.fetch_one("SELECT * FROM cards WHERE id = ?", (card_id,))
    if existing is None or not existing["sealed"]:
        return None
    opened = ctx.vault.open_json(existing["sealed"])
    same = CardNumber(str(opened["number"])) == card.number and (
        int(opened["exp_month"]), int(opened["exp_year"])
    ) == (card.exp_month, card.exp_year)
    if not same:
        raise IdempotencyError(
            "Keys for idempotent requests can only be used with the same parameters they "
            "were first used with. Try using a key other than "
            f"'{request_key}' if you meant to execute a different request.",
            param="Idempotency-Key",
        )
    return Result(200, view(ctx, existing), replayed=True)


async def add(
    ctx: Context,
    customer_id: str,
    request: CardSave,
    request_key: str | None = None,
    return_base: str | None = None,
) -> Result:
    """``return_base``: where the customer's browser reaches the billing client; with it a
    card that needs 3D Secure is answered ``requires_action`` with a link, and the customer comes
    back to ``/return/cards/{id}``."""
    customer = await customers.load(ctx, customer_id)
    card = request.card.to_card()
    _, ps_row = await currencies.assignment(ctx, customer["currency"])
    ps = payment_systems.stored_input(ctx, ps_row)
    now = ctx.now()
    digest = (
        hmac.new(
            ctx.vault.fingerprint({"card-request": request_key}).encode(),
            customer_id.encode(),
            hashlib.sha256,
        ).hexdigest()[:40]
        if request_key
        else None
    )
    row: Row = {
        # A client retry (same Idempotency-Key) gets the same id, so the body sent to AMCI
        # (with its return URL) is the same too.
        "id": f"card_{digest[:16]}" if digest else new_id("card"),
        "customer_id": customer_id,
        "payment_system_id": ps_row["id"],
        "created": now,
        "deleted": 0,
    }
    if ps.data_protection == "full_card_except_cvv":
        # Nothing goes to AMCI until a payment: check the card here, keep number and expiry
        # encrypted, drop the CVC.
        check_card(card, ctx.today())
        brand = check_brand(card.brand, ps.enabled_methods)
        row |= {
            "storage": "encrypted",
            "sealed": ctx.vault.seal_json(
                {"number": card.number, "exp_month": card.exp_month, "exp_year": card.exp_year}
            ),
            "brand": brand,
            "last4": card.last4,
        }
        if digest:
            replay = await _replay_encrypted(ctx, row["id"], card, request_key)
            if replay is not None:
                return replay
        try:
            await ctx.db.insert("cards", row)
        except DuplicateRequest:
            # A concurrent retry with the same key inserted it first: answer what it answered.
            replay = await _replay_encrypted(ctx, row["id"], card, request_key)
            if replay is None:
                raise
            return replay
        return Result(201, view(ctx, row))

    # token_only: the card data goes to AMCI once, AMCI answers with a token.
    if card.brand is not None:
        check_brand(card.brand, ps.enabled_methods)
    amci_body: dict[str, Any] = {
        "card": amci_payload(card),
        "customer": customers.amci_payload(customer),
        "enabled_brands": [METHODS[m] for m in ps.enabled_methods],
    }
    if return_base:
        amci_body["return_url"] = return_url(return_base, row["id"])
    key = f"bc-card-{digest}" if digest else f"bc-card-{uuid.uuid4().hex}"
    try:
        saved = await ctx.amci.save_card(payment_systems.credentials(ctx, ps_row), amci_body, key)
    except AmciError as exc:
        raise _amci_refusal(exc) from None
    except AmciUnavailable:
        raise AmciUnavailableError(UNREACHABLE_CARD_MESSAGE) from None
    token = str(saved.get("token") or "")
    if not token:
        raise AmciUnavailableError("AMCI answered without a card token; the card was not saved.")
    for existing in await ctx.db.list_cards(customer_id):
        if existing["token"] == token:  # a replayed save: the same card, not a second one
            return Result(200, view(ctx, existing), replayed=True)
    row |= {
        "storage": "token",
        "token": token,
        "amci_customer": saved.get("customer"),
        "brand": str(saved.get("brand") or card.brand or "unknown"),
        "last4": str(saved.get("last4") or card.last4),
        "exp_month": saved.get("exp_month", card.exp_month),
        "exp_year": saved.get("exp_year", card.exp_year),
        **_card_fields(saved),
    }
    await ctx.db.insert("cards", row)
    return Result(201, view(ctx, row))


async def saved_during_payment(ctx: Context, txn: Row, payment: dict[str, Any]) -> None:
    """A payment with save_card: AMCI answered with the token; keep it as the customer's card,
    active once the payment went through (``refresh_for_payment`` after 3D Secure)."""
    token = str(payment["token"])
    for existing in await ctx.db.list_cards(txn["customer_id"]):
        if existing["token"] == token:
            return
    card = payment.get("card") or {}
    done = payment.get("status") in ("succeeded", "requires_capture")
    await ctx.db.insert("cards", {
        "id": new_id("card"),
        "customer_id": txn["customer_id"],
        "payment_system_id": txn["payment_system_id"],
        "created": ctx.now(),
        "deleted": 0,
        "storage": "token",
        "token": token,
        "amci_customer": payment.get("customer"),
        "brand": str(card.get("brand") or txn["card_brand"] or "unknown"),
        "last4": str(card.get("last4") or txn["card_last4"] or ""),
        "exp_month": card.get("exp_month"),
        "exp_year": card.get("exp_year"),
        # setup_future_usage=off_session: ready once the payment went through.
        "status": "active" if done else "requires_action",
        "off_session_ready": int(done),
        "message": None if done else "The card is saved once the payment is authenticated.",
    })


async def refresh_for_payment(ctx: Context, txn: Row, payment: dict[str, Any]) -> None:
    """After the customer's 3D Secure for a save_card payment: the card follows it."""
    token = payment.get("token")
    if not token:
        return
    for existing in await ctx.db.list_cards(txn["customer_id"]):
        if existing["token"] == token:
            await refresh(ctx, existing)


async def refresh(ctx: Context, row: Row) -> Row:
    """A token card read fresh from AMCI (after the customer authenticated it)."""
    if row["storage"] != "token" or row["status"] == "failed":
        return row
    ps_row = await payment_systems.load(ctx, row["payment_system_id"])
    try:
        saved = await ctx.amci.get_card(payment_systems.credentials(ctx, ps_row), row["token"])
    except (AmciError, AmciUnavailable):
        return row
    fields = _card_fields(saved)
    await ctx.db.update("cards", "id", row["id"], fields)
    return {**row, **fields}


async def returned(ctx: Context, card_id: str) -> Row | None:
    """The return page of a card save: the card refreshed, or None if there is no such card."""
    row = await ctx.db.fetch_one("SELECT * FROM cards WHERE id = ? AND deleted = 0", (card_id,))
    if row is None:
        return None
    return await refresh(ctx, row)


async def list_all(ctx: Context, customer_id: str) -> dict[str, Any]:
    await customers.load(ctx, customer_id)
    rows = await ctx.db.list_cards(customer_id)
    return {"object": "list", "data": [view(ctx, r) for r in rows]}


async def load(ctx: Context, customer_id: str, card_id: str, param: str | None = None) -> Row:
    row = await ctx.db.get_card(customer_id, card_id)
    if row is None:
        if param:
            raise InvalidRequest(f"No such card: {card_id}", code="resource_missing", param=param)
        raise NotFound(f"No such card: {card_id}")
    return row


async def delete(ctx: Context, customer_id: str, card_id: str) -> dict[str, Any]:
    await customers.load(ctx, customer_id)
    row = await load(ctx, customer_id, card_id)
    if row["storage"] == "token":
        ps_row = await payment_systems.load(ctx, row["payment_system_id"])
        try:
            await ctx.amci.delete_card(payment_systems.credentials(ctx, ps_row), row["token"])
        except AmciError as exc:
            if exc.code != "resource_missing":  # already gone at Stripe: fine
                raise _amci_refusal(exc) from None
        except AmciUnavailable:
            raise AmciUnavailableError(
                "The payment system could not be reached, so the card was not deleted. "
                "Please try again later."
            ) from None
    await ctx.db.update("cards", "id", card_id, {"deleted": 1, "sealed": None})
    return {"object": "card", "id": card_id, "deleted": True}
