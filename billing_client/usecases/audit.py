"""The audit trail: which administrator (or API token) created, changed, captured, refunded or
voided what. Entries are appended by the door that knows who acted (the console's handlers, the
JSON API's) right after the use case succeeded or was refused; they are never changed."""

from __future__ import annotations

from typing import Any

from billing_client.usecases.context import Context


async def record(
    ctx: Context, actor: str, action: str, object_type: str, object_id: str, detail: str = ""
) -> None:
    await ctx.db.execute(
        "INSERT INTO audit (at, actor, action, object_type, object_id, detail) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (ctx.now(), actor, action, object_type, object_id, detail[:500]),
    )


async def for_object(ctx: Context, object_type: str, object_id: str) -> list[dict[str, Any]]:
    return await ctx.db.fetch_all(
        "SELECT at, actor, action, object_type, object_id, detail FROM audit "
        "WHERE object_type = ? AND object_id = ? ORDER BY seq",
        (object_type, object_id),
    )


async def recent(ctx: Context, limit: int = 200) -> list[dict[str, Any]]:
    return await ctx.db.fetch_all(
        "SELECT at, actor, action, object_type, object_id, detail FROM audit "
        "ORDER BY seq DESC LIMIT ?",
        (limit,),
    )
