"""Stripe's amount rules for charges and refunds, with Stripe's messages. Pure: no I/O.

docs.stripe.com/currencies: integers in minor units; "The minimum amount you can charge depends on
the payout bank account settlement currency"; "Charges requiring conversion into your account's
default settlement currency must meet the equivalent minimum of the settlement currency"; up to
eight digits; three-decimal currencies end in 0; ISK and UGX are multiples of 100.
The currency table, FX and exactness come from ``amci.money``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from amci import money
from amci.testmode.errors import InvalidRequestError

# Symbols as Stripe prints them in its amount messages ("$0.50 usd", "£0.30 gbp", "€0.50 eur",
# "¥5", "₨50.00", "د.إ0.66"; the minimums: docs.stripe.com/currencies, "Minimum and maximum
# charge amounts"). Currencies not listed print as "CHF 0.50" (UNVERIFIED).
SYMBOLS = {
    "USD": "$", "AUD": "$", "CAD": "$", "NZD": "$", "SGD": "$", "HKD": "$", "MXN": "$",
    "EUR": "€", "GBP": "£", "JPY": "¥", "CNY": "¥", "INR": "₹", "KRW": "₩", "BRL": "R$",
    "PKR": "₨", "AED": "د.إ", "ILS": "₪", "THB": "฿", "PHP": "₱", "PLN": "zł",
}
# Minor-unit names used in "Amount must convert to at least 50 cents" / "at least 200 fils".
MINOR_NAMES = {
    "USD": "cents", "AUD": "cents", "CAD": "cents", "NZD": "cents", "SGD": "cents",
    "HKD": "cents", "EUR": "cents", "GBP": "pence", "AED": "fils",
}


def fmt(minor: int | Fraction, cur: money.Currency) -> str:
    """``$0.50``-style amount, exact for integers, half-up rounded for converted fractions."""
    if isinstance(minor, int):
        major = Decimal(minor)
    else:
        major = Decimal(minor.numerator) / Decimal(minor.denominator)
    major = (major / (Decimal(10) ** cur.exponent)).quantize(
        Decimal(1).scaleb(-cur.exponent), rounding=ROUND_HALF_UP
    )
    sym = SYMBOLS.get(cur.code)
    return f"{sym}{major:,}" if sym else f"{cur.code} {major:,}"


@dataclass(frozen=True)
class AmountPolicy:
    settlement: money.Currency
    fx: money.FxTable

    def currency(self, code: str, param: str = "currency") -> money.Currency:
        # Stripe: currency codes are lower case on the wire.
        try:
            if code != code.lower():
                raise money.MoneyError("invalid_currency", "")
            return money.currency(code)
        except money.MoneyError:
            raise InvalidRequestError(
                f"Invalid currency: {code[:20]}. Stripe currently supports these currencies: "
                + ", ".join(sorted(c.lower() for c in money.currencies())),
                param=param,
            ) from None

    def check_shape(self, amount: int, cur: money.Currency, param: str = "amount") -> None:
        """≥ 1, the currency's multiple, at most eight digits."""
        if amount < 1:
            # stripe/stripe-php#982: amount=0 → "This value must be greater than or equal to 1."
            raise InvalidRequestError(
                "This value must be greater than or equal to 1.", code="parameter_invalid_integer",
                param=param,
            )
        if amount % cur.amount_multiple:
            try:
                money.to_minor(money.from_minor(amount, cur), cur)
            except money.MoneyError as exc:
                raise InvalidRequestError(exc.message, param=param) from None
        try:
            money.validate_minor(amount)
        except money.MoneyError as exc:
            # Exact Stripe wording for amount_too_large is UNVERIFIED
            # (docs.stripe.com/currencies#minimum-and-maximum-charge-amounts).
            raise InvalidRequestError(exc.message, code=exc.code, param=param) from None

    def check_charge(self, amount: int, cur: money.Currency, param: str = "amount") -> None:
        """Shape plus Stripe's minimum for the settlement currency."""
        self.check_shape(amount, cur, param)
        floor = money.minimum_in(cur, self.settlement, self.fx)
        if floor is None or amount >= floor:
            return  # no documented minimum or no FX rate: Stripe's check can't be simulated
        st = self.settlement
        if cur.code == st.code:
            # "Amount must be at least $0.50 usd"
            msg = f"Amount must be at least {fmt(st.min_charge_minor or 0, st)} {st.wire}"
        else:
            # "Amount must convert to at least 50 cents. ¥5 converts to approximately $0.03."
            need = st.min_charge_minor or 0
            unit = MINOR_NAMES.get(st.code)
            at_least = f"{need} {unit}" if unit else fmt(need, st)
            approx = self.fx.convert(amount, cur, st) or Fraction(0)
            msg = (
                f"Amount must convert to at least {at_least}. {fmt(amount, cur)} converts to"
                f" approximately {fmt(approx, st)}."
            )
        raise InvalidRequestError(msg, code="amount_too_small", param=param)
