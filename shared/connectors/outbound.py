"""Calls to a privacy platform's API: one ``httpx.AsyncClient`` per connection, one retry policy.

Retried, with the platform's ``Retry-After`` (capped) or full-jitter backoff, bounded in attempts and
in time: 408, 429, 5xx and dropped connections. Not retried: the platform's "not modifiable" answer
(409: the request is already closed or revoked), which the caller records, and every other 4xx.
Errors name the platform, the operation and the status: never a header (the keys live there), a
body, or a URL's query.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any

import httpx

from shared.customvision.retry import RETRYABLE_STATUS, RetryPolicy, parse_retry_after

logger = logging.getLogger(__name__)

# A report is small and the platform keeps the request open for days: wait out a throttled minute.
PLATFORM_RETRY = RetryPolicy(max_attempts=6, max_elapsed_seconds=150.0, base_delay_seconds=1.0, max_delay_seconds=30.0)


class PlatformError(RuntimeError):
    """The platform refused or did not answer, after retries where they apply."""

    def __init__(self, platform: str, operation: str, detail: str, *, status_code: int | None = None) -> None:
        super().__init__(f"{platform} {operation}: {detail}")
        self.status_code = status_code


class NotSent(PlatformError):
    """Nothing true can be sent (the request did not succeed, and the platform's answer has no word
    for it): final, recorded, never retried; the reason says why."""


class NotModifiable(PlatformError):
    """The platform no longer accepts results for this request (completed or revoked): 409, or the
    platform's own status for it (Fides' callback: 400 once the task is no longer waiting)."""


class PlatformClient:
    """A connection to one platform's API, with its authentication headers. Use as an async context."""

    def __init__(
        self,
        platform: str,
        base_url: str,
        headers: Mapping[str, str],
        *,
        retry: RetryPolicy = PLATFORM_RETRY,
        not_modifiable: frozenset[int] = frozenset({409}),
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.platform = platform
        self._retry = retry
        self._sleep = sleep
        self._not_modifiable = not_modifiable  # the platform's "this request no longer takes answers"
        self._rng = random.Random()
        self._client = httpx.AsyncClient(
            base_url=base_url, headers=dict(headers), timeout=60.0, follow_redirects=False, transport=transport
        )

    async def __aenter__(self) -> PlatformClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self._client.aclose()

    async def send(
        self,
        method: str,
        path: str,
        operation: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        data: Mapping[str, str] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """The platform's 2xx answer; ``NotModifiable`` on its "not modifiable" status (409 unless the
        platform says otherwise); ``PlatformError`` otherwise. ``data`` and
        ``files`` make a form (multipart with files)."""
        deadline = time.monotonic() + self._retry.max_elapsed_seconds
        for attempt in range(1, self._retry.max_attempts + 1):
            retry_after: float | None = None
            try:
                response = await self._client.request(
                    method, path, json=json, content=content, data=data, files=files, headers=headers
                )
            except httpx.TransportError as error:
                outcome = type(error).__name__
                status: int | None = None
            else:
                status = response.status_code
                if response.is_success:
                    return response
                if status in self._not_modifiable:
                    detail = f"HTTP {status} (not modifiable)"
                    raise NotModifiable(self.platform, operation, detail, status_code=status)
                if status not in RETRYABLE_STATUS and status < 500:
                    raise PlatformError(self.platform, operation, f"HTTP {status}", status_code=status)
                outcome = f"HTTP {status}"
                retry_after = parse_retry_after(response.headers.get("retry-after"))
            delay = min(self._retry.delay(attempt, retry_after, self._rng), deadline - time.monotonic())
            if attempt == self._retry.max_attempts or delay <= 0:
                raise PlatformError(self.platform, operation, f"{outcome} after {attempt} attempts", status_code=status)
            logger.warning("%s %s: %s; retrying in %.1fs", self.platform, operation, outcome, delay)
            await self._sleep(delay)
        raise AssertionError("unreachable")
