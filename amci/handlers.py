"""HTTP handlers: parse → policy → relay → respond. The contract is docs/amci-api.md.

Authentication runs in the middleware (``app.py``) for every ``/v1`` route and leaves the
``Principal`` on the request. Card routes are in ``card_handlers.py``, the proxied 3D Secure test
pages in ``pages.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from amci import (
    card_handlers,
    contract,
    idempotency,
    keys,
    money,
    notification_handlers,
    outcomes,
    pages,
    policy,
    settlement,
    webhooks,
)
from amci import handler_tools as tools
from amci.auth import Mode
from amci.errors import (
    AmciError,
    AuthenticationRequired,
    InvalidRequest,
    NotFound,
    UpstreamError,
    void_not_supported,
)
from amci.idempotency import UpstreamKeys
from amci.openapi import document
from amci.store import CardRecord, PaymentRecord, Records
from amci.views import card_fields, payment_view

# --- service routes ------------------------------------------------------------------------------


async def healthz(request: web.Request) -> web.Response:
    return web.json_response(contract.dump(contract.Health(status="ok")))


async def readyz(request: web.Request) -> web.Response:
    app = request.app
    checks: dict[str, bool] = {}
    checks["upstream_test"] = await app[keys.RELAY].reachable(Mode.TEST)
    try:
        await app[keys.STORE].ping()
        checks["store"] = True
    except Exception:
        checks["store"] = False
    ok = all(checks.values())
    ready = contract.Ready(status="ok" if ok else "unavailable", checks=checks)
    return web.json_response(contract.dump(ready), status=200 if ok else 503)


async def metrics(request: web.Request) -> web.Response:
    payload = generate_latest(request.app[keys.METRICS].registry)
    return web.Response(body=payload, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(document())


# --- payments ------------------------------------------------------------------------------------


async def create_payment(request: web.Request) -> web.Response:
    principal = tools.principal(request)
    app = request.app
    operation = "sale"
    currency_label = "none"
    try:
        req = await tools.parse(request, contract.PaymentRequest)
        capture, token = req.capture, req.token
        operation = "sale" if capture else "authorization"
        cur = policy.currency_of(req.currency)
        currency_label = cur.code
        amount = policy.amount_of(req.amount, cur)
        sub = principal.subscription
        minimum = policy.minimum_minor(
            cur,
            settlement=money.currency(sub.settlement_currency),
            fx=app[keys.FX],
            overrides=sub.minimum_overrides,
        )
        policy.check_minimum(amount, minimum)
        enabled = policy.enabled_brands(req.enabled_brands)
        policy.one_source(token, req.card)
        policy.check_off_session(req.off_session, token, req.return_url)
        save_email = policy.check_save_card(req.save_card, req.card, req.customer)
        card = (
            policy.check_card(req.card, today=tools.today(request), enabled=enabled)
            if req.card is not None
            else None
        )
        # Optional on payments: on a card payment its name and email go to the payment
        # method's billing_details; its reference, on any payment, to metadata.
        customer_name = req.customer.name if req.customer is not None else None
        customer_email = policy.optional_email(req.customer)
        customer_ref = req.customer.reference if req.customer is not None else None
        description, reference = req.description, req.reference
        metadata = tools.metadata(req.metadata, reference, customer_ref)
    except AmciError as exc:
        tools.refused(request, operation, exc, currency_label)
        raise

    relay, store, mode, key = app[keys.RELAY], app[keys.STORE], principal.mode, principal.key
    scope, return_url = principal.scope, req.return_url

    async def work(up: UpstreamKeys, records: Records) -> tuple[int, Any]:
        params: dict[str, Any] = {
            "amount": amount.minor,
            "currency": cur.wire,
            "capture_method": "automatic" if capture else "manual",
            "payment_method_types": ["card"],
            # The charge carries capture_before (authorizations) and amount_refunded.
            "expand": ["latest_charge"],
        }
        if description is not None:
            params["description"] = description
        if metadata:
            params["metadata"] = metadata
        if return_url is not None:
            # Stripe answers requires_action with next_action.redirect_to_url
            # (docs.stripe.com/payments/3d-secure/authentication-flow).
            params["return_url"] = return_url
        shown: Any
        customer: Any
        saved_token: str | None = token
        new_customer: str | None = None
        try:
            if token is not None:
                saved = await store.card(scope, token)
                if saved is not None:
                    customer, shown = saved.customer, saved
                else:
                    # Saved elsewhere (or before AMCI kept records): ask Stripe whose it is.
                    try:
                        pm = await relay.retrieve_method(mode, key, payment_method=token)
                    except UpstreamError as exc:
                        if exc.status == 404:
                            raise NotFound(exc.message, param="token") from None
                        raise
                    customer, shown = pm.get("customer"), pm.get("card") or {}
                policy.check_brand(str(card_fields(shown)["brand"]), enabled, param="token")  # type: ignore[index]
                params["payment_method"] = token
                if customer:
                    params["customer"] = customer
                if req.off_session:
                    # A merchant-initiated charge of a saved card (docs.stripe.com/payments/
                    # save-and-reuse: customer, payment_method, off_session, confirm). Only when
                    # the billing system says so: a customer paying on the portal is on session.
                    params["off_session"] = True
            else:
                assert card is not None
                pm = await relay.create_card_method(
                    mode, key, up.step("payment_method"), number=card.number,
                    exp_month=card.exp_month, exp_year=card.exp_year, cvc=card.cvc,
                    holder=card.holder or customer_name, email=customer_email,
                )
                shown = pm.get("card") or card
                params["payment_method"] = pm["id"]
                if save_email is not None:
                    # Save the card during the payment (docs.stripe.com/payments/
                    # save-during-payment): the customer authenticates once, and Stripe attaches
                    # the card to the customer when the payment goes through.
                    cus = await relay.create_customer(
                        mode, key, up.step("customer"), email=save_email, name=customer_name,
                        reference=customer_ref,
                    )
                    new_customer = cus["id"]
                    params.update(customer=cus["id"], setup_future_usage="off_session")
                    saved_token = pm["id"]
                    fields = card_fields(shown) or {}
                    records.cards.append(CardRecord(
                        token=pm["id"], customer=cus["id"],
                        brand=str(fields.get("brand") or card.brand),
                        last4=str(fields.get("last4") or card.last4),
                        exp_month=int(fields.get("exp_month") or card.exp_month),
                        exp_year=int(fields.get("exp_year") or card.exp_year),
                        livemode=mode is Mode.LIVE,
                    ))
            pi = await settlement.create_and_confirm(
                relay, store, mode, key, up, params, scope=scope, now=records.now,
                record=lambda pid, st: PaymentRecord(pid, cur.code, amount.minor, capture, st,
                                                     reference, mode is Mode.LIVE))
        except settlement.Unsettled as unsettled:
            records.payments.append(PaymentRecord(
                str(unsettled.payment["id"]), cur.code, amount.minor, capture, "processing",
                reference, mode is Mode.LIVE))
            tools.count(request, operation, "processing", cur.code)
            raise idempotency.NotSettled(
                payment_view(unsettled.payment, shown, token=saved_token)) from None
        except AmciError as exc:
            tools.refused(request, operation, exc, cur.code)
            if new_customer is not None and exc.code != "authentication_required":
                # The card was not saved: no customer left behind for it.
                records.cards.clear()
                await card_handlers.discard_customer(request, new_customer)
            if isinstance(exc, UpstreamError) and exc.payment is not None:
                records.payments.append(
                    PaymentRecord(exc.payment, cur.code, amount.minor, capture,
                                  "requires_payment_method", reference, mode is Mode.LIVE)
                )
            raise
        status = str(pi["status"])
        # Persisted in the transaction that stores the idempotent result, before we answer.
        records.payments.append(
            PaymentRecord(pi["id"], cur.code, amount.minor, capture, status, reference,
                          mode is Mode.LIVE)
        )
        tools.count(request, operation, outcomes.metric_outcome(status), cur.code)
        if status == "requires_action" and return_url is None:
            # Nowhere to send the customer: the billing system gets the payment id and asks
            # for a link with /authenticate when it can reach the customer.
            raise AuthenticationRequired(payment=pi["id"])
        return 201, payment_view(pi, shown, token=saved_token, pages=tools.pages(request))

    return await idempotency.run(request, principal, tools.canonical(req), work)


async def get_payment(request: web.Request) -> web.Response:
    """The payment fresh from Stripe: after the customer's return from 3D Secure, its final
    status."""
    return await get_payment_by_id(request, tools.path_id(request, "id", "payment"))


async def get_payment_by_id(request: web.Request, payment_id: str) -> web.Response:
    principal = tools.principal(request)
    pi = await request.app[keys.RELAY].retrieve_payment(principal.mode, principal.key,
                                                         payment_id)
    return web.json_response(
        payment_view(pi, await _card_of(request, pi), pages=tools.pages(request))
    )


# What a fresh authentication can help: an intent waiting on its customer, or one whose last
# attempt failed for authentication (Stripe: "you can retry 3DS by reconfirming",
# docs.stripe.com/payments/3d-secure/authentication-flow). Not an issuer's decline.
_WAITING = ("requires_action", "requires_confirmation")
_AUTH_FAILURES = ("authentication_required", "payment_intent_authentication_failure")


def _authenticable(pi: Mapping[str, Any]) -> bool:
    if pi.get("status") in _WAITING:
        return True
    error = pi.get("last_payment_error")
    return (pi.get("status") == "requires_payment_method" and isinstance(error, Mapping)
            and error.get("code") in _AUTH_FAILURES)


async def authenticate_payment(request: web.Request) -> web.Response:
    """A fresh 3D Secure redirect for a payment waiting on its customer: one created without a
    return_url, or an off-session charge Stripe refused with authentication_required. Stripe's
    way is to confirm the PaymentIntent again, on session, with the payment method it failed
    with (docs.stripe.com/payments/save-and-reuse, "Recover failed payments")."""
    principal = tools.principal(request)
    payment_id = tools.path_id(request, "id", "payment")
    try:
        req = await tools.parse(request, contract.AuthenticateRequest)
    except AmciError as exc:
        tools.refused(request, "authenticate", exc)
        raise
    relay, mode, key = request.app[keys.RELAY], principal.mode, principal.key

    async def work(up: UpstreamKeys, records: Records) -> tuple[int, Any]:
        try:
            pi = await relay.retrieve_payment(mode, key, payment_id)
            status = str(pi["status"])
            pm = pi.get("payment_method")
            if pm is None and isinstance(pi.get("last_payment_error"), Mapping):
                failed = pi["last_payment_error"].get("payment_method")
                pm = failed.get("id") if isinstance(failed, Mapping) else failed
            if isinstance(pm, Mapping):
                pm = pm.get("id")
            if not _authenticable(pi) or not isinstance(pm, str):
                raise InvalidRequest(
                    "payment_intent_unexpected_state",
                    f"This payment is not waiting for authentication: its status is {status}.",
                    param="id",
                )
            pi = await relay.confirm_payment(mode, key, up.step("confirm"), payment_id, {
                "payment_method": pm, "return_url": req.return_url,
                "expand": ["latest_charge"],
            })
        except AmciError as exc:
            tools.refused(request, "authenticate", exc)
            raise
        tools.count(request, "authenticate", outcomes.metric_outcome(str(pi["status"])),
               str(pi["currency"]).upper())
        return 200, payment_view(pi, await _card_of(request, pi), pages=tools.pages(request))

    return await idempotency.run(request, principal, tools.canonical(req), work)


async def _card_of(request: web.Request, pi: Mapping[str, Any]) -> Any:
    """The card behind a payment: AMCI's record of the token, else Stripe's payment method."""
    principal = tools.principal(request)
    pm = pi.get("payment_method")
    if pm is None and isinstance(pi.get("last_payment_error"), Mapping):
        # Failed authentication leaves the intent without a payment method; the error has it.
        pm = pi["last_payment_error"].get("payment_method")
    if isinstance(pm, Mapping):
        return pm.get("card")
    if not isinstance(pm, str):
        return None
    saved = await request.app[keys.STORE].card(principal.scope, pm)
    if saved is not None:
        return saved
    method = await request.app[keys.RELAY].retrieve_method(
        principal.mode, principal.key, payment_method=pm
    )
    return method.get("card")


async def _currency_for(request: web.Request, payment_id: str) -> money.Currency:
    principal = tools.principal(request)
    record = await request.app[keys.STORE].payment(principal.scope, payment_id)
    if record is not None:
        return money.currency(record.currency)
    pi = await request.app[keys.RELAY].retrieve_payment(principal.mode, principal.key, payment_id)
    return money.currency(str(pi["currency"]))


async def _optional_amount(
    request: web.Request, payment_id: str, amount: str | None, operation: str
) -> int | None:
    """A capture's or refund's ``amount`` in the payment's own currency; None means "all"."""
    if amount is None:
        return None
    cur = await _currency_for(request, payment_id)
    try:
        return policy.positive(policy.amount_of(amount, cur)).minor
    except AmciError as exc:
        tools.refused(request, operation, exc, cur.code)
        raise


