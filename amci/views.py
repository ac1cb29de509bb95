"""Stripe's objects as AMCI's response models (``amci.contract``): payments and card tokens."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from amci import contract, money, outcomes, policy
from amci.store import CardRecord


def card_fields(card: CardRecord | policy.Card | Mapping[str, Any] | None) -> dict[str, Any] | None:
    if card is None:
        return None
    if isinstance(card, Mapping):
        return {
            "brand": card.get("brand"),
            "last4": card.get("last4"),
            "exp_month": card.get("exp_month"),
            "exp_year": card.get("exp_year"),
        }
    return {
        "brand": card.brand,
        "last4": card.last4,
        "exp_month": card.exp_month,
        "exp_year": card.exp_year,
    }


def public(action: dict[str, str] | None, pages: tuple[str, str] | None) -> dict[str, str] | None:
    """The embedded test mode builds its 3D Secure page URLs from the loopback address AMCI
    reaches it at; ``pages`` = (that address, the address browsers reach AMCI at) moves them to
    AMCI, which proxies the page path (``/_testmode/authenticate/``)."""
    if action is None or pages is None:
        return action
    internal, external = pages
    url = action["url"]
    if url.startswith(internal + "/_testmode/"):
        return {**action, "url": external + url[len(internal):]}
    return action


def payment_view(
    pi: Mapping[str, Any], card: Any, *, token: str | None = None,
    pages: tuple[str, str] | None = None,
) -> dict[str, Any]:
    cur = money.currency(str(pi["currency"]))
    charge = pi.get("latest_charge")
    refunded_minor = 0
    if isinstance(charge, Mapping):
        refunded_minor = int(charge.get("amount_refunded") or 0)
        charge = charge.get("id")
    metadata = dict(pi.get("metadata") or {})
    reference = metadata.pop("reference", None)
    customer_reference = metadata.pop("customer_reference", None)
    amount = int(pi["amount"])
    fields = card_fields(card)
    error = outcomes.last_error(pi) if pi.get("status") == "requires_payment_method" else None
    action = public(outcomes.next_action(pi), pages)
    pm = pi.get("payment_method")
    pm_id = pm.get("id") if isinstance(pm, Mapping) else pm
    if token is None and pi.get("setup_future_usage") == "off_session" and isinstance(pm_id, str):
        token = pm_id
    return contract.dump(contract.Payment(
        id=pi["id"],
        status=pi["status"],
        amount=money.from_minor(amount, cur),
        amount_minor=amount,
        currency=cur.code,
        amount_capturable=money.from_minor(int(pi.get("amount_capturable") or 0), cur),
        amount_received=money.from_minor(int(pi.get("amount_received") or 0), cur),
        amount_refunded=money.from_minor(refunded_minor, cur),
        capture=pi.get("capture_method") != "manual",
        charge=charge,
        card=contract.PaymentCard(**fields) if fields is not None else None,
        customer=pi.get("customer"),
        description=pi.get("description"),
        reference=reference,
        customer_reference=customer_reference,
        metadata=metadata,
        livemode=bool(pi.get("livemode")),
        created=pi.get("created"),
        next_action=contract.NextAction(url=action["url"]) if action is not None else None,
        capture_before=outcomes.capture_before(pi),
        token=token,
        last_error=contract.LastError(**error) if error is not None else None,
        cancellation_reason=pi.get("cancellation_reason"),
        message=outcomes.payment_message(pi, error),
    ))


def card_view(
    record: CardRecord | Mapping[str, Any], *, token: str, customer: str | None, livemode: bool,
    status: str, ready: bool, intent: Mapping[str, Any] | None = None,
    pages: tuple[str, str] | None = None,
) -> dict[str, Any]:
    fields = card_fields(record) or {}
    error = (outcomes.last_error(intent)
             if intent is not None and status == "requires_payment_method" else None)
    action = public(outcomes.next_action(intent), pages) if intent is not None else None
    return contract.dump(contract.CardToken(
        token=token,
        customer=customer,
        brand=str(fields.get("brand") or "unknown"),
        last4=str(fields.get("last4") or ""),
        exp_month=int(fields.get("exp_month") or 0),
        exp_year=int(fields.get("exp_year") or 0),
        livemode=livemode,
        status=status,  # type: ignore[arg-type]
        off_session_ready=ready,
        next_action=contract.NextAction(url=action["url"]) if action is not None else None,
        last_error=contract.LastError(**error) if error is not None else None,
        message=outcomes.card_message(status, error),
    ))
