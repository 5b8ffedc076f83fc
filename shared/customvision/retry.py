"""Retry policy: which failures are worth another attempt, and how long to wait.

The Training API allows 10 calls/s per key and answers 429 from its gateway, sometimes with
``Retry-After`` (seconds or an HTTP date). 5xx answers, dropped connections and timeouts are transient
too. Retries are bounded both in attempts and in total time, so an activity fails in time for the
orchestrator to decide, instead of hanging.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How the client retries.

    ``max_attempts`` counts the first try. ``max_elapsed_seconds`` bounds the whole call including
    waits: a wait that would cross it is not started. Backoff is exponential with full jitter
    (AWS architecture blog, "Exponential Backoff And Jitter"), capped at ``max_delay_seconds``;
    a server's ``Retry-After`` replaces the backoff when present (capped at ``max_retry_after_seconds``).
    """

    max_attempts: int = 8
    max_elapsed_seconds: float = 120.0
    base_delay_seconds: float = 0.5
    max_delay_seconds: float = 20.0
    max_retry_after_seconds: float = 60.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.max_elapsed_seconds <= 0 or self.base_delay_seconds < 0 or self.max_delay_seconds < 0:
            raise ValueError("retry times must be positive")

    def backoff(self, retry_number: int, rng: random.Random) -> float:
        """Full-jitter exponential delay before retry number ``retry_number`` (1 = first retry)."""
        ceiling = min(self.max_delay_seconds, self.base_delay_seconds * (2 ** (retry_number - 1)))
        return rng.uniform(0, ceiling)

    def delay(self, retry_number: int, retry_after: float | None, rng: random.Random) -> float:
        """The wait before the next attempt: the server's ``Retry-After`` if given, else backoff.

        Jitter of up to half the wait is added to ``Retry-After``, so that many workers throttled together
        do not all come back in the same instant (and get throttled together again).
        """
        if retry_after is not None:
            wait = min(retry_after, self.max_retry_after_seconds)
            return wait + rng.uniform(0, max(wait, self.base_delay_seconds) / 2)
        return self.backoff(retry_number, rng)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date (RFC 9110 §10.2.3).

    Returns ``None`` for a missing or unparseable value, so the caller falls back to backoff.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds else None  # NaN is not a wait
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
