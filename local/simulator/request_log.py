"""The request log behind `GET /_simulator/requests`, and the ASGI middleware that fills it.

Every request is recorded, including those rejected with 401 or 429, unknown routes, blob downloads and
dropped connections, because tests prove "a dry run changed nothing" from this log. Keys are never
recorded: they travel in headers, and the log keeps no headers; SAS signatures in query strings are
redacted. The middleware also stamps every response with an `apim-request-id` header, as the service's
gateway does.
"""

from __future__ import annotations

import threading
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from local.simulator.clock import Clock
from local.simulator.errors import DroppedConnection
from local.simulator.timefmt import format_wire

#: Oldest entries are discarded beyond this many (about 60 MB at worst); `dropped` counts them.
REQUEST_LOG_LIMIT = 250_000
CONTEXT_KEY = "cvdsr.simulator.context"
_REDACTED_QUERY_KEYS = frozenset({"sig"})


@dataclass
class RequestContext:
    """Facts about the request that handlers learn and the log records."""

    request_id: str
    api: str = "other"
    operation: str | None = None
    key_ok: bool | None = None
    fault: str | None = None


@dataclass(frozen=True)
class RequestLogEntry:
    time: datetime
    method: str
    path: str
    query: str
    status: int | None
    key_ok: bool | None
    api: str
    operation: str | None
    fault: str | None
    request_id: str

    def as_json(self) -> dict[str, Any]:
        return {
            "time": format_wire(self.time),
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "status": self.status,
            "keyOk": self.key_ok,
            "api": self.api,
            "operation": self.operation,
            "fault": self.fault,
            "requestId": self.request_id,
        }


@dataclass
class RequestLog:
    """Thread-safe bounded list of `RequestLogEntry`."""

    limit: int = REQUEST_LOG_LIMIT
    dropped: int = 0
    _entries: deque[RequestLogEntry] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def append(self, entry: RequestLogEntry) -> None:
        with self._lock:
            if len(self._entries) >= self.limit:
                self._entries.popleft()
                self.dropped += 1
            self._entries.append(entry)

    def entries(self) -> list[RequestLogEntry]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.dropped = 0

    def __iter__(self) -> Iterator[RequestLogEntry]:
        return iter(self.entries())

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


def redact_query(raw_query: str) -> str:
    pairs = parse_qsl(raw_query, keep_blank_values=True)
    if not any(key.lower() in _REDACTED_QUERY_KEYS for key, _ in pairs):
        return raw_query
    return urlencode([(key, "REDACTED" if key.lower() in _REDACTED_QUERY_KEYS else value) for key, value in pairs])


def context_of(scope: Scope) -> RequestContext:
    context = scope.get(CONTEXT_KEY)
    if not isinstance(context, RequestContext):
        raise RuntimeError("request context missing: is RequestLogMiddleware installed?")
    return context


class RequestLogMiddleware:
    """Records each HTTP request and adds `apim-request-id` to each response."""

    def __init__(self, app: ASGIApp, log: RequestLog, clock: Clock) -> None:
        self._app = app
        self._log = log
        self._clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        context = RequestContext(request_id=str(uuid.uuid4()))
        scope[CONTEXT_KEY] = context
        started = self._clock.now()
        status: int | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if context.fault == "drop":
                return  # a dropped connection sends nothing, whatever inner layers try to answer
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                headers.append((b"apim-request-id", context.request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self._app(scope, receive, send_with_id)
        except DroppedConnection:
            status = None
            context.fault = "drop"
            raise
        finally:
            self._log.append(
                RequestLogEntry(
                    time=started,
                    method=scope["method"],
                    path=scope["path"],
                    query=redact_query(scope.get("query_string", b"").decode("latin-1")),
                    status=status,
                    key_ok=context.key_ok,
                    api=context.api,
                    operation=context.operation,
                    fault=context.fault,
                    request_id=context.request_id,
                )
            )
