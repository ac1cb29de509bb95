"""The billing client's exact money: decimal strings at the edges, integer minor units inside.

Pure (reads its packaged table once; no aiohttp, no I/O otherwise). It deliberately does not
import ``amci.money``: the billing client only talks to AMCI over HTTP, so it keeps its own small
table (``data/currencies.yaml``) of the currencies it accepts and how many decimals each takes.
AMCI remains the judge of Stripe's finer rules (three-decimal last digit, per-currency limits).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from decimal import Decimal
from importlib import resources
from types import MappingProxyType

import yaml

# ASCII digits only ([0-9], not \d): "١٠.٠٠" (Arabic-Indic digits) is not an amount.
_DECIMAL_RE = re.compile(r"^(?P<int>[0-9]{1,15})(?:\.(?P<frac>[0-9]{1,15}))?$")
_CODE_RE = re.compile(r"^[A-Za-z]{3}$")


class MoneyError(ValueError):
    """A money value the billing client refuses; ``code`` is a Stripe-style error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@functools.cache
def decimals_table() -> Mapping[str, int]:
    """Upper-case ISO code → number of decimals, for every currency the billing client accepts."""
    raw = yaml.safe_load(
        resources.files("billing_client").joinpath("data/currencies.yaml").read_text()
    )
    special = {str(k): int(v) for k, v in raw["decimals"].items()}
    return MappingProxyType({code: special.get(code, 2) for code in str(raw["codes"]).split()})


def currency_code(code: object) -> str:
    """A supported currency code in upper case; anything else raises ``MoneyError``."""
    if not isinstance(code, str) or not _CODE_RE.match(code.strip()):
        raise MoneyError(
            "invalid_currency", "Currency must be a three-letter ISO code such as USD."
        )
    upper = code.strip().upper()
    if upper not in decimals_table():
        raise MoneyError("invalid_currency", f"Currency {upper} is not supported.")
    return upper


def decimals(code: str) -> int:
    return decimals_table()[currency_code(code)]


def parse_amount(text: object, code: str) -> int:
    """ "10.00" USD → 1000. Only plain non-negative decimal strings; never floats."""
    if not isinstance(text, str):
        raise MoneyError("amount_invalid", 'Amount must be a decimal string such as "10.00".')
    match = _DECIMAL_RE.match(text.strip())
    if match is None:
        raise MoneyError("amount_invalid", 'Amount must be a decimal string such as "10.00".')
    places = decimals(code)
    frac = (match["frac"] or "").rstrip("0")
    if len(frac) > places:
        allowed = "no decimals" if places == 0 else f"at most {places} decimals"
        raise MoneyError("amount_precision", f"{code.upper()} amounts take {allowed}.")
    whole: int = int(match["int"]) * 10**places
    return whole + (int(frac.ljust(places, "0")) if frac else 0)


def format_amount(minor: int, code: str) -> str:
    """1000 USD → "10.00" (full precision of the currency)."""
    places = decimals(code)
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**places)
    return f"{sign}{whole}.{frac:0{places}d}" if places else f"{sign}{whole}"


def human(minor: int, code: str) -> str:
    """The end-user form the spec quotes: 50 USD cents → "0.5 USD", 46 CHF cents → "0.46 CHF"."""
    value = Decimal(minor).scaleb(-decimals(code))
    return f"{format(value.normalize(), 'f')} {currency_code(code)}"


def minimum_message(minimum_minor: int, code: str) -> str:
    """The refusal AMCI (and so the self-care portal) shows for a payment below the minimum."""
    return f"Your payment must be no less than {human(minimum_minor, code)}"
