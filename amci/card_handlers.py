"""Card routes: save a card (a SetupIntent for off-session use), read its state, delete it."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from amci import contract, idempotency, keys, outcomes, policy
from amci.auth import Mode
from amci.errors import AmciError, AuthenticationRequired, NotFound, UpstreamError
from amci.handler_tools import canonical, count, pages, parse, path_id, principal, refused, today
from amci.idempotency import UpstreamKeys
from amci.logs import log
from amci.store import CardRecord, Records
from amci.views import card_view

CARD_AUTHENTICATION_MESSAGE = "Additional authentication is required to save this card."


async def discard_customer(request: web.Request, customer: str) -> None:
    """Best effort: a failure here is logged, and the caller's original error still answers."""
    who = principal(request)
    try:
        await request.app[keys.RELAY].delete_customer(who.mode, who.key, customer=customer)
    except AmciError as exc:
        log(request.app[keys.LOGGER], "orphan_customer_left", level=logging.WARNING,
            customer=customer, code=exc.code)


async def save_card(request: web.Request) -> web.Response:
    """A PaymentMethod, a Customer, then a SetupIntent with ``usage=off_session`` confirmed at
    once (docs.stripe.com/payments/save-and-reuse): the bank may ask the customer to
    authenticate now so that later merchant-initiated charges need not. On success Stripe
    attaches the card to the customer."""
    who = principal(request)
    app = request.app
    try:
        req = await parse(request, contract.SaveCardRequest)
        # The spec: no token without an email — refused before any Stripe call.
        email = policy.require_email(req.customer)
        enabled = policy.enabled_brands(req.enabled_brands)
        card = policy.check_card(req.card, today=today(request), enabled=enabled)
        name = req.customer.name if req.customer is not None else None
        reference = req.customer.reference if req.customer is not None else None
    except AmciError as exc:
        refused(request, "save_card", exc)
        raise

    relay, mode, key, return_url = app[keys.RELAY], who.mode, who.key, req.return_url

    async def work(up: UpstreamKeys, records: Records) -> tuple[int, Any]:
        try:
            # The payment method first: card data Stripe refuses costs no customer object.
            pm = await relay.create_card_method(
                mode, key, up.step("payment_method"), number=card.number,
                exp_month=card.exp_month, exp_year=card.exp_year, cvc=card.cvc,
                holder=card.holder or name,
            )
            cus = await relay.create_customer(
                mode, key, up.step("customer"), email=email, name=name, reference=reference
            )
            params: dict[str, Any] = {
                "customer": cus["id"], "payment_method": pm["id"], "usage": "off_session",
                "confirm": True, "payment_method_types": ["card"],
            }
            if return_url is not None:
                params["return_url"] = return_url
            try:
                si = await relay.create_setup(mode, key, up.step("setup_intent"), params)
            except AmciError:
                # Declined during setup: don't leave an empty customer behind for a card that
                # was never saved.
                await discard_customer(request, cus["id"])
                raise
            if si.get("status") == "requires_action" and return_url is None:
                await discard_customer(request, cus["id"])
                raise AuthenticationRequired(payment=None, message=CARD_AUTHENTICATION_MESSAGE)
        except AmciError as exc:
            refused(request, "save_card", exc)
            raise
        pm_card = pm.get("card") or {}
        record = CardRecord(
            token=pm["id"],
            customer=cus["id"],
            brand=str(pm_card.get("brand") or card.brand),
            last4=str(pm_card.get("last4") or card.last4),
            exp_month=int(pm_card.get("exp_month") or card.exp_month),
            exp_year=int(pm_card.get("exp_year") or card.exp_year),
            livemode=mode is Mode.LIVE,
        )
        records.cards.append(record)  # persisted with the idempotent result, before we answer
        status = str(si.get("status"))
        count(request, "save_card", outcomes.metric_outcome(status))
        return 201, card_view(
            record, token=record.token, customer=record.customer, livemode=record.livemode,
            status=status, ready=outcomes.set_up_by_setup(si), intent=si, pages=pages(request),
        )

    return await idempotency.run(request, who, canonical(req), work)


async def get_card(request: web.Request) -> web.Response:
    """The card as Stripe sees it now: after the customer returns from authenticating, whether
    it was saved and whether it is ready for off-session charges."""
    who = principal(request)
    token = path_id(request, "token", "token")
    relay, mode, key = request.app[keys.RELAY], who.mode, who.key
    try:
        pm = await relay.retrieve_method(mode, key, payment_method=token)
    except UpstreamError as exc:
        if exc.status == 404:
            raise NotFound(exc.message, param="token") from None
        raise
    record = await request.app[keys.STORE].card(who.scope, token)
    customer = pm.get("customer") or (record.customer if record is not None else None)
    setups = (await relay.list_setups(mode, key, payment_method=token)).get("data") or []
    ready = any(outcomes.set_up_by_setup(si) for si in setups)
    intent: dict[str, Any] | None = setups[0] if setups else None  # newest first
    status = str(intent["status"]) if intent is not None else None
    if not ready and isinstance(customer, str):
        # Saved during a payment (save_card → setup_future_usage): the payment tells.
        payments = (await relay.list_payments(mode, key, customer=customer)).get("data") or []
        mine = [pi for pi in payments if pi.get("payment_method") == token]
        ready = any(outcomes.set_up_by_payment(pi, token) for pi in mine)
        if status is None and mine:
            status = outcomes.card_status_of_payment(str(mine[0]["status"]))
    if ready:
        status = "succeeded"
    if status is None:
        status = "succeeded" if pm.get("customer") else "requires_payment_method"
    return web.json_response(card_view(
        record if record is not None else (pm.get("card") or {}), token=token,
        customer=customer if isinstance(customer, str) else None,
        livemode=bool(pm.get("livemode")), status=status, ready=ready,
        intent=intent if intent is not None and status == intent.get("status") else None,
        pages=pages(request),
    ))


async def delete_card(request: web.Request) -> web.Response:
    who = principal(request)
    token = path_id(request, "token", "token")
    app = request.app
    try:
        await app[keys.RELAY].detach(who.mode, who.key, payment_method=token)
    except AmciError as exc:
        refused(request, "delete_card", exc)
        raise
    await app[keys.STORE].forget_card(who.scope, token)
    count(request, "delete_card", "succeeded")
    return web.json_response(contract.dump(contract.DeletedCardToken(token=token)))