async def capture_payment(request: web.Request) -> web.Response:
    principal = tools.principal(request)
    payment_id = tools.path_id(request, "id", "payment")
    try:
        req = await tools.parse(request, contract.CaptureRequest)
    except AmciError as exc:
        tools.refused(request, "capture", exc)
        raise
    amount_minor = await _optional_amount(request, payment_id, req.amount, "capture")
    relay, mode, key = request.app[keys.RELAY], principal.mode, principal.key

    async def work(up: UpstreamKeys, records: Records) -> tuple[int, Any]:
        try:
            pi = await relay.capture(mode, key, up.step("capture"), payment_id, amount_minor)
        except AmciError as exc:
            tools.refused(request, "capture", exc)
            raise
        tools.count(request, "capture", "succeeded", str(pi["currency"]).upper())
        return 200, payment_view(pi, await _card_of(request, pi), pages=tools.pages(request))

    return await idempotency.run(request, principal, tools.canonical(req), work)


async def refund_payment(request: web.Request) -> web.Response:
    principal = tools.principal(request)
    payment_id = tools.path_id(request, "id", "payment")
    try:
        req = await tools.parse(request, contract.RefundRequest)
    except AmciError as exc:
        tools.refused(request, "refund", exc)
        raise
    amount_minor = await _optional_amount(request, payment_id, req.amount, "refund")
    relay, mode, key = request.app[keys.RELAY], principal.mode, principal.key

    async def work(up: UpstreamKeys, records: Records) -> tuple[int, Any]:
        try:
            refund = await relay.refund(mode, key, up.step("refund"), payment_id, amount_minor,
                                        req.reason)
        except AmciError as exc:
            tools.refused(request, "refund", exc)
            raise
        cur = money.currency(str(refund["currency"]))
        tools.count(request, "refund", "succeeded", cur.code)
        return 201, contract.dump(contract.Refund(
            id=refund["id"],
            payment=refund.get("payment_intent") or payment_id,
            amount=money.from_minor(int(refund["amount"]), cur),
            amount_minor=int(refund["amount"]),
            currency=cur.code,
            status=refund.get("status"),
            reason=refund.get("reason") or None,
            created=refund.get("created"),
        ))

    return await idempotency.run(request, principal, tools.canonical(req), work)


