"""Exact money: Stripe's currency table, decimal strings <-> integer minor units, FX conversion.

Pure: no I/O beyond reading the packaged data files once, no aiohttp, no stripe. Shared by the
proxy's policy and by the test-mode server, so both apply the same currency rules.

Stripe's rules encoded here (docs.stripe.com/currencies):
- amounts are integers in the currency's smallest unit; "Currencies are two-decimal currencies
  unless otherwise specified";
- zero-decimal currencies (JPY, KRW, ...) have exponent 0;
- three-decimal currencies (BHD, JOD, KWD, OMR, TND) need the last digit to be 0 ("5.124 KWD must
  be rounded to 5120 or 5130");
- ISK and UGX are represented as two-decimal values whose decimal part is always 00 ("to charge
  5 ISK, provide an amount value of 500").
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

# "The amount value supports up to eight digits (e.g., a value of 99999999 for a USD charge of
# $999,999.99)." (Stripe API reference, `amount` on PaymentIntent/Charge.)
MAX_AMOUNT_MINOR = 99_999_999

# ASCII digits only: ``\d`` (and ``int()``) would take "١٠.٠٠" (Arabic-Indic digits) as 10.00.
_DECIMAL_RE = re.compile(r"^(?P<int>[0-9]+)(?:\.(?P<frac>[0-9]+))?$")
_MAX_DIGITS = len(str(MAX_AMOUNT_MINOR))


@dataclass(frozen=True, slots=True)
class Currency:
    """One Stripe presentment currency."""

    code: str  # ISO 4217, upper case (Stripe's wire format wants it lower case)
    exponent: int  # Stripe's minor-unit exponent (not always ISO's: ISK/UGX are 2 here)
    min_charge_minor: int | None  # documented minimum when this is the settlement currency
    amount_multiple: int = 1  # 10 for three-decimal currencies, 100 for ISK/UGX
    amex_supported: bool = True

    @property
    def wire(self) -> str:
        return self.code.lower()


class MoneyError(ValueError):
    """A money value that Stripe would refuse. ``code`` is a Stripe-style error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@functools.cache
def currencies() -> Mapping[str, Currency]:
    """Stripe's 139 card presentment currencies, keyed by upper-case ISO code."""
    raw = yaml.safe_load(resources.files("amci").joinpath("data/currencies.yaml").read_text())
    table = {
        code: Currency(
            code=code,
            exponent=int(entry["exponent"]),
            min_charge_minor=entry.get("min_charge_minor"),
            amount_multiple=int(entry.get("amount_multiple", 1)),
            amex_supported=bool(entry.get("amex_supported", True)),
        )
        for code, entry in raw.items()
    }
    return MappingProxyType(table)


def currency(code: str) -> Currency:
    """Look a currency up by code in any case; unknown codes raise ``MoneyError``."""
    found = currencies().get(code.strip().upper()) if isinstance(code, str) else None
    if found is None:
        raise MoneyError("invalid_currency", f"Invalid currency: {str(code).lower()}.")
    return found


def to_minor(amount: str, cur: Currency) -> int:
    """Parse a decimal string in major units ("10.00") into Stripe minor units (1000).

    Refuses anything that is not a plain non-negative decimal, more decimals than the currency
    has, and amounts that are not a multiple Stripe accepts (three-decimal, ISK, UGX).
    """
    if not isinstance(amount, str):
        raise MoneyError("amount_invalid", "Amount must be a decimal string such as \"10.00\".")
    match = _DECIMAL_RE.match(amount.strip())
    if match is None:
        raise MoneyError(
            "amount_invalid", f"Amount must be a decimal string such as \"10.00\", not {amount!r}."
        )
    frac = (match["frac"] or "").rstrip("0")
    if len(frac) > cur.exponent:
        places = "no decimals" if cur.exponent == 0 else f"at most {cur.exponent} decimals"
        raise MoneyError(
            "amount_precision", f"{cur.code} amounts take {places}; got {amount.strip()}."
        )
    whole = match["int"].lstrip("0")
    if len(whole) + cur.exponent > _MAX_DIGITS:
        # Refused before any int() conversion: no 5,000-digit string reaches Python's int limit.
        raise MoneyError(
            "amount_too_large",
            f"Amount must be no more than {from_minor(MAX_AMOUNT_MINOR, cur)} {cur.code} "
            "(Stripe takes at most eight digits).",
        )
    scale: int = 10**cur.exponent
    minor = int(whole or "0") * scale + (int(frac.ljust(cur.exponent, "0")) if frac else 0)
    if minor % cur.amount_multiple:
        raise MoneyError("amount_precision", _multiple_message(cur))
    return minor


