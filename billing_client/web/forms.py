"""From an HTML form to the contract, and from a refusal back to the form's fields.

Forms send text; the contract is strict (``"true"`` is not a boolean). Each page says which of
its fields are checkboxes or numbers, converted here, and then the very same contract model the
JSON API uses validates it. A refusal names its ``param``: the page shows the message next to
the field of that name (``form`` when it concerns no one field)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

from billing_client import contract
from billing_client.errors import BillingError

M = TypeVar("M", bound=BaseModel)


def text(data: Mapping[str, str], name: str) -> str | None:
    """A text field; empty means not given."""
    value = data.get(name, "")
    return value if value.strip() else None


def number(value: str | None) -> int | str | None:
    """Digits become an int; anything else stays text for the contract to refuse by name."""
    if value is None:
        return None
    stripped = value.strip()
    return int(stripped) if stripped.isdigit() and len(stripped) < 10 else stripped


def parse(model: type[M], body: dict[str, Any]) -> M:
    return contract.parse(model, {k: v for k, v in body.items() if v is not None})


def errors(exc: BillingError, fields: Iterable[str] = ()) -> dict[str, str]:
    """The refusal as {field: message}; a param that is no field of the form goes on top."""
    known = set(fields)
    param = exc.param or "form"
    if known and param not in known:
        param = "form"
    message = exc.message
    if exc.code == "parameter_missing" and param != "form":
        message = "This field is required."  # the API's wording names the param; the page the field
    return {param: message}
