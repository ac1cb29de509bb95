"""Use cases of the billing client: what an administrator configures and what a customer does.

Each method reads: load → policy (``validation``/``cards``/``money``) → record → relay to AMCI →
record the outcome → return a JSON-ready view (or raise from ``errors``).

Money-moving operations follow one rule so a timeout followed by a retry never charges twice:
the transaction row, with its own AMCI ``Idempotency-Key``, is written *before* AMCI is called;
every later attempt (a client retry with the same ``Idempotency-Key`` header,
``POST /api/transactions/{id}/retry``, or the background reconciler's ``reconcile_pending``)
resends the very same body under that same key, so AMCI (and Stripe behind it) replays the
first result instead of charging again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from billing_client import money
from billing_client.amci_client import AmciClient, AmciError, AmciUnavailable, Credentials
from billing_client.cards import BRAND_NAMES, METHODS, Card, check_card
from billing_client.crypto import ApiKey, CardNumber, Login, Vault
from billing_client.errors import (
    AmciUnavailable as AmciUnavailableError,
)
from billing_client.errors import (
    BillingError,
    Conflict,
    IdempotencyError,
    IdempotencyInUse,
    InvalidRequest,
    NotFound,
    PaymentRefused,
    invalid,
)
from billing_client.logs import log
from billing_client.metrics import Metrics
from billing_client.storage import DuplicateRequest, Row, Storage
from billing_client.validation import (
    PaymentSystemInput,
    parse_amount_body,
    parse_card,
    parse_currency,
    parse_customer,
    parse_customer_patch,
    parse_payment,
    parse_payment_system,
    require_object,
)

logger = logging.getLogger("billing_client")

PENDING_MESSAGE = (
    "The payment system could not be reached, so this {operation} is pending: it has not been "
    "confirmed. Retry it later (POST /api/transactions/{id}/retry); it will not be charged twice."
)
UNREACHABLE_CARD_MESSAGE = (
    "The payment system could not be reached, so the card was not saved. Please try again later."
)

# AMCI payment status (Stripe's PaymentIntent status) → the billing client's transaction status.
_PAYMENT_STATUS = {
    "succeeded": "succeeded",
    "requires_capture": "authorized",
    "canceled": "canceled",
    "requires_payment_method": "failed",
}
_REFUNDABLE = ("succeeded", "captured", "partially_refunded")


@dataclass(frozen=True, slots=True)
class Result:
    """What a handler sends back: an HTTP status and a JSON body (or an error to raise)."""

    status: int
    body: dict[str, Any]
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    """What one reconciliation pass did, as counts (never ids, keys or card data).

    ``completed``/``failed``/``still_pending``: attempts sent to AMCI and their outcome (a
    refusal or decline is final and counted as failed; AMCI still unreachable leaves the
    transaction pending). ``needs_card``: pending one-off-card payments (or saved-card payments
    whose card was deleted) that only the customer can retry, left alone. ``busy``: being
    attempted by a request at that moment, left to it. ``errors``: could not be attempted at
    all (logged one by one).
    """

    completed: int = 0
    still_pending: int = 0
    failed: int = 0
    needs_card: int = 0
    busy: int = 0
    errors: int = 0

    @property
    def attempted(self) -> int:
        return self.completed + self.still_pending + self.failed


# ReconcileReport field → billing_client_reconciled_total{outcome} (bounded label values).
RECONCILE_OUTCOMES = ("completed", "still_pending", "failed", "needs_card")


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def _success_status(operation: str) -> int:
    """The HTTP status of a transaction that went through (201 when something was created)."""
    return 201 if operation in ("sale", "authorization", "refund") else 200


class Billing:
    def __init__(
        self,
        storage: Storage,
        vault: Vault,
        amci: AmciClient,
        metrics: Metrics,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = storage
        self._vault = vault
        self._amci = amci
        self._metrics = metrics
        self._clock = clock
        self._locks: dict[str, asyncio.Lock] = {}

    def _now(self) -> int:
        return int(self._clock())

    def _today(self) -> date:
        return datetime.fromtimestamp(self._clock(), UTC).date()

    @contextlib.asynccontextmanager
    async def _exclusive(self, key: str) -> AsyncIterator[None]:
        """One in-flight operation per transaction; a concurrent duplicate gets 409 (as AMCI)."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        if lock.locked():
            raise IdempotencyInUse(
                "This transaction is being processed by another request; retry in a moment."
            )
        async with lock:
            try:
                yield
            finally:
                self._locks.pop(key, None)

    # == payment systems ========================================================================

    def _ps_input(self, row: Row) -> PaymentSystemInput:
        return PaymentSystemInput(
            name=row["name"],
            processor=row["processor"],
            login=Login(self._vault.open(row["login_sealed"])),
            api_key=ApiKey(self._vault.open(row["api_key_sealed"])),
            test_mode=bool(row["test_mode"]),
            enabled_methods=tuple(json.loads(row["enabled_methods"])),
            data_protection=row["data_protection"],
        )

    def _credentials(self, row: Row) -> Credentials:
        ps = self._ps_input(row)
        return Credentials(login=ps.login, api_key=ps.api_key)

    def _ps_columns(self, ps: PaymentSystemInput) -> Row:
        return {
            "name": ps.name,
            "processor": ps.processor,
            "login_sealed": self._vault.seal(ps.login),
            "api_key_sealed": self._vault.seal(ps.api_key),
            "api_key_masked": ps.api_key.masked(),
            "test_mode": int(ps.test_mode),
            "enabled_methods": json.dumps(list(ps.enabled_methods)),
            "data_protection": ps.data_protection,
        }

    @staticmethod
    def ps_view(row: Row) -> dict[str, Any]:
        return {
            "object": "payment_system",
            "id": row["id"],
            "name": row["name"],
            "processor": "Stripe",
            "login": "•••••",
            "password": row["api_key_masked"],
            "test_mode": bool(row["test_mode"]),
            "enabled_methods": json.loads(row["enabled_methods"]),
            "data_protection": row["data_protection"],
            "created": row["created"],
            "updated": row["updated"],
        }

    async def _ps_row(self, ps_id: str, param: str | None = None) -> Row:
        row = await self._db.get_payment_system(ps_id)
        if row is None:
            if param is not None:
                raise InvalidRequest(
                    f"No such payment system: {ps_id}", code="resource_missing", param=param
                )
            raise NotFound(f"No such payment system: {ps_id}")
        return row

    async def create_payment_system(self, body: Any) -> dict[str, Any]:
        ps = parse_payment_system(body)
        if await self._db.find_payment_system_by_name(ps.name) is not None:
            raise Conflict(
                f"A payment system named {ps.name!r} already exists.",
                code="name_taken",
                param="name",
            )
        now = self._now()
        row = {"id": _new_id("ps"), **self._ps_columns(ps), "created": now, "updated": now}
        await self._db.insert("payment_systems", row)
        return self.ps_view(row)

    async def list_payment_systems(self) -> dict[str, Any]:
        rows = await self._db.list_payment_systems()
        return {"object": "list", "data": [self.ps_view(r) for r in rows]}

    async def get_payment_system(self, ps_id: str) -> dict[str, Any]:
        return self.ps_view(await self._ps_row(ps_id))

    async def update_payment_system(self, ps_id: str, body: Any) -> dict[str, Any]:
        row = await self._ps_row(ps_id)
        ps = parse_payment_system(body, self._ps_input(row))
        if ps.name != row["name"]:
            other = await self._db.find_payment_system_by_name(ps.name)
            if other is not None and other["id"] != ps_id:
                raise Conflict(
                    f"A payment system named {ps.name!r} already exists.",
                    code="name_taken",
                    param="name",
                )
        fields = {**self._ps_columns(ps), "updated": self._now()}
        await self._db.update("payment_systems", "id", ps_id, fields)
        return self.ps_view({**row, **fields})

    async def delete_payment_system(self, ps_id: str) -> dict[str, Any]:
        await self._ps_row(ps_id)
        currencies, cards = await self._db.payment_system_uses(ps_id)
        if currencies or cards:
            raise Conflict(
                f"The payment system is in use ({currencies} currencies, {cards} saved cards); "
                "unassign it and delete its cards first.",
                code="payment_system_in_use",
            )
        await self._db.delete_payment_system(ps_id)
        return {"object": "payment_system", "id": ps_id, "deleted": True}

    async def seed_payment_system(
        self, body: Mapping[str, Any], currencies: Mapping[str, str]
    ) -> str:
        """Create the configured demo payment system once (by name) and assign its currencies."""
        existing = await self._db.find_payment_system_by_name(str(body.get("name")))
        ps_id = existing["id"] if existing else (await self.create_payment_system(dict(body)))["id"]
        for code, minimum in currencies.items():
            if await self._db.get_currency(code.upper()) is None:
                await self.put_currency(code, {"payment_system": ps_id, "minimum_payment": minimum})
        return str(ps_id)

    # == currencies =============================================================================

    @staticmethod
    def currency_view(row: Row) -> dict[str, Any]:
        code = row["code"]
        return {
            "object": "currency",
            "code": code,
            "payment_system": row["payment_system_id"],
            "minimum_payment": money.format_amount(row["minimum_minor"], code),
            "minimum_payment_display": money.human(row["minimum_minor"], code),
            "updated": row["updated"],
        }

    async def put_currency(self, code: str, body: Any) -> dict[str, Any]:
        upper, data = parse_currency(code, body)
        await self._ps_row(data.payment_system_id, param="payment_system")
        now = self._now()
        await self._db.put_currency(upper, data.payment_system_id, data.minimum_minor, now)
        row = await self._db.get_currency(upper)
        assert row is not None
        return self.currency_view(row)

    async def get_currency(self, code: str) -> dict[str, Any]:
        try:
            upper = money.currency_code(code)
        except money.MoneyError as exc:
            raise InvalidRequest(exc.message, code=exc.code, param="currency") from exc
        row = await self._db.get_currency(upper)
        if row is None:
            raise NotFound(f"No payment system is assigned to {upper}.")
        return self.currency_view(row)

    async def list_currencies(self) -> dict[str, Any]:
        rows = await self._db.list_currencies()
        return {"object": "list", "data": [self.currency_view(r) for r in rows]}

    async def _assignment(self, currency: str) -> tuple[Row, Row]:
        """The customer's currency → (currency row, payment system row), or a clear refusal."""
        cur = await self._db.get_currency(currency)
        if cur is None:
            raise InvalidRequest(
                f"No payment system is assigned to {currency}: assign one with "
                f"PUT /api/currencies/{currency}.",
                code="currency_not_configured",
                param="currency",
            )
        return cur, await self._ps_row(cur["payment_system_id"])

    # == customers ==============================================================================

    @staticmethod
    def customer_view(row: Row) -> dict[str, Any]:
        return {
            "object": "customer",
            "id": row["id"],
            "name": row["name"],
            "email": row["email"],
            "currency": row["currency"],
            "created": row["created"],
            "updated": row["updated"],
        }

    async def _customer(self, customer_id: str) -> Row:
        row = await self._db.get_customer(customer_id)
        if row is None:
            raise NotFound(f"No such customer: {customer_id}")
        return row

    async def create_customer(self, body: Any) -> dict[str, Any]:
        data = parse_customer(body)
        now = self._now()
        row = {
            "id": _new_id("cust"),
            "name": data.name,
            "email": data.email,
            "currency": data.currency,
            "created": now,
            "updated": now,
        }
        await self._db.insert("customers", row)
        return self.customer_view(row)

    async def get_customer(self, customer_id: str) -> dict[str, Any]:
        return self.customer_view(await self._customer(customer_id))

    async def list_customers(self) -> dict[str, Any]:
        return {
            "object": "list",
            "data": [self.customer_view(r) for r in await self._db.list_customers()],
        }

    async def update_customer(self, customer_id: str, body: Any) -> dict[str, Any]:
        row = await self._customer(customer_id)
        changes: Row = {**parse_customer_patch(body), "updated": self._now()}
        await self._db.update("customers", "id", customer_id, changes)
        return self.customer_view({**row, **changes})

    # == cards ==================================================================================

    def card_view(self, row: Row) -> dict[str, Any]:
        exp_month, exp_year = row.get("exp_month"), row.get("exp_year")
        if row["storage"] == "encrypted" and row.get("sealed"):
            opened = self._vault.open_json(row["sealed"])
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
        }

    @staticmethod
    def _check_brand(brand: str | None, enabled: tuple[str, ...]) -> str:
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

    @staticmethod
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

    def _customer_payload(self, customer: Row) -> dict[str, Any]:
        payload: dict[str, Any] = {"name": customer["name"], "reference": customer["id"]}
        if customer["email"]:
            payload["email"] = customer["email"]
        return payload

    async def add_card(self, customer_id: str, body: Any, request_key: str | None = None) -> Result:
        customer = await self._customer(customer_id)
        body = require_object(body)
        extra = sorted(set(body) - {"card"})
        if extra:
            raise invalid(extra[0], f"Received unknown parameter: {extra[0]}.")
        card = parse_card(body.get("card"))
        _, ps_row = await self._assignment(customer["currency"])
        ps = self._ps_input(ps_row)
        now = self._now()
        row: Row = {
            "id": _new_id("card"),
            "customer_id": customer_id,
            "payment_system_id": ps_row["id"],
            "created": now,
            "deleted": 0,
        }
        if ps.data_protection == "full_card_except_cvv":
            # Nothing goes to AMCI until a payment: check the card here, keep number and expiry
            # encrypted, drop the CVC.
            check_card(card, self._today())
            brand = self._check_brand(card.brand, ps.enabled_methods)
            row |= {
                "storage": "encrypted",
                "sealed": self._vault.seal_json(
                    {"number": card.number, "exp_month": card.exp_month, "exp_year": card.exp_year}
                ),
                "brand": brand,
                "last4": card.last4,
            }
            await self._db.insert("cards", row)
            return Result(201, self.card_view(row))

        # token_only: the card data goes to AMCI once, AMCI answers with a token.
        if card.brand is not None:
            self._check_brand(card.brand, ps.enabled_methods)
        amci_body: dict[str, Any] = {
            "card": self._card_payload(card),
            "customer": self._customer_payload(customer),
            "enabled_brands": [METHODS[m] for m in ps.enabled_methods],
        }
        if request_key:
            digest = hmac.new(
                self._vault.fingerprint({"card-request": request_key}).encode(),
                customer_id.encode(),
                hashlib.sha256,
            ).hexdigest()[:40]
            key = f"bc-card-{digest}"
        else:
            key = f"bc-card-{uuid.uuid4().hex}"
        try:
            saved = await self._amci.save_card(self._credentials(ps_row), amci_body, key)
        except AmciError as exc:
            raise self._amci_refusal(exc) from None
        except AmciUnavailable:
            raise AmciUnavailableError(UNREACHABLE_CARD_MESSAGE) from None
        token = str(saved.get("token") or "")
        if not token:
            raise AmciUnavailableError(
                "AMCI answered without a card token; the card was not saved."
            )
        for existing in await self._db.list_cards(customer_id):
            if existing["token"] == token:  # a replayed save: the same card, not a second one
                return Result(200, self.card_view(existing), replayed=True)
        row |= {
            "storage": "token",
            "token": token,
            "amci_customer": saved.get("customer"),
            "brand": str(saved.get("brand") or card.brand or "unknown"),
            "last4": str(saved.get("last4") or card.last4),
            "exp_month": saved.get("exp_month", card.exp_month),
            "exp_year": saved.get("exp_year", card.exp_year),
        }
        await self._db.insert("cards", row)
        return Result(201, self.card_view(row))

    @staticmethod
    def _card_payload(card: Card, *, with_cvc: bool = True) -> dict[str, Any]:
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

    async def list_cards(self, customer_id: str) -> dict[str, Any]:
        await self._customer(customer_id)
        rows = await self._db.list_cards(customer_id)
        return {"object": "list", "data": [self.card_view(r) for r in rows]}

    async def _card(self, customer_id: str, card_id: str, param: str | None = None) -> Row:
        row = await self._db.get_card(customer_id, card_id)
        if row is None:
            if param:
                raise InvalidRequest(
                    f"No such card: {card_id}", code="resource_missing", param=param
                )
            raise NotFound(f"No such card: {card_id}")
        return row

    async def delete_card(self, customer_id: str, card_id: str) -> dict[str, Any]:
        await self._customer(customer_id)
        row = await self._card(customer_id, card_id)
        if row["storage"] == "token":
            ps_row = await self._ps_row(row["payment_system_id"])
            try:
                await self._amci.delete_card(self._credentials(ps_row), row["token"])
            except AmciError as exc:
                if exc.code != "resource_missing":  # already gone at Stripe: fine
                    raise self._amci_refusal(exc) from None
            except AmciUnavailable:
                raise AmciUnavailableError(
                    "The payment system could not be reached, so the card was not deleted. "
                    "Please try again later."
                ) from None
        await self._db.update("cards", "id", card_id, {"deleted": 1, "sealed": None})
        return {"object": "card", "id": card_id, "deleted": True}

    # == transactions: views and replays ========================================================

    def transaction_view(self, row: Row, children: list[Row] | None = None) -> dict[str, Any]:
        cur = row["currency"]

        def amount(minor: int | None) -> str | None:
            return money.format_amount(minor, cur) if minor is not None else None

        view: dict[str, Any] = {
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
            "message": row["message"],
            "error": (
                {
                    k: v
                    for k, v in (
                        ("type", row["error_type"]),
                        ("code", row["error_code"]),
                        ("param", row["error_param"]),
                        ("decline_code", row["decline_code"]),
                    )
                    if v is not None
                }
                if row["error_code"] or row["error_type"]
                else None
            ),
            "created": row["created"],
            "updated": row["updated"],
        }
        if row["operation"] in ("sale", "authorization"):
            view["amount_captured"] = amount(row["amount_captured_minor"])
            view["amount_refunded"] = amount(row["amount_refunded_minor"])
        if children is not None:
            view["related"] = [
                {
                    "id": c["id"],
                    "operation": c["operation"],
                    "status": c["status"],
                    "amount": amount(c["amount_minor"]),
                }
                for c in children
            ]
        return view

    def _outcome(self, row: Row, success_status: int, replayed: bool = False) -> Result:
        """The answer for a transaction in its current state (first answer or a replay)."""
        view = self.transaction_view(row)
        status = row["status"]
        if status == "pending":
            raise AmciUnavailableError(
                row["message"] or "The payment system could not be reached.",
                code="transaction_pending",
                extra={"transaction": view},
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
                    "transaction": view,
                },
            )
        return Result(row["http_status"] or success_status, view, replayed=replayed)

    async def get_transaction(self, txn_id: str) -> dict[str, Any]:
        row = await self._txn(txn_id)
        return self.transaction_view(row, await self._db.children(txn_id))

    async def list_transactions(self, customer_id: str) -> dict[str, Any]:
        await self._customer(customer_id)
        rows = await self._db.list_transactions(customer_id)
        return {"object": "list", "data": [self.transaction_view(r) for r in rows]}

    async def _txn(self, txn_id: str) -> Row:
        row = await self._db.get_transaction(txn_id)
        if row is None:
            raise NotFound(f"No such transaction: {txn_id}")
        return row

    async def _replay(
        self,
        scope: str,
        request_key: str | None,
        fingerprint: str,
        retry_card: Card | None,
        success_status: int,
    ) -> Result | None:
        """A client retry of a request it sent before: the first result, or finish it."""
        if not request_key:
            return None
        existing = await self._db.find_request(scope, request_key)
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
            return await self._retry_row(existing, retry_card, success_status)
        return self._outcome(existing, success_status, replayed=True)

    # == payments ===============================================================================

    async def pay(self, customer_id: str, body: Any, request_key: str | None = None) -> Result:
        customer = await self._customer(customer_id)
        data = parse_payment(body, customer["currency"])
        scope = f"pay:{customer_id}"
        fingerprint = self._vault.fingerprint({"pay": body})
        replay = await self._replay(scope, request_key, fingerprint, data.card, 201)
        if replay is not None:
            return replay

        currency = customer["currency"]
        cur_row, ps_row = await self._assignment(currency)
        ps = self._ps_input(ps_row)
        now = self._now()
        txn_id = _new_id("txn")
        row: Row = {
            "id": txn_id,
            "customer_id": customer_id,
            "payment_system_id": ps_row["id"],
            "operation": data.kind,
            "parent_id": None,
            "currency": currency,
            "amount_minor": data.amount_minor,
            "status": "pending",
            "description": data.description,
            "idempotency_key": f"bc-{txn_id}-{uuid.uuid4().hex[:16]}",
            "request_scope": scope if request_key else None,
            "request_key": request_key,
            "request_fingerprint": fingerprint,
            "attempts": 0,
            "created": now,
            "updated": now,
        }
        amci_body: dict[str, Any] = {
            "amount": money.format_amount(data.amount_minor, currency),
            "currency": currency,
            "capture": data.kind == "sale",
            "customer": self._customer_payload(customer),
            "enabled_brands": [METHODS[m] for m in ps.enabled_methods],
            "reference": txn_id,
            "metadata": {"billing_transaction": txn_id},
        }
        if data.description:
            amci_body["description"] = data.description

        if data.card_id is not None:
            card_row = await self._card(customer_id, data.card_id, param="card_id")
            if card_row["payment_system_id"] != ps_row["id"]:
                raise InvalidRequest(
                    "This card was saved with another payment system than the one now assigned "
                    f"to {currency}; save the card again.",
                    code="card_payment_system_mismatch",
                    param="card_id",
                )
            self._check_brand(card_row["brand"], ps.enabled_methods)
            row |= {
                "card_id": card_row["id"],
                "card_source": "saved",
                "card_brand": card_row["brand"],
                "card_last4": card_row["last4"],
            }
            if card_row["storage"] == "token":
                amci_body["token"] = card_row["token"]
        else:
            assert data.card is not None
            self._check_brand(data.card.brand, ps.enabled_methods)
            row |= {
                "card_source": "one_off",
                "card_brand": data.card.brand,
                "card_last4": data.card.last4,
                "card_fingerprint": self._vault.fingerprint({"card": data.card.number}),
            }
        # The AMCI body minus card data is kept (encrypted) so that every retry sends the very same
        # body under the same Idempotency-Key; card data is added back at send time.
        row["request_sealed"] = self._vault.seal_json(amci_body)

        minimum = int(cur_row["minimum_minor"])
        if data.amount_minor < minimum:
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
            await self._db.insert("transactions", row)
        except DuplicateRequest:
            # The same client request raced us in: answer as its replay.
            replay = await self._replay(scope, request_key, fingerprint, data.card, 201)
            if replay is None:
                raise
            return replay
        if row["status"] == "failed":
            self._metrics.transactions.labels(operation=data.kind, outcome="failed").inc()
            return self._outcome(await self._txn(txn_id), 400)
        async with self._exclusive(txn_id):
            return await self._attempt(row, data.card, 201)

    async def _attempt(self, row: Row, one_off: Card | None, success_status: int) -> Result:
        """Send a pending transaction to AMCI once (under its own key); answer with the outcome."""
        return self._outcome(await self._send(row, one_off, success_status), success_status)

    async def _send(self, row: Row, one_off: Card | None, success_status: int) -> Row:
        """Send a pending transaction to AMCI once (under its own key), record and return it."""
        txn_id = row["id"]
        op = row["operation"]
        ps_row = await self._ps_row(row["payment_system_id"])
        creds = self._credentials(ps_row)
        body = self._vault.open_json(row["request_sealed"]) if row["request_sealed"] else {}
        attempts = int(row["attempts"]) + 1
        await self._db.update(
            "transactions", "id", txn_id, {"attempts": attempts, "updated": self._now()}
        )
        row = {**row, "attempts": attempts}
        fields: Row = {}
        try:
            if op in ("sale", "authorization"):
                if row["card_source"] == "saved" and "token" not in body:
                    body["card"] = await self._stored_card_payload(row)
                elif row["card_source"] == "one_off":
                    assert one_off is not None
                    body["card"] = self._card_payload(one_off)
                result = await self._amci.create_payment(creds, body, row["idempotency_key"])
                fields = self._payment_fields(result, row["currency"])
            elif op == "capture":
                parent = await self._txn(row["parent_id"])
                result = await self._amci.capture(
                    creds, parent["amci_payment"], body, row["idempotency_key"]
                )
                payment = self._payment_fields(result, row["currency"])
                fields = {
                    "status": "succeeded",
                    "amci_payment": result.get("id"),
                    "amci_status": result.get("status"),
                }
                await self._db.update(
                    "transactions",
                    "id",
                    parent["id"],
                    {
                        "status": "captured"
                        if payment["status"] == "succeeded"
                        else payment["status"],
                        "amci_status": payment["amci_status"],
                        "amci_charge": payment.get("amci_charge") or parent["amci_charge"],
                        "amount_captured_minor": payment["amount_captured_minor"],
                        "updated": self._now(),
                    },
                )
            elif op == "refund":
                parent = await self._txn(row["parent_id"])
                result = await self._amci.refund(
                    creds, parent["amci_payment"], body, row["idempotency_key"]
                )
                fields = {
                    "status": "succeeded" if result.get("status") != "failed" else "failed",
                    "amci_refund": result.get("id"),
                    "amci_payment": parent["amci_payment"],
                    "amci_status": result.get("status"),
                }
                await self._apply_refund(parent, int(row["amount_minor"]))
            else:  # void: AMCI refuses it by contract (Stripe has no void); recorded either way
                parent = await self._txn(row["parent_id"])
                result = await self._amci.void(creds, parent["amci_payment"])
                fields = {"status": "succeeded", "amci_status": result.get("status")}
            fields["http_status"] = success_status
        except AmciError as exc:
            fields = {
                "status": "refused" if op == "void" else "failed",
                "error_type": exc.type,
                "error_code": exc.code,
                "error_param": exc.param,
                "decline_code": exc.decline_code,
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
            }
        if fields["status"] != "pending":
            # A finished attempt clears the pending notice left by an earlier one.
            fields.setdefault("message", None)
        fields["updated"] = self._now()
        await self._db.update("transactions", "id", txn_id, fields)
        row = await self._txn(txn_id)
        self._metrics.transactions.labels(operation=op, outcome=row["status"]).inc()
        return row

    def _payment_fields(self, result: dict[str, Any], currency: str) -> Row:
        amci_status = str(result.get("status") or "")

        def minor(key: str) -> int:
            value = result.get(key)
            try:
                return money.parse_amount(value, currency) if value is not None else 0
            except money.MoneyError:
                return 0

        return {
            "status": _PAYMENT_STATUS.get(amci_status, "processing"),
            "amci_payment": result.get("id"),
            "amci_charge": result.get("charge"),
            "amci_status": amci_status,
            "amount_captured_minor": minor("amount_received"),
            "amount_refunded_minor": minor("amount_refunded"),
        }

    async def _stored_card_payload(self, row: Row) -> dict[str, Any]:
        card_row = await self._db.fetch_one("SELECT * FROM cards WHERE id = ?", (row["card_id"],))
        if card_row is None or not card_row["sealed"]:
            raise InvalidRequest(
                "The saved card of this payment has been deleted; it cannot be retried.",
                code="card_deleted",
                param="card_id",
            )
        opened = self._vault.open_json(card_row["sealed"])
        # Full card info except the CVV: number and expiry on every payment, never a CVC.
        return {
            "number": CardNumber(str(opened["number"])),
            "exp_month": int(opened["exp_month"]),
            "exp_year": int(opened["exp_year"]),
        }

    async def _apply_refund(self, parent: Row, amount: int) -> None:
        await self._db.execute(
            "UPDATE transactions SET amount_refunded_minor = amount_refunded_minor + ?, "
            "status = CASE WHEN amount_refunded_minor + ? >= amount_captured_minor "
            "THEN 'refunded' ELSE 'partially_refunded' END, updated = ? WHERE id = ?",
            (amount, amount, self._now(), parent["id"]),
        )

    # == follow-ups: capture, refund, void, retry ===============================================

    async def _child(
        self,
        parent: Row,
        op: str,
        amount_minor: int | None,
        amci_body: dict[str, Any],
        request_key: str | None,
        fingerprint: str,
    ) -> Row:
        now = self._now()
        txn_id = _new_id("txn")
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
            "request_sealed": self._vault.seal_json(amci_body),
            "amci_payment": parent["amci_payment"],
            "attempts": 0,
            "created": now,
            "updated": now,
        }
        await self._db.insert("transactions", row)
        return row

    async def capture(self, txn_id: str, body: Any, request_key: str | None = None) -> Result:
        parent = await self._txn(txn_id)
        data = parse_amount_body(body, parent["currency"], refund=False)
        fingerprint = self._vault.fingerprint({"capture": body})
        replay = await self._replay(f"capture:{txn_id}", request_key, fingerprint, None, 200)
        if replay is not None:
            return replay
        async with self._exclusive(f"follow-up:{txn_id}"):
            parent = await self._txn(txn_id)
            if parent["operation"] != "authorization" or parent["status"] != "authorized":
                raise InvalidRequest(
                    "Only an authorization that has not been captured yet can be captured; this "
                    f"transaction is a {parent['operation']} in status {parent['status']}.",
                    code="transaction_not_capturable",
                )
            amount = data.amount_minor if data.amount_minor is not None else parent["amount_minor"]
            if amount > parent["amount_minor"]:
                raise invalid(
                    "amount",
                    "The capture amount is greater than the authorized amount "
                    f"({money.format_amount(parent['amount_minor'], parent['currency'])}).",
                )
            amci_body = {"amount": money.format_amount(amount, parent["currency"])}
            row = await self._child(parent, "capture", amount, amci_body, request_key, fingerprint)
        async with self._exclusive(row["id"]):
            return await self._attempt(row, None, 200)

    async def refund(self, txn_id: str, body: Any, request_key: str | None = None) -> Result:
        parent = await self._txn(txn_id)
        data = parse_amount_body(body, parent["currency"], refund=True)
        fingerprint = self._vault.fingerprint({"refund": body})
        replay = await self._replay(f"refund:{txn_id}", request_key, fingerprint, None, 201)
        if replay is not None:
            return replay
        async with self._exclusive(f"follow-up:{txn_id}"):
            parent = await self._txn(txn_id)
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
                for c in await self._db.children(txn_id)
                if c["operation"] == "refund" and c["status"] == "pending"
            )
            remaining = (
                int(parent["amount_captured_minor"])
                - int(parent["amount_refunded_minor"])
                - pending
            )
            amount = data.amount_minor if data.amount_minor is not None else remaining
            cur = parent["currency"]
            if remaining <= 0:
                raise InvalidRequest(
                    "Nothing left to refund on this payment (refunds still pending count too).",
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
            row = await self._child(parent, "refund", amount, amci_body, request_key, fingerprint)
        async with self._exclusive(row["id"]):
            return await self._attempt(row, None, 201)

    async def void(self, txn_id: str) -> Result:
        parent = await self._txn(txn_id)
        if parent["operation"] not in ("sale", "authorization") or not parent["amci_payment"]:
            raise InvalidRequest(
                "Only a payment known to the payment system can be voided.",
                code="transaction_not_voidable",
            )
        row = await self._child(parent, "void", None, {}, None, "")
        async with self._exclusive(row["id"]):
            return await self._attempt(row, None, 200)

    async def retry(self, txn_id: str, body: Any) -> Result:
        row = await self._txn(txn_id)
        card: Card | None = None
        if body:
            body = require_object(body)
            extra = sorted(set(body) - {"card"})
            if extra:
                raise invalid(extra[0], f"Received unknown parameter: {extra[0]}.")
            if body.get("card") is not None:
                card = parse_card(body["card"])
        success = _success_status(row["operation"])
        if row["status"] != "pending":
            return self._outcome(row, success, replayed=True)
        return await self._retry_row(row, card, success)

    async def _retry_row(self, row: Row, card: Card | None, success_status: int) -> Result:
        if row["card_source"] == "one_off" and row["operation"] in ("sale", "authorization"):
            if card is None:
                raise InvalidRequest(
                    "This payment used a one-off card, which the billing client does not keep: "
                    "send the same card again to retry it.",
                    code="parameter_missing",
                    param="card",
                )
            if self._vault.fingerprint({"card": card.number}) != row["card_fingerprint"]:
                raise invalid("card", "This is not the card the pending payment was made with.")
        done, attempted = await self._resend(row, card, success_status)
        return self._outcome(done, success_status, replayed=not attempted)

    async def _resend(self, row: Row, card: Card | None, success_status: int) -> tuple[Row, bool]:
        """Attempt a pending transaction again, alone (a concurrent one gets IdempotencyInUse).

        Returns the transaction as recorded and whether this call sent it (False: another
        retry finished it meanwhile)."""
        async with self._exclusive(row["id"]):
            fresh = await self._txn(row["id"])  # another retry may have finished it meanwhile
            if fresh["status"] != "pending":
                return fresh, False
            return await self._send(fresh, card, success_status), True

    # == reconciliation =========================================================================

    async def reconcile_pending(self, limit: int = 50) -> ReconcileReport:
        """Retry up to ``limit`` pending transactions, oldest first, each exactly as
        ``POST /api/transactions/{id}/retry`` would: under its own stored Idempotency-Key, so
        AMCI (and Stripe behind it) replays a request that did go through instead of charging
        again, and alone (one in flight per transaction).

        Pending one-off-card sales and authorizations are never attempted: their card data was
        not kept, so only the customer can retry them (counted as ``needs_card``). Captures,
        refunds, voids and saved-card payments (token or full_card_except_cvv) are.
        """
        rows = await self._db.pending_transactions(limit)
        counts = dict.fromkeys(("completed", "still_pending", "failed", "busy", "errors"), 0)
        for row in rows:
            counts[await self._reconcile_one(row)] += 1
        report = ReconcileReport(needs_card=await self._db.count_pending_needing_card(), **counts)
        for outcome in RECONCILE_OUTCOMES:
            if n := getattr(report, outcome):
                self._metrics.reconciled.labels(outcome=outcome).inc(n)
        return report

    async def _reconcile_one(self, row: Row) -> str:
        """One pending transaction → the ``ReconcileReport`` field it counts under."""
        op = row["operation"]  # never a one-off-card payment: the storage query leaves them out
        try:
            done, attempted = await self._resend(row, None, _success_status(op))
        except IdempotencyInUse:
            return "busy"  # a request is sending it right now and will record the outcome
        except Exception as exc:
            # One transaction that cannot be sent (its saved card deleted meanwhile, its payment
            # system gone, …) must not hold up the others; it stays pending and is logged.
            log(
                logger,
                "reconcile_transaction_error",
                level=logging.ERROR,
                transaction=row["id"],
                operation=op,
                error=exc.code if isinstance(exc, BillingError) else type(exc).__name__,
                exc_info=not isinstance(exc, BillingError),
            )
            return "errors"
        if not attempted:
            return "busy"  # finished by a request between the query and the lock
        if done["status"] == "pending":
            return "still_pending"
        if done["status"] in ("failed", "refused"):
            return "failed"
        return "completed"
