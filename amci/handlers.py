"""HTTP handlers: parse → policy → relay → respond. The contract is docs/amci-api.md.

Authentication runs in the middleware (``app.py``) for every ``/v1`` route and leaves the
``Principal`` on the request.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from amci import contract, idempotency, keys, money, policy
from amci.auth import Mode, Principal
from amci.errors import AmciError, NotFound, UpstreamError, void_not_supported
from amci.idempotency import UpstreamKeys
from amci.logs import log
from amci.openapi import document
from amci.store import CardRecord, PaymentRecord, Records

_ID_RE = re.compile(contract.ID_PATTERN)
M = TypeVar("M", bound=BaseModel)


# --- parsing -------------------------------------------------------------------------------------


async def _parse(request: web.Request, model: type[M]) -> M:
    """The body as ``model``: the one call into the contract per handler."""
    return contract.parse(model, await request.read())


def _metadata(
    given: Mapping[str, str] | None, reference: str | None, customer_reference: str | None
) -> dict[str, str]:
    """Stripe metadata (docs.stripe.com/metadata): the caller's keys (``contract.Metadata``
    checked them) plus AMCI's ``reference`` and ``customer_reference``."""
    meta = dict(given or {})
    if reference is not None:
        meta["reference"] = reference
    if customer_reference is not None:
        meta["customer_reference"] = customer_reference
    return meta


def _canonical(req: BaseModel) -> dict[str, Any]:
    """What an Idempotency-Key is bound to: the parameters as the caller sent them."""
    return req.model_dump(mode="json", exclude_unset=True)


def _path_id(request: web.Request, name: str, param: str) -> str:
    value = request.match_info[name]
    if not _ID_RE.match(value):
        raise NotFound(f"No such {param}: the id is malformed.", param=param)
    return value


def _principal(request: web.Request) -> Principal:
    return request[keys.PRINCIPAL]


def _today(request: web.Request) -> Any:
    return datetime.fromtimestamp(request.app[keys.CLOCK](), UTC).date()


def _count(request: web.Request, operation: str, outcome: str, currency: str = "none") -> None:
    mode = _principal(request).mode.value
    metrics = request.app[keys.METRICS]
    metrics.child(metrics.payments, operation, outcome, mode, currency).inc()


def _refused(request: web.Request, operation: str, exc: AmciError, currency: str = "none") -> None:
    outcome = "declined" if isinstance(exc, UpstreamError) and exc.status == 402 else (
        "failed" if isinstance(exc, UpstreamError) or exc.status >= 500 else "refused"
    )
    _count(request, operation, outcome, currency)


# --- views ---------------------------------------------------------------------------------------


def _card_view(card: CardRecord | policy.Card | Mapping[str, Any] | None) -> dict[str, Any] | None:
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


def payment_view(pi: Mapping[str, Any], card: Any) -> dict[str, Any]:
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
    view = _card_view(card)
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
        card=contract.PaymentCard(**view) if view is not None else None,
        customer=pi.get("customer"),
        description=pi.get("description"),
        reference=reference,
        customer_reference=customer_reference,
        metadata=metadata,
        livemode=bool(pi.get("livemode")),
        created=pi.get("created"),
    ))


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


# --- cards ---------------------------------------------------------------------------------------


async def _discard_customer(request: web.Request, customer: str) -> None:
    """Best effort: a failure here is logged, and the caller's original error still answers."""
    principal = _principal(request)
    try:
        await request.app[keys.RELAY].delete_customer(
            principal.mode, principal.key, customer=customer
        )
    except AmciError as exc:
        log(request.app[keys.LOGGER], "orphan_customer_left", level=logging.WARNING,
            customer=customer, code=exc.code)


