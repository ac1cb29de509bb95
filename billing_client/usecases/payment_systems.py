"""Payment systems: the Stripe accounts an administrator configures (the spec's "Configuring Stripe
payment processor"). Login and key are sealed by the vault; views never show them.

The rule that needs more than one field: ``test_mode`` must agree with the key (``sk_test_`` ⇔
test mode on); when not given it is derived from the key, also when an update changes the key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from billing_client.amci_client import Credentials
from billing_client.cards import METHODS
from billing_client.contract import PaymentSystemCreate, PaymentSystemUpdate
from billing_client.crypto import ApiKey, Login
from billing_client.errors import Conflict, InvalidRequest, NotFound, invalid
from billing_client.storage import Row
from billing_client.usecases.context import Context, new_id

DataProtection = Literal["token_only", "full_card_except_cvv"]


@dataclass(frozen=True, slots=True)
class PaymentSystemInput:
    name: str
    processor: str
    login: Login
    api_key: ApiKey
    test_mode: bool
    enabled_methods: tuple[str, ...]
    data_protection: DataProtection


def merged(
    request: PaymentSystemCreate | PaymentSystemUpdate, current: PaymentSystemInput | None = None
) -> PaymentSystemInput:
    """A create (``current`` None) or an update's given fields over ``current``."""
    if current is None:
        assert isinstance(request, PaymentSystemCreate)
        current = PaymentSystemInput(
            name=request.name,
            processor=request.processor,
            login=Login(request.login),
            api_key=ApiKey(request.password),
            test_mode=False,  # derived below
            enabled_methods=(),
            data_protection="token_only",
        )
    given = request.model_fields_set
    api_key = ApiKey(request.password) if request.password is not None else current.api_key
    key_test = api_key.mode == "test"
    test_mode = key_test if request.test_mode is None else request.test_mode
    if test_mode != key_test:
        raise invalid(
            "test_mode",
            f"test_mode is {'on' if test_mode else 'off'} but the API key "
            f"{api_key.masked()} is a {'test' if key_test else 'live'}-mode key.",
        )
    methods = (
        request.enabled_methods or () if "enabled_methods" in given else current.enabled_methods
    )
    protection: DataProtection = (
        request.data_protection or "token_only"
        if "data_protection" in given
        else current.data_protection
    )
    return PaymentSystemInput(
        name=request.name or current.name,
        processor=request.processor or current.processor,
        login=Login(request.login) if request.login is not None else current.login,
        api_key=api_key,
        test_mode=test_mode,
        # Canonical order, each once (aliases such as "amex" already resolved by the contract).
        enabled_methods=tuple(m for m in METHODS if m in methods),
        data_protection=protection,
    )


def stored_input(ctx: Context, row: Row) -> PaymentSystemInput:
    return PaymentSystemInput(
        name=row["name"],
        processor=row["processor"],
        login=Login(ctx.vault.open(row["login_sealed"])),
        api_key=ApiKey(ctx.vault.open(row["api_key_sealed"])),
        test_mode=bool(row["test_mode"]),
        enabled_methods=tuple(json.loads(row["enabled_methods"])),
        data_protection=row["data_protection"],
    )


def credentials(ctx: Context, row: Row) -> Credentials:
    ps = stored_input(ctx, row)
    return Credentials(login=ps.login, api_key=ps.api_key)


def _columns(ctx: Context, ps: PaymentSystemInput) -> Row:
    return {
        "name": ps.name,
        "processor": ps.processor,
        "login_sealed": ctx.vault.seal(ps.login),
        "api_key_sealed": ctx.vault.seal(ps.api_key),
        "api_key_masked": ps.api_key.masked(),
        "test_mode": int(ps.test_mode),
        "enabled_methods": json.dumps(list(ps.enabled_methods)),
        "data_protection": ps.data_protection,
    }


def view(row: Row) -> dict[str, Any]:
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


async def load(ctx: Context, ps_id: str, param: str | None = None) -> Row:
    """The payment system, or 404 (400 naming ``param`` when it was given in a body)."""
    row = await ctx.db.get_payment_system(ps_id)
    if row is None:
        if param is not None:
            raise InvalidRequest(
                f"No such payment system: {ps_id}", code="resource_missing", param=param
            )
        raise NotFound(f"No such payment system: {ps_id}")
    return row


async def create(ctx: Context, request: PaymentSystemCreate) -> dict[str, Any]:
    ps = merged(request)
    if await ctx.db.find_payment_system_by_name(ps.name) is not None:
        raise Conflict(
            f"A payment system named {ps.name!r} already exists.",
            code="name_taken",
            param="name",
        )
    now = ctx.now()
    row = {"id": new_id("ps"), **_columns(ctx, ps), "created": now, "updated": now}
    await ctx.db.insert("payment_systems", row)
    return view(row)


async def list_all(ctx: Context) -> dict[str, Any]:
    rows = await ctx.db.list_payment_systems()
    return {"object": "list", "data": [view(r) for r in rows]}


async def get(ctx: Context, ps_id: str) -> dict[str, Any]:
    return view(await load(ctx, ps_id))


async def update(ctx: Context, ps_id: str, request: PaymentSystemUpdate) -> dict[str, Any]:
    row = await load(ctx, ps_id)
    ps = merged(request, stored_input(ctx, row))
    if ps.name != row["name"]:
        other = await ctx.db.find_payment_system_by_name(ps.name)
        if other is not None and other["id"] != ps_id:
            raise Conflict(
                f"A payment system named {ps.name!r} already exists.",
                code="name_taken",
                param="name",
            )
    fields = {**_columns(ctx, ps), "updated": ctx.now()}
    await ctx.db.update("payment_systems", "id", ps_id, fields)
    return view({**row, **fields})


async def delete(ctx: Context, ps_id: str) -> dict[str, Any]:
    await load(ctx, ps_id)
    currencies, cards = await ctx.db.payment_system_uses(ps_id)
    if currencies or cards:
        raise Conflict(
            f"The payment system is in use ({currencies} currencies, {cards} saved cards); "
            "unassign it and delete its cards first.",
            code="payment_system_in_use",
        )
    await ctx.db.delete_payment_system(ps_id)
    return {"object": "payment_system", "id": ps_id, "deleted": True}
