"""Per-key token buckets: the S0 tier's "10 transactions per second" as a configurable rate.

A bucket holds up to `burst` tokens and refills at `tps` tokens per second. A request takes one token;
without one it gets 429 and a `Retry-After` (whole seconds, at least 1) saying when a token will exist.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class Throttle:
    """Token buckets keyed by an opaque key identity (never the key itself)."""

    def __init__(self, tps: float | None, burst: int | None) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}
        self.reconfigure(tps, burst)

    def reconfigure(self, tps: float | None, burst: int | None) -> None:
        with self._lock:
            self._tps = tps
            self._burst = burst if burst is not None else (max(1, math.ceil(tps)) if tps else None)
            self._buckets.clear()

    def acquire(self, identity: str, now: float) -> int | None:
        """Take a token; return None if allowed, else the Retry-After in whole seconds."""
        with self._lock:
            if self._tps is None or self._burst is None:
                return None
            bucket = self._buckets.get(identity)
            if bucket is None:
                bucket = self._buckets[identity] = _Bucket(float(self._burst), now)
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(float(self._burst), bucket.tokens + elapsed * self._tps)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return None
            wait = (1.0 - bucket.tokens) / self._tps
            return max(1, math.ceil(wait))
