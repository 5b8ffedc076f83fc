"""Client-side pacing: stay under the Training API's per-key rate instead of collecting 429s.

The service allows 10 calls/s per key (S0 and F0 alike, training calls aside). Every client of one
resource in a process shares one bucket (see ``shared_rate_limiter``), so parallel activities pace each
other. Several processes (scaled-out workers) still add up; the client's 429 handling covers that.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable


class RateLimiter:
    """A token bucket: ``rate`` tokens per second, at most ``burst`` saved up.

    ``acquire`` reserves a token under a thread lock and then sleeps for its turn, so callers are
    served in order and one instance works across event loops and threads (the Functions worker runs
    sync functions in a thread pool).
    """

    def __init__(self, rate: float, burst: int | None = None, *, clock: Callable[[], float] = time.monotonic):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = max(1, burst if burst is not None else int(rate))
        self._clock = clock
        self._tokens = float(self.burst)
        self._updated = clock()
        self._mutex = threading.Lock()

    def reserve(self) -> float:
        """Take a token (possibly one not yet earned) and return how long to wait before using it."""
        with self._mutex:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            self._tokens -= 1
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    async def acquire(self) -> None:
        """Wait for this caller's turn."""
        wait = self.reserve()
        if wait > 0:
            await asyncio.sleep(wait)


_shared: dict[tuple[str, float], RateLimiter] = {}
_shared_mutex = threading.Lock()


def shared_rate_limiter(name: str, rate: float) -> RateLimiter:
    """The process-wide limiter for one resource (``name`` is its configured name, never its key)."""
    with _shared_mutex:
        limiter = _shared.get((name, rate))
        if limiter is None:
            limiter = _shared[(name, rate)] = RateLimiter(rate)
        return limiter