async def save_card(request: web.Request) -> web.Response:
    principal = _principal(request)
    app = request.app
    try:
        req = await _parse(request, contract.SaveCardRequest)
        # The spec: no token without an email — refused before any Stripe call.
        email = policy.require_email(req.customer)
        enabled = policy.enabled_brands(req.enabled_brands)
        card = policy.check_card(req.card, today=_today(request), enabled=enabled)
        name = req.customer.name if req.customer is not None else None
        reference = req.customer.reference if req.customer is not None else None
    except AmciError as exc:
        _refused(request, "save_card", exc)
        raise

    relay, mode, key = app[keys.RELAY], principal.mode, principal.key

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
            try:
                await relay.attach(
                    mode, key, up.step("attach"), payment_method=pm["id"], customer=cus["id"]
                )
            except AmciError:
                # Stripe refuses to attach cards that simulate issuer declines (and real ones it
                # declines): don't leave an empty customer behind for a card that was never saved.
                await _discard_customer(request, cus["id"])
                raise
        except AmciError as exc:
            _refused(request, "save_card", exc)
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
        _count(request, "save_card", "succeeded")
        return 201, contract.dump(contract.CardToken(
            token=record.token,
            customer=record.customer,
            brand=record.brand,
            last4=record.last4,
            exp_month=record.exp_month,
            exp_year=record.exp_year,
            livemode=record.livemode,
        ))

    return await idempotency.run(request, principal, _canonical(req), work)


async def delete_card(request: web.Request) -> web.Response:
    principal = _principal(request)
    token = _path_id(request, "token", "token")
    app = request.app
    try:
        await app[keys.RELAY].detach(principal.mode, principal.key, payment_method=token)
    except AmciError as exc:
        _refused(request, "delete_card", exc)
        raise
    await app[keys.STORE].forget_card(principal.scope, token)
    _count(request, "delete_card", "succeeded")
    return web.json_response(contract.dump(contract.DeletedCardToken(token=token)))


# --- payments ------------------------------------------------------------------------------------


async def create_payment(request: web.Request) -> web.Response:
    principal = _principal(request)
    app = request.app
    operation = "sale"
    currency_label = "none"
    try:
        req = await _parse(request, contract.PaymentRequest)
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
        card = (
            policy.check_card(req.card, today=_today(request), enabled=enabled)
            if req.card is not None
            else None
        )
        # Optional on payments: on a card payment its name and email go to the payment
        # method's billing_details; its reference, on any payment, to metadata.
        customer_name = req.customer.name if req.customer is not None else None
        customer_email = policy.optional_email(req.customer)
        customer_ref = req.customer.reference if req.customer is not None else None
        description, reference = req.description, req.reference
        metadata = _metadata(req.metadata, reference, customer_ref)
    except AmciError as exc:
        _refused(request, operation, exc, currency_label)
        raise

    relay, store, mode, key = app[keys.RELAY], app[keys.STORE], principal.mode, principal.key
    scope = principal.scope

    async def work(up: UpstreamKeys, records: Records) -> tuple[int, Any]:
        params: dict[str, Any] = {
            "amount": amount.minor,
            "currency": cur.wire,
            "confirm": True,
            "capture_method": "automatic" if capture else "manual",
            "payment_method_types": ["card"],
        }
        if description is not None:
            params["description"] = description
        if metadata:
            params["metadata"] = metadata
        shown: Any
        customer: Any
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
                policy.check_brand(str(_card_view(shown)["brand"]), enabled, param="token")  # type: ignore[index]
                params["payment_method"] = token
                if customer:
                    # A merchant-initiated charge of a saved card (docs.stripe.com/payments/
                    # save-and-reuse: customer, payment_method, off_session, confirm).
                    params.update(customer=customer, off_session=True)
            else:
                assert card is not None
                pm = await relay.create_card_method(
                    mode, key, up.step("payment_method"), number=card.number,
                    exp_month=card.exp_month, exp_year=card.exp_year, cvc=card.cvc,
                    holder=card.holder or customer_name, email=customer_email,
                )
                shown = pm.get("card") or card
                params["payment_method"] = pm["id"]
            pi = await relay.create_payment(mode, key, up.step("payment_intent"), params)
        except AmciError as exc:
            _refused(request, operation, exc, cur.code)
            if isinstance(exc, UpstreamError) and exc.payment is not None:
                records.payments.append(
                    PaymentRecord(exc.payment, cur.code, amount.minor, capture,
                                  "requires_payment_method", reference, mode is Mode.LIVE)
                )
            raise
        # Persisted in the transaction that stores the idempotent result, before we answer.
        records.payments.append(
            PaymentRecord(pi["id"], cur.code, amount.minor, capture, str(pi["status"]), reference,
                          mode is Mode.LIVE)
        )
        _count(request, operation, "succeeded", cur.code)
        return 201, payment_view(pi, shown)

    return await idempotency.run(request, principal, _canonical(req), work)


