"""Finding things: customers by name, email or id; payments by status, test mode, date and
customer (the console's E-payments search)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from billing_client.errors import invalid
from billing_client.usecases import customers, transactions
from billing_client.usecases.context import Context

LIMIT = 200
STATUSES = (
    "succeeded", "authorized", "captured", "partially_refunded", "refunded", "failed",
    "refused", "pending", "unknown", "requires_action", "canceled", "expired", "processing",
)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def find_customers(ctx: Context, query: str = "") -> list[dict[str, Any]]:
    text = query.strip()[:200]
    if not text:
        rows = await ctx.db.fetch_all(
            "SELECT * FROM customers ORDER BY created, id LIMIT ?", (LIMIT,)
        )
    else:
        rows = await ctx.db.fetch_all(
            "SELECT * FROM customers WHERE id = ? OR name LIKE ? ESCAPE '\\' "
            "OR email LIKE ? ESCAPE '\\' ORDER BY created, id LIMIT ?",
            (text, _like(text), _like(text), LIMIT),
        )
    return [customers.view(r) for r in rows]


@dataclass(frozen=True, slots=True)
class PaymentQuery:
    status: str = ""
    test_mode: str = ""  # "", "test" or "live"
    date_from: str = ""  # YYYY-MM-DD (UTC), inclusive
    date_to: str = ""
    customer: str = ""  # a customer id, or text found in the name or email


def _day(text: str, param: str) -> int | None:
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise invalid(param, "Enter a date as YYYY-MM-DD.") from None
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


async def find_payments(ctx: Context, query: PaymentQuery) -> list[dict[str, Any]]:
    """Sales and authorizations matching every given criterion, newest first."""
    where = ["t.operation IN ('sale', 'authorization')"]
    args: list[Any] = []
    if query.status:
        if query.status not in STATUSES:
            raise invalid("status", f"Choose a status among: {', '.join(STATUSES)}.")
        where.append("t.status = ?")
        args.append(query.status)
    if query.test_mode:
        if query.test_mode not in ("test", "live"):
            raise invalid("test_mode", "Choose test or live.")
        where.append("p.test_mode = ?")
        args.append(1 if query.test_mode == "test" else 0)
    start = _day(query.date_from, "date_from")
    end = _day(query.date_to, "date_to")
    if start is not None:
        where.append("t.created >= ?")
        args.append(start)
    if end is not None:
        where.append("t.created < ?")
        args.append(end + int(timedelta(days=1).total_seconds()))
    if query.customer.strip():
        text = query.customer.strip()[:200]
        where.append(
            "(c.id = ? OR c.name LIKE ? ESCAPE '\\' OR c.email LIKE ? ESCAPE '\\')"
        )
        args += [text, _like(text), _like(text)]
    # The clauses are fixed text chosen above; every value is bound.
    sql = (
        "SELECT t.*, c.name AS customer_name, p.test_mode AS ps_test_mode FROM transactions t "  # noqa: S608
        "JOIN customers c ON c.id = t.customer_id "
        "LEFT JOIN payment_systems p ON p.id = t.payment_system_id "
        "WHERE " + " AND ".join(where) + " ORDER BY t.created DESC, t.rowid DESC LIMIT ?"
    )
    rows = await ctx.db.fetch_all(
        sql,
        (*args, LIMIT),
    )
    found = []
    for row in rows:
        shown = transactions.view(row)
        shown["customer_name"] = row["customer_name"]
        shown["test_mode"] = bool(row["ps_test_mode"]) if row["ps_test_mode"] is not None else None
        found.append(shown)
    return found