async def void_payment(request: web.Request) -> web.Response:
    tools.path_id(request, "id", "payment")
    tools.count(request, "void", "refused")
    raise void_not_supported()


ROUTES: tuple[tuple[str, str, Any], ...] = (
    ("GET", "/healthz", healthz),
    ("GET", "/readyz", readyz),
    ("GET", "/metrics", metrics),
    ("GET", "/openapi.json", openapi),
    ("POST", "/v1/stripe/cards", card_handlers.save_card),
    ("GET", "/v1/stripe/cards/{token}", card_handlers.get_card),
    ("DELETE", "/v1/stripe/cards/{token}", card_handlers.delete_card),
    ("POST", "/v1/stripe/payments", create_payment),
    ("GET", "/v1/stripe/payments", notification_handlers.find_payment),
    ("GET", "/v1/stripe/notifications", notification_handlers.list_notifications),
    ("POST", "/v1/stripe/notifications/{id}/redeliver", notification_handlers.redeliver),
    ("POST", "/v1/stripe/webhooks/{subscription}", webhooks.receive),
    ("GET", "/v1/stripe/payments/{id}", get_payment),
    ("POST", "/v1/stripe/payments/{id}/authenticate", authenticate_payment),
    ("POST", "/v1/stripe/payments/{id}/capture", capture_payment),
    ("POST", "/v1/stripe/payments/{id}/refunds", refund_payment),
    ("POST", "/v1/stripe/payments/{id}/void", void_payment),
    ("GET", pages.PATH, pages.page),
    ("POST", pages.PATH, pages.page),
)
