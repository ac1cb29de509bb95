"""Stripe's amount rules: minimum per settlement currency (with FX), maximum, zero/three-decimal
currencies, ISK/UGX, unknown currencies — through the SDK and as a pure policy table."""

from __future__ import annotations

import pytest
import stripe
from aiohttp.test_utils import TestServer

from amci import money
from amci.testmode import TestmodeSettings, create_app
from amci.testmode.amounts import AmountPolicy
from amci.testmode.errors import InvalidRequestError
from tests.testmode.conftest import ClientFactory
from tests.testmode.shapes import ShapeRecorder


@pytest.mark.parametrize(
    ("amount", "currency", "code", "message"),
    [
        (49, "usd", "amount_too_small", "Amount must be at least $0.50 usd"),
        (0, "usd", "parameter_invalid_integer", "This value must be greater than or equal to 1."),
        (-5, "usd", "parameter_invalid_integer", "This value must be greater than or equal to 1."),
        (45, "chf", "amount_too_small",
         "Amount must convert to at least 50 cents. CHF 0.45 converts to approximately $0.49."),
        (5, "jpy", "amount_too_small",
         "Amount must convert to at least 50 cents. ¥5 converts to approximately $0.03."),
        (100_000_000, "usd", "amount_too_large", None),
        (1001, "kwd", None, None),
        (50050, "isk", None, "Invalid amount. Currency ISK has become effectively zero-decimal and"
                             " charged amounts must be evenly divisible by 100."),
        (380050, "ugx", None, None),
    ],
)
async def test_refused_amounts(
    client: stripe.StripeClient, amount: int, currency: str, code: str | None, message: str | None
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.payment_intents.create_async({"amount": amount, "currency": currency})
    assert exc.value.http_status == 400
    assert exc.value.param == "amount"
    assert exc.value.code == code
    if message:
        assert exc.value.user_message == message


@pytest.mark.parametrize(
    ("amount", "currency"),
    [(50, "usd"), (46, "chf"), (50, "eur"), (100, "jpy"), (2000, "kwd"), (50000, "isk"),
     (380000, "ugx"), (99_999_999, "usd")],
)
async def test_accepted_amounts(client: stripe.StripeClient, amount: int, currency: str) -> None:
    pi = await client.v1.payment_intents.create_async(
        {"amount": amount, "currency": currency, "payment_method": "pm_card_visa",
         "confirm": True})
    assert (pi.amount, pi.currency, pi.status) == (amount, currency, "succeeded")


@pytest.mark.parametrize("currency", ["xyz", "USD", ""])
async def test_unknown_currency(client: stripe.StripeClient, currency: str) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.payment_intents.create_async({"amount": 1000, "currency": currency})
    assert exc.value.param == "currency"


async def test_non_integer_amount(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.payment_intents.create_async(
            {"amount": "10.00", "currency": "usd"})  # type: ignore[typeddict-item]
    assert exc.value.code == "parameter_invalid_integer"
    assert exc.value.param == "amount"


async def test_gbp_settlement_minimum(  # type: ignore[no-untyped-def]
    aiohttp_server, make_client: ClientFactory, shapes: ShapeRecorder,
) -> None:
    server: TestServer = await aiohttp_server(shapes.attach(create_app(
        TestmodeSettings(settlement_currency="gbp", rate_limit_per_second=None))))
    client = make_client(base_url=str(server.make_url("")).rstrip("/"))
    with pytest.raises(stripe.InvalidRequestError) as exc:
        await client.v1.payment_intents.create_async({"amount": 29, "currency": "gbp"})
    assert exc.value.user_message == "Amount must be at least £0.30 gbp"
    ok = await client.v1.payment_intents.create_async({"amount": 30, "currency": "gbp"})
    assert ok.amount == 30


def _policy(settlement: str = "USD") -> AmountPolicy:
    return AmountPolicy(settlement=money.currency(settlement), fx=money.load_fx())


@pytest.mark.parametrize(
    ("settlement", "amount", "currency", "ok"),
    [
        ("USD", 50, "USD", True), ("USD", 49, "USD", False),
        ("USD", 46, "CHF", True), ("USD", 45, "CHF", False),
        ("GBP", 30, "GBP", True), ("GBP", 29, "GBP", False),
        ("USD", 10, "KWD", False), ("USD", 1000, "KWD", True),
        ("USD", 99_999_999, "USD", True), ("USD", 100_000_000, "USD", False),
    ],
)
def test_policy_table(settlement: str, amount: int, currency: str, ok: bool) -> None:
    policy = _policy(settlement)
    cur = money.currency(currency)
    if ok:
        policy.check_charge(amount, cur)
    else:
        with pytest.raises(InvalidRequestError):
            policy.check_charge(amount, cur)


@pytest.mark.parametrize("currency", ["JPY", "CHF", "EUR", "KWD", "ISK", "AUD"])
def test_converted_minimum_boundary_is_exact(currency: str) -> None:
    policy = _policy()
    cur = money.currency(currency)
    floor = money.minimum_in(cur, policy.settlement, policy.fx)
    assert floor is not None
    policy.check_charge(floor, cur)
    below = floor - cur.amount_multiple
    if below >= 1:
        with pytest.raises(InvalidRequestError) as exc:
            policy.check_charge(below, cur)
        assert exc.value.code == "amount_too_small"


def test_refund_shape_has_no_minimum() -> None:
    _policy().check_shape(1, money.currency("USD"))
    with pytest.raises(InvalidRequestError):
        _policy().check_shape(15, money.currency("KWD"))
