"""One HTTP exchange with retries: the part of the client every operation shares.

It owns the ``httpx.AsyncClient`` (one per ``TrainingClient``, reused for connection pooling), adds
the training key only to requests for the Training API itself (never to storage URIs), paces calls
with an optional ``RateLimiter``, retries what is transient, and turns error answers into the
exceptions of ``errors``.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from .errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    UriExpiredError,
    status_error_class,
)
from .redaction import PERSONAL_QUERY_PARAMS, redact_url
from .retry import RETRYABLE_STATUS, RetryPolicy, parse_retry_after
from .throttle import RateLimiter

logger = logging.getLogger(__name__)

QueryValue = str | int | float | bool | None
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class ApiCall:
    """One finished exchange, for the request's audit log: what was touched, and the service's answer.

    ``target`` is the path and query with credentials redacted (ids are in both: DeleteImages takes
    its ids in the query). Retried attempts are not reported, only the answer that counted.
    """

    time: datetime
    operation: str
    method: str
    target: str
    status: int
    request_id: str | None
    attempts: int

    def to_json(self) -> dict[str, Any]:
        return {
            "time": self.time.isoformat(),
            "operation": self.operation,
            "method": self.method,
            "target": self.target,
            "status": self.status,
            "apim_request_id": self.request_id,
            "attempts": self.attempts,
        }


CallObserver = Callable[[ApiCall], None]


class _TrainingKeyAuth(httpx.Auth):
    """Adds ``Training-Key``; kept out of the client's default headers so that nothing that prints the
    client or its headers shows it."""

    def __init__(self, key: str) -> None:
        self._key = key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Training-Key"] = self._key
        yield request

    def __repr__(self) -> str:
        return "_TrainingKeyAuth(key=REDACTED)"


class Requester:
    """Sends requests for one endpoint and key, with retries."""

    def __init__(
        self,
        *,
        base_url: str,
        training_key: str,
        retry: RetryPolicy,
        timeout: httpx.Timeout,
        rate_limiter: RateLimiter | None,
        transport: httpx.AsyncBaseTransport | None,
        sleep: Sleep,
        rng: random.Random,
        user_agent: str,
        observer: CallObserver | None = None,
    ) -> None:
        if not training_key:
            raise ValueError("a training key is required")
        self.base_url = base_url.rstrip("/")
        self.retry = retry
        self._auth = _TrainingKeyAuth(training_key)
        self._rate_limiter = rate_limiter
        self._sleep = sleep
        self._rng = rng
        self.observer = observer
        self._http = httpx.AsyncClient(
            timeout=timeout,
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": user_agent},
            follow_redirects=False,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def call(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, QueryValue] | None = None,
        body: Any = None,
    ) -> httpx.Response:
        """A Training API call; returns the (read) response or raises an ``errors`` exception.

        Every call this client makes is safe to repeat (reads, deletes, and QueryPredictions, a read
        sent as POST), so transport errors, 429 and 5xx are all retried.
        """
        url = f"{self.base_url}{path}"
        query = {name: _query_value(value) for name, value in (params or {}).items() if value is not None}
        content = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if content is not None else None

        def build() -> httpx.Request:
            return self._http.build_request(method, url, params=query, content=content, headers=headers)

        return await self._send(operation, build, authenticated=True, stream=False)

    @asynccontextmanager
    async def stream(
        self, operation: str, url: str, *, authenticated: bool, params: Mapping[str, QueryValue] | None = None
    ) -> AsyncIterator[httpx.Response]:
        """A streamed GET (file download). Retries happen only before the body starts."""
        query = {name: _query_value(value) for name, value in (params or {}).items() if value is not None}

        def build() -> httpx.Request:
            # No ``params`` when there are none: httpx would drop the URL's own query (the SAS).
            return self._http.build_request("GET", url, params=query or None, headers={"Accept": "*/*"})

        response = await self._send(operation, build, authenticated=authenticated, stream=True)
        try:
            yield response
        finally:
            await response.aclose()

    async def _send(
        self,
        operation: str,
        build: Callable[[], httpx.Request],
        *,
        authenticated: bool,
        stream: bool,
    ) -> httpx.Response:
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            request = build()
            shown_url = redact_url(str(request.url))
            if self._rate_limiter is not None and authenticated:
                await self._rate_limiter.acquire()
            try:
                response = await self._http.send(request, auth=self._auth if authenticated else None, stream=stream)
            except httpx.TransportError as exc:
                error_name = type(exc).__name__
                delay = self._next_delay(attempt, started, None)
                if delay is None:
                    cls = APITimeoutError if isinstance(exc, httpx.TimeoutException) else APIConnectionError
                    raise cls(
                        f"{error_name} after {attempt} attempt(s) to {request.method} {shown_url}",
                        operation=operation,
                    ) from None
                logger.warning("%s: %s on attempt %d; retrying in %.2fs", operation, error_name, attempt, delay)
                await self._sleep(delay)
                continue

            request_id = response.headers.get("apim-request-id")
            logger.debug(
                "%s %s %s -> %d (apim-request-id %s, attempt %d)",
                operation,
                request.method,
                shown_url,
                response.status_code,
                request_id,
                attempt,
            )
            if self._rate_limiter is not None and authenticated:
                # The service's answer steers the process's pace for this key (shared.customvision.throttle).
                if response.status_code == 429:
                    self._rate_limiter.throttled()
                elif response.is_success:
                    self._rate_limiter.succeeded()
            if response.is_success:
                self._observe(operation, request, response.status_code, request_id, attempt)
                return response
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            retryable = response.status_code in RETRYABLE_STATUS
            delay = self._next_delay(attempt, started, retry_after) if retryable else None
            if delay is None:
                await response.aread()
                await response.aclose()
                self._observe(operation, request, response.status_code, request_id, attempt)
                raise _status_error(operation, response, attempt, authenticated=authenticated)
            logger.warning(
                "%s: HTTP %d on attempt %d (apim-request-id %s); retrying in %.2fs",
                operation,
                response.status_code,
                attempt,
                request_id,
                delay,
            )
            await response.aclose()
            await self._sleep(delay)

    def _observe(
        self, operation: str, request: httpx.Request, status: int, request_id: str | None, attempts: int
    ) -> None:
        if self.observer is None:
            return
        parts = urlsplit(redact_url(str(request.url), also=PERSONAL_QUERY_PARAMS))
        target = urlunsplit(("", "", parts.path, parts.query, ""))
        if target.startswith(urlsplit(self.base_url).path):
            target = target[len(urlsplit(self.base_url).path) :]
        self.observer(ApiCall(datetime.now(UTC), operation, request.method, target, status, request_id, attempts))

    def _next_delay(self, attempt: int, started: float, retry_after: float | None) -> float | None:
        """The wait before another attempt, or ``None`` when the attempt or time budget is spent."""
        if attempt >= self.retry.max_attempts:
            return None
        delay = self.retry.delay(attempt, retry_after, self._rng)
        if time.monotonic() - started + delay > self.retry.max_elapsed_seconds:
            return None
        return delay


def _query_value(value: str | int | float | bool) -> str:
    # Booleans as the API and the official SDK spell them.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _status_error(operation: str, response: httpx.Response, attempts: int, *, authenticated: bool) -> APIStatusError:
    """Map an error answer to an exception.

    Two shapes: the service's ``CustomVisionError`` ``{"code", "message"}`` and the gateway's
    ``{"error": {"code", "message"}}`` (401, 429). Anything else keeps the status and a short excerpt.
    """
    code: str | None = None
    message = ""
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        error_object = payload.get("error")
        inner: dict[str, Any] = error_object if isinstance(error_object, dict) else payload
        raw_code = inner.get("code")
        code = str(raw_code) if raw_code is not None else None
        message = str(inner.get("message") or "")
    elif response.content and authenticated:
        message = response.text[:200]
    cls = status_error_class(response.status_code)
    if not authenticated and response.status_code == 403:
        # A storage URI (SAS) that has expired or was revoked: re-list to get a fresh one.
        cls = UriExpiredError
    error = cls(
        message,
        operation=operation,
        status_code=response.status_code,
        code=code,
        request_id=response.headers.get("apim-request-id") or response.headers.get("x-ms-request-id"),
    )
    error.attempts = attempts
    return error