def _multiple_message(cur: Currency) -> str:
    if cur.amount_multiple == 100:
        # Stripe's wording (woocommerce-gateway-stripe#2674), for ISK and UGX.
        return (
            f"Invalid amount. Currency {cur.code} has become effectively zero-decimal and charged "
            "amounts must be evenly divisible by 100."
        )
    step = Fraction(cur.amount_multiple, 10**cur.exponent)
    return (
        f"{cur.code} amounts must be a multiple of {to_decimal(step)}: Stripe requires the last "
        "of the three decimals to be 0."
    )


def from_minor(minor: int, cur: Currency) -> str:
    """Minor units -> decimal string with the currency's full precision (1000 USD -> "10.00")."""
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**cur.exponent)
    return f"{sign}{whole}.{frac:0{cur.exponent}d}" if cur.exponent else f"{sign}{whole}"


def to_decimal(value: Fraction | int) -> str:
    """A terminating fraction as the shortest decimal string: 1/2 -> "0.5", 46/100 -> "0.46"."""
    if isinstance(value, Fraction):
        dec = Decimal(value.numerator) / Decimal(value.denominator)
    else:
        dec = Decimal(value)
    return format(dec.normalize(), "f")


def human(minor: int, cur: Currency) -> str:
    """The end-user form the spec quotes: "0.5 USD", "0.46 CHF", "50 JPY"."""
    return f"{to_decimal(Fraction(minor, 10**cur.exponent))} {cur.code}"


def validate_minor(minor: Any) -> int:
    """An integer amount as Stripe takes it: at least 1, at most eight digits."""
    if isinstance(minor, bool) or not isinstance(minor, int):
        raise MoneyError("amount_invalid", "Amount must be an integer number of minor units.")
    if minor < 1:
        raise MoneyError("amount_too_small", "This value must be greater than or equal to 1.")
    if minor > MAX_AMOUNT_MINOR:
        raise MoneyError(
            "amount_too_large", "Amount must be no more than 99,999,999 (eight digits)."
        )
    return minor


@dataclass(frozen=True, slots=True)
class FxTable:
    """Indicative exchange rates: units of each currency (major) per one unit of ``base``."""

    as_of: str
    base: str
    per_base: Mapping[str, Decimal]

    def convert(self, minor: int, src: Currency, dst: Currency) -> Fraction | None:
        """``minor`` units of ``src`` expressed in minor units of ``dst``, exactly, or None when a
        rate is missing."""
        if src.code == dst.code:
            return Fraction(minor)
        src_rate, dst_rate = self.per_base.get(src.code), self.per_base.get(dst.code)
        if src_rate is None or dst_rate is None:
            return None
        src_scale: int = 10**src.exponent
        dst_scale: int = 10**dst.exponent
        return Fraction(minor, src_scale) / Fraction(src_rate) * Fraction(dst_rate) * dst_scale


def load_fx(path: str | Path | None = None) -> FxTable:
    """The packaged table, or the YAML file at ``path`` (same shape)."""
    text = (
        Path(path).read_text()
        if path is not None
        else resources.files("amci").joinpath("data/fx-rates.yaml").read_text()
    )
    raw = yaml.safe_load(text)
    try:
        rates = {str(k).upper(): Decimal(str(v)) for k, v in raw["per_usd"].items()}
    except (KeyError, TypeError, InvalidOperation) as exc:
        raise ValueError(f"FX table {path or 'packaged'}: 'per_usd' needs decimal strings") from exc
    if any(rate <= 0 for rate in rates.values()):
        raise ValueError(f"FX table {path or 'packaged'}: rates must be positive")
    return FxTable(
        as_of=str(raw.get("as_of", "")),
        base=str(raw.get("base", "USD")),
        per_base=MappingProxyType(rates),
    )


def minimum_in(cur: Currency, settlement: Currency, fx: FxTable) -> int | None:
    """The smallest amount of ``cur`` (minor units) that meets ``settlement``'s documented minimum,
    or None when it can't be known (no minimum documented, or no FX rate)."""
    floor = settlement.min_charge_minor
    if floor is None:
        return None
    if cur.code == settlement.code:
        return floor
    one = fx.convert(1, cur, settlement)  # value of one minor unit of cur in settlement minor units
    if one is None:
        return None
    needed = Fraction(floor) / one
    smallest = -(-needed.numerator // needed.denominator)  # ceil, exact
    # Round up to an amount Stripe accepts in this currency.
    step = cur.amount_multiple
    return -(-smallest // step) * step