async def get_payment(request: web.Request) -> web.Response:
    principal = _principal(request)
    payment_id = _path_id(request, "id", "payment")
    app = request.app
    pi = await app[keys.RELAY].retrieve_payment(principal.mode, principal.key, payment_id)
    return web.json_response(payment_view(pi, await _card_of(request, pi)))


async def _card_of(request: web.Request, pi: Mapping[str, Any]) -> Any:
    """The card behind a payment: AMCI's record of the token, else Stripe's payment method."""
    principal = _principal(request)
    pm = pi.get("payment_method")
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
    principal = _principal(request)
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
        _refused(request, operation, exc, cur.code)
        raise


async def capture_payment(request: web.Request) -> web.Response:
    principal = _principal(request)
    payment_id = _path_id(request, "id", "payment")
    try:
        req = await _parse(request, contract.CaptureRequest)
    except AmciError as exc:
        _refused(request, "capture", exc)
        raise
    amount_minor = await _optional_amount(request, payment_id, req.amount, "capture")
    relay, mode, key = request.app[keys.RELAY], principal.mode, principal.key

    async def work(up: UpstreamKeys, records: Records) -> tuple[int, Any]:
        try:
            pi = await relay.capture(mode, key, up.step("capture"), payment_id, amount_minor)
        except AmciError as exc:
            _refused(request, "capture", exc)
            raise
        _count(request, "capture", "succeeded", str(pi["currency"]).upper())
        return 200, payment_view(pi, await _card_of(request, pi))

    return await idempotency.run(request, principal, _canonical(req), work)


async def refund_payment(request: web.Request) -> web.Response:
    principal = _principal(request)
    payment_id = _path_id(request, "id", "payment")
    try:
        req = await _parse(request, contract.RefundRequest)
    except AmciError as exc:
        _refused(request, "refund", exc)
        raise
    amount_minor = await _optional_amount(request, payment_id, req.amount, "refund")
    relay, mode, key = request.app[keys.RELAY], principal.mode, principal.key

    async def work(up: UpstreamKeys, records: Records) -> tuple[int, Any]:
        try:
            refund = await relay.refund(mode, key, up.step("refund"), payment_id, amount_minor,
                                        req.reason)
        except AmciError as exc:
            _refused(request, "refund", exc)
            raise
        cur = money.currency(str(refund["currency"]))
        _count(request, "refund", "succeeded", cur.code)
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

    return await idempotency.run(request, principal, _canonical(req), work)


async def void_payment(request: web.Request) -> web.Response:
    _path_id(request, "id", "payment")
    _count(request, "void", "refused")
    raise void_not_supported()


ROUTES: tuple[tuple[str, str, Any], ...] = (
    ("GET", "/healthz", healthz),
    ("GET", "/readyz", readyz),
    ("GET", "/metrics", metrics),
    ("GET", "/openapi.json", openapi),
    ("POST", "/v1/stripe/cards", save_card),
    ("DELETE", "/v1/stripe/cards/{token}", delete_card),
    ("POST", "/v1/stripe/payments", create_payment),
    ("GET", "/v1/stripe/payments/{id}", get_payment),
    ("POST", "/v1/stripe/payments/{id}/capture", capture_payment),
    ("POST", "/v1/stripe/payments/{id}/refunds", refund_payment),
    ("POST", "/v1/stripe/payments/{id}/void", void_payment),
)
