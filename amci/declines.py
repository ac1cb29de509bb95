"""Which refusals a billing system may retry without the customer: ``retryable(code,
decline_code, advice_code)`` from the committed table ``amci/data/declines.yaml`` (its sources
are listed there: docs.stripe.com/declines/codes and the advice codes of
docs.stripe.com/declines/card#retrying-issuer-declines).

Stripe's ``advice_code``, when present, wins: it is the issuer's own word on retrying. Else the
``decline_code`` decides, else the ``code``; a code the table doesn't list is not retryable
(retrying a decline the network says not to retry costs fees).

Pure: reads the packaged table once, no I/O after import.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from types import MappingProxyType

import yaml


def _load() -> tuple[Mapping[str, bool], Mapping[str, bool], Mapping[str, bool]]:
    raw = yaml.safe_load(resources.files("amci").joinpath("data/declines.yaml").read_text())
    tables = []
    for section in ("advice_code", "decline_code", "code"):
        table = raw[section]
        if not all(isinstance(k, str) and isinstance(v, bool) for k, v in table.items()):
            raise ValueError(f"declines.yaml: {section} maps codes to true or false")
        tables.append(MappingProxyType(dict(table)))
    return tables[0], tables[1], tables[2]


ADVICE_CODES, DECLINE_CODES, CODES = _load()


def retryable(code: str | None, decline_code: str | None = None,
              advice_code: str | None = None) -> bool:
    for key, table in ((advice_code, ADVICE_CODES), (decline_code, DECLINE_CODES),
                       (code, CODES)):
        if key is not None and key in table:
            return table[key]
    return False
