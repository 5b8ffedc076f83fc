"""Client-side pacing: stay under the Training API's per-key rate instead of collecting 429s.

The service allows 10 calls/s per key, for every client of that key together. Within a process every
client of one resource shares one bucket (``shared_rate_limiter``), so parallel activities pace each
other. Across processes (Flex Consumption instances) nothing is shared, so the bucket adapts to what
the resource answers, as TCP does to a network: it starts below its ceiling and grows fast until the
first 429 (slow start), then grows by a little per second while calls succeed and the bucket holds
callers back (additive increase), and shrinks by a fraction on a 429, once per hold period
(multiplicative decrease). A 429 also holds every call of the process for a moment, those
already given a turn included: the service's bucket is empty, and they would only be refused too.
Several processes on one key converge to about the key's limit between them with few 429s
(``make pacing`` measures it).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Adaptation:
    """How an adaptive bucket moves between ``floor`` and its ceiling (calls/s).

    The figures were chosen with a simulation of three processes on one 10 calls/s key, then with
    ``make pacing`` against the simulator: a faster increase costs 429s, a deeper decrease (0.5) costs
    throughput (0.88 of the limit against 0.95), no pause lets the turns already given go out into an
    empty bucket (up to 8 429s at one instant).
    """

    start_fraction: float = 0.4  # of the ceiling: a new process does not assume it is alone
    slow_start_step: float = 0.15  # calls/s added per success before the first 429 (doubles in ~5 s)
    increase_per_second: float = 0.03  # calls/s added per second of successes after it
    decrease: float = 0.7  # the rate kept on a 429
    hold_seconds: float = 1.0  # one decrease per hold: the 429s of one burst are one signal
    pause_seconds: float = 0.5  # after a 429 no call of the process goes out for this long
    floor: float = 0.25  # x 40 instances (the template's largest scale-out) = the key's 10 calls/s


class RateLimiter:
    """A token bucket: ``rate`` tokens per second, at most ``burst`` saved up.

    ``acquire`` reserves a token under a thread lock and then sleeps for its turn, so callers are
    served in order and one instance works across event loops and threads (the Functions worker runs
    sync functions in a thread pool). With ``adaptation`` the rate moves between its floor and ``rate``
    (the ceiling) as ``succeeded`` and ``throttled`` report; the burst is then 1, so that processes
    starting together do not empty the service's bucket at once.
    """

    def __init__(
        self,
        rate: float,
        burst: int | None = None,
        *,
        adaptation: Adaptation | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.ceiling = rate
        self.adaptation = adaptation
        # The floor never lifts the rate above a ceiling set lower than it.
        self.floor = min(adaptation.floor, rate) if adaptation else rate
        self.rate = max(self.floor, rate * adaptation.start_fraction) if adaptation else rate
        self.burst = max(1, burst if burst is not None else (1 if adaptation else int(rate)))
        self.slow_start = adaptation is not None
        self._clock = clock
        self._tokens = float(self.burst)
        self._updated = clock()
        self._last_decrease = float("-inf")
        self._last_limited = float("-inf")
        self._paused_until = float("-inf")
        self._mutex = threading.Lock()

    def reserve(self) -> float:
        """Take a token (possibly one not yet earned) and return how long to wait before using it."""
        with self._mutex:
            self._settle()
            self._tokens -= 1
            if self._tokens < 0:
                self._last_limited = self._updated
                return -self._tokens / self.rate
            return 0.0

    async def acquire(self) -> None:
        """Wait for this caller's turn, and past a pause that a 429 began meanwhile."""
        wait = self.reserve()
        if wait > 0:
            await asyncio.sleep(wait)
        # A deadline, not an asyncio.Event: the bucket is shared across event loops and threads. A caller
        # held by a pause takes a new turn after it, so the held ones go out spaced, not all at once.
        while (held := self._paused_until - self._clock()) > 0:
            await asyncio.sleep(held)
            wait = self.reserve()
            if wait > 0:
                await asyncio.sleep(wait)

    def succeeded(self) -> None:
        """A call went through: grow towards the ceiling, if the bucket held callers back lately."""
        self._adapt(self._grow)

    def throttled(self) -> None:
        """The service answered 429: the key is over its limit, shared with someone else."""
        self._adapt(self._shrink)

    def _grow(self, adaptation: Adaptation, now: float) -> None:
        if now - self._last_limited > adaptation.hold_seconds:
            return  # the callers, not the bucket, set the pace: a rate never used proves nothing
        step = adaptation.slow_start_step if self.slow_start else adaptation.increase_per_second / self.rate
        self.rate = min(self.ceiling, self.rate + step)

    def _shrink(self, adaptation: Adaptation, now: float) -> None:
        # The service's bucket is empty: callers already given a turn would only collect 429s too.
        self._paused_until = max(self._paused_until, now + adaptation.pause_seconds)
        if now - self._last_decrease >= adaptation.hold_seconds:
            self.rate = max(self.floor, self.rate * adaptation.decrease)
            self._last_decrease = now
        self.slow_start = False

    def _adapt(self, change: Callable[[Adaptation, float], None]) -> None:
        if self.adaptation is None:
            return
        with self._mutex:
            self._settle()  # tokens earned at the old rate are kept before it changes
            change(self.adaptation, self._updated)

    def _settle(self) -> None:
        """Count the tokens earned since the last look, at the current rate (caller holds the lock)."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now


ADAPTIVE = Adaptation()
_shared: dict[tuple[str, float], RateLimiter] = {}
_shared_mutex = threading.Lock()


def shared_rate_limiter(name: str, rate: float) -> RateLimiter:
    """The process-wide, adaptive limiter for one resource (``name`` is its configured name, never its
    key); ``rate`` is its ceiling."""
    with _shared_mutex:
        limiter = _shared.get((name, rate))
        if limiter is None:
            limiter = _shared[(name, rate)] = RateLimiter(rate, adaptation=ADAPTIVE)
        return limiter
