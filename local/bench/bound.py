"""What a run is held to: the successful API calls in the simulator's request log over the rate limit, and
the ratios the report prints (the copy floor, the other half of the bound, is :mod:`local.bench.floor`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

TARGET_RATIO = 1.5


class LoggedRequest(Protocol):
    """What counting needs of a simulator request-log entry (``RequestLogEntry``)."""

    @property
    def path(self) -> str: ...

    @property
    def status(self) -> int | None: ...


def count_calls(entries: Iterable[LoggedRequest]) -> dict[str, int]:
    """API calls (``/customvision/``: Training and Prediction API) by outcome, and file downloads."""
    api_ok = throttled = server_errors = other = downloads = 0
    for entry in entries:
        if entry.path.startswith("/customvision/"):
            status = entry.status
            if status == 429:
                throttled += 1
            elif status is None or status >= 500:
                server_errors += 1
            else:
                api_ok += 1
                if status >= 400:
                    other += 1
        elif entry.path.startswith("/_blobs/"):
            downloads += 1
    return {
        "api_calls": api_ok,
        "api_calls_4xx": other,
        "throttled_429": throttled,
        "server_errors": server_errors,
        "downloads": downloads,
    }


def ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 3) if denominator else None
