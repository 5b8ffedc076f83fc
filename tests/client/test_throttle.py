"""The pacing bucket: its waits follow its rate, and an adaptive one follows what the service answers
(slow start to the ceiling, then additive increase, multiplicative decrease once per hold)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import httpx
import pytest

from shared.customvision.throttle import ADAPTIVE, Adaptation, RateLimiter

from .conftest import gateway_error


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def busy(limiter: RateLimiter, successes: int) -> None:
    """Successes of callers the bucket held back (each takes a token first, at the same instant)."""
    for _ in range(successes):
        limiter.reserve()
        limiter.succeeded()


def test_waits_follow_the_rate_and_the_burst() -> None:
    clock = Clock()
    limiter = RateLimiter(4.0, burst=2, clock=clock)
    assert [limiter.reserve() for _ in range(4)] == [0.0, 0.0, 0.25, 0.5]
    clock.now += 1.0  # earns 4 tokens, owed 2
    assert limiter.reserve() == 0.0


def test_a_fixed_limiter_ignores_the_answers() -> None:
    limiter = RateLimiter(8.0, clock=Clock())
    limiter.throttled()
    limiter.succeeded()
    assert (limiter.rate, limiter.burst) == (8.0, 8)


def test_an_adaptive_limiter_starts_low_and_grows_fast_until_the_first_429() -> None:
    limiter = RateLimiter(8.0, adaptation=ADAPTIVE, clock=Clock())
    assert (limiter.rate, limiter.burst, limiter.slow_start) == (8.0 * ADAPTIVE.start_fraction, 1, True)
    limiter.reserve()  # the one saved token: from now on callers wait
    busy(limiter, 10)
    assert limiter.rate == pytest.approx(8.0 * ADAPTIVE.start_fraction + 10 * ADAPTIVE.slow_start_step)
    busy(limiter, 100)
    assert limiter.rate == 8.0, "never above the ceiling"


def test_the_rate_does_not_grow_while_the_callers_set_the_pace() -> None:
    """A rate the callers never used proves nothing about the service: it would burst later."""
    clock = Clock()
    limiter = RateLimiter(8.0, adaptation=ADAPTIVE, clock=clock)
    for _ in range(50):
        clock.now += 1.0  # one call a second: the bucket always has a token
        assert limiter.reserve() == 0.0
        limiter.succeeded()
    assert limiter.rate == 8.0 * ADAPTIVE.start_fraction


def test_a_429_shrinks_the_rate_once_per_hold_then_it_grows_slowly() -> None:
    clock = Clock()
    limiter = RateLimiter(8.0, adaptation=ADAPTIVE, clock=clock)
    busy(limiter, 100)
    limiter.throttled()
    limiter.throttled()  # the same burst of 429s: one signal
    assert limiter.rate == pytest.approx(8.0 * ADAPTIVE.decrease)
    assert limiter.slow_start is False
    clock.now += ADAPTIVE.hold_seconds
    limiter.throttled()
    after = 8.0 * ADAPTIVE.decrease**2
    assert limiter.rate == pytest.approx(after)
    busy(limiter, round(after))  # about one second of successes at this rate
    assert limiter.rate == pytest.approx(after + ADAPTIVE.increase_per_second, rel=0.05)


def test_the_rate_never_falls_below_the_floor() -> None:
    clock = Clock()
    limiter = RateLimiter(8.0, adaptation=Adaptation(floor=1.0), clock=clock)
    for _ in range(20):
        clock.now += 2
        limiter.throttled()
    assert limiter.rate == 1.0


def test_tokens_earned_at_the_old_rate_are_kept_when_the_rate_changes() -> None:
    clock = Clock()
    limiter = RateLimiter(8.0, adaptation=Adaptation(start_fraction=1.0), clock=clock)
    assert limiter.reserve() == 0.0
    assert limiter.reserve() == pytest.approx(1 / 8)  # one token owed at 8/s
    clock.now += 1 / 16  # half of it earned at 8/s
    limiter.throttled()  # 5.6/s from now: what is still owed is earned at the new rate
    assert limiter.reserve() == pytest.approx(1.5 / 5.6)


async def test_the_client_reports_429s_and_successes_to_its_limiter(make_client, recorder) -> None:
    clock = Clock()  # stands still: no pause after the 429 (the next test has one)
    limiter = RateLimiter(8.0, adaptation=replace(ADAPTIVE, pause_seconds=0.0), clock=clock)
    busy(limiter, 100)
    clock.now += 60  # the debt of those reservations is paid: the client's calls do not wait
    answers = iter([gateway_error(429, "rate limit", **{"Retry-After": "1"}), httpx.Response(200, json=[])])
    async with make_client(lambda _request: next(answers), rate_limiter=limiter) as client:
        assert await client.get_projects() == []
    assert limiter.slow_start is False
    assert limiter.rate == pytest.approx(8.0 * ADAPTIVE.decrease + ADAPTIVE.increase_per_second / 5.6, rel=0.01)


async def test_a_429_holds_the_callers_already_given_a_turn() -> None:
    """The service's bucket is empty: a caller whose turn comes during the pause waits it out."""
    limiter = RateLimiter(8.0, adaptation=Adaptation(start_fraction=1.0, pause_seconds=0.3))
    await limiter.acquire()  # the saved token
    limiter.throttled()
    loop = asyncio.get_running_loop()
    started = loop.time()
    await limiter.acquire()
    assert loop.time() - started >= 0.29


def test_a_ceiling_below_the_floor_is_never_exceeded() -> None:
    limiter = RateLimiter(0.1, adaptation=ADAPTIVE, clock=Clock())
    assert limiter.rate == 0.1
    limiter.throttled()
    assert limiter.rate == 0.1
