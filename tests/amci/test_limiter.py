"""amci.limiter: per-key spacing at Stripe's rate, bounded waits."""

from __future__ import annotations

import pytest

from amci.errors import RateLimited
from amci.limiter import Limiter


class FakeTime:
    """A clock the test moves by hand (the limiter takes its clock as an argument)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_spaced_per_key() -> None:
    t = FakeTime()
    lim = Limiter(25.0, max_wait=1.0, clock=t)
    waits = [lim.reserve("a") for _ in range(10)]
    assert waits[:5] == [0.0] * 5  # a fifth of a second's worth at once
    assert waits[5:] == pytest.approx([0.04 * i for i in range(1, 6)])
    assert lim.reserve("b") == 0.0  # another key is not slowed down
    t.now += 1.0
    assert lim.reserve("a") == 0.0


def test_refuses_beyond_max_wait_without_booking() -> None:
    t = FakeTime()
    lim = Limiter(10.0, max_wait=0.25, burst=1, clock=t)
    waits = [lim.reserve("k") for _ in range(3)]
    assert waits == pytest.approx([0.0, 0.1, 0.2])
    with pytest.raises(RateLimited):
        lim.reserve("k")
    t.now += 0.1
    assert lim.reserve("k") == pytest.approx(0.2)
