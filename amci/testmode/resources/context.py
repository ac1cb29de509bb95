"""What every resource function works with: the store, the clock, settings and amount policy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from amci.testmode.amounts import AmountPolicy
from amci.testmode.clock import Clock
from amci.testmode.queue import Queue
from amci.testmode.settings import TestmodeSettings
from amci.testmode.store import Store

Json = dict[str, Any]
Params = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Context:
    store: Store
    clock: Clock
    settings: TestmodeSettings
    policy: AmountPolicy
    queue: Queue


def merge_metadata(current: Json, update: Json | None) -> Json:
    """Stripe's metadata update: keys merge, an empty value deletes a key, ``metadata=`` clears."""
    if update is None:
        return current
    if not update:
        return {}
    merged = dict(current)
    for k, v in update.items():
        if v is None:
            merged.pop(k, None)
        else:
            merged[k] = v
    return merged
