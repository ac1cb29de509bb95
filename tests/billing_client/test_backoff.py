"""The resend schedule (billing_client/backoff.py): a table, no I/O."""

from __future__ import annotations

import pytest

from billing_client import backoff

T0 = 1_800_000_000  # an arbitrary creation instant (epoch seconds)


@pytest.mark.parametrize(
    ("attempts", "shortest", "longest"),
    [
        (1, 15, 30),
        (2, 30, 60),
        (3, 60, 120),
        (4, 120, 240),
        (7, 960, 1920),
        (8, 1800, 3600),  # capped from here on
        (9, 1800, 3600),
        (1000, 1800, 3600),
    ],
)
def test_delay_doubles_with_equal_jitter_and_a_cap(
    attempts: int, shortest: float, longest: float
) -> None:
    assert backoff.delay(attempts, 0.0) == shortest
    assert shortest < backoff.delay(attempts, 0.5) < longest
    assert longest - 0.05 < backoff.delay(attempts, 0.99999) < longest


@pytest.mark.parametrize(("attempts", "jitter"), [(0, 0.5), (-1, 0.5), (1, 1.0), (1, -0.1)])
def test_delay_refuses_what_it_was_not_made_for(attempts: int, jitter: float) -> None:
    with pytest.raises(ValueError):
        backoff.delay(attempts, jitter)


def test_next_attempt_is_rounded_up_and_never_after_the_deadline() -> None:
    assert backoff.next_attempt_at(T0, T0, 1, 0.5) == T0 + 23  # 22.5 s, rounded up
    late = T0 + backoff.RESEND_WINDOW_S - 100
    assert backoff.next_attempt_at(late, T0, 9, 0.0) == T0 + backoff.RESEND_WINDOW_S
    assert backoff.after_error(T0, T0, 0.0) == T0 + 1800
    assert backoff.after_error(late, T0, 0.0) == T0 + backoff.RESEND_WINDOW_S


@pytest.mark.parametrize(
    ("elapsed", "expired"),
    [(0, False), (23 * 3600 - 1, False), (23 * 3600, True), (24 * 3600, True)],
)
def test_the_resend_window_is_23_hours(elapsed: int, expired: bool) -> None:
    assert backoff.RESEND_WINDOW_S == 23 * 3600  # AMCI and Stripe keep a key 24 h
    assert backoff.expired(T0 + elapsed, T0) is expired
