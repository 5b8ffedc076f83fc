"""Deterministic fault injection: which requests fail, and how.

Each API request draws from a `random.Random` seeded with `random_seed`, so the same sequence of
requests meets the same faults on every run. Three kinds, equally likely:

* `500`: a CustomVisionError `ErrorUnknown`, answered before the operation runs (nothing changed);
* `503`: a gateway-shaped "service unavailable", also before the operation runs;
* `drop`: the operation RUNS, then the connection is closed without a response, the nasty real-world
  case in which a client cannot know whether its change happened and must retry idempotently.
"""

from __future__ import annotations

import random
import threading
from typing import Literal

FaultKind = Literal["500", "503", "drop"]
_KINDS: tuple[FaultKind, ...] = ("500", "503", "drop")


class FaultInjector:
    def __init__(self, seed: int) -> None:
        self._lock = threading.Lock()
        self._faults = random.Random(f"faults:{seed}")
        self._jitter = random.Random(f"jitter:{seed}")

    def draw(self, fault_rate: float) -> FaultKind | None:
        """Decide the fate of one request (always consumes the same amount of randomness)."""
        with self._lock:
            roll = self._faults.random()
            kind = self._faults.choice(_KINDS)
        return kind if roll < fault_rate else None

    def latency_seconds(self, latency_ms: float) -> float:
        """The configured latency with a deterministic ±20% jitter."""
        if latency_ms <= 0:
            return 0.0
        with self._lock:
            factor = 0.8 + 0.4 * self._jitter.random()
        return latency_ms * factor / 1000.0
