"""A faithful fake of ServiceNow's Table and Attachment APIs, from ``../shared/specs/ticketing-platforms.md`` §5.1.

It checks what ServiceNow checks: Basic or Bearer authentication (401); the table and record exist
(404); ``table_name``, ``table_sys_id`` and ``file_name`` on an attachment (400) and its ``Content-Type``;
every answer wrapped in ``{"result": …}``. ``work_notes`` are journal entries: each PATCH adds one.
``fail_next`` queues answers (429 with ``Retry-After``, 5xx).
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass
class Record:
    number: str
    fields: dict[str, Any] = field(default_factory=dict)
    work_notes: list[str] = field(default_factory=list)
    attachments: list[tuple[str, str, bytes]] = field(default_factory=list)  # (file name, content type, bytes)


class FakeServiceNow:
    def __init__(self, *, table: str, username: str, password: str) -> None:
        self.table = table
        self.username = username
        self.password = password
        self.records: dict[str, Record] = {}  # sys_id -> record
        self.calls: list[tuple[str, str, int]] = []
        self.fail_next: list[int] = []

    def task(self, number: str, **fields: Any) -> str:
        sys_id = uuid.uuid4().hex
        self.records[sys_id] = Record(number, {"state": "1", **fields})
        return sys_id

    def by_number(self, number: str) -> Record:
        return next(record for record in self.records.values() if record.number == number)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/api/now/table/{table}", self._query, methods=["GET"]),
                Route("/api/now/table/{table}/{sys_id}", self._record, methods=["GET", "PATCH"]),
                Route("/api/now/attachment/file", self._attach, methods=["POST"]),
            ]
        )

    def _answer(self, request: Request, status: int, result: Any = None) -> Response:
        self.calls.append((request.method, request.url.path, status))
        headers = {"Retry-After": "1"} if status == 429 else {}
        if status >= 400:
            return JSONResponse(
                {"error": {"message": "refused", "detail": str(status)}, "status": "failure"}, status, headers=headers
            )
        return JSONResponse({"result": result}, status, headers=headers)

    def _refused(self, request: Request) -> Response | None:
        if self.fail_next:
            return self._answer(request, self.fail_next.pop(0))
        expected = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            return self._answer(request, 401)
        return None

    def _view(self, sys_id: str, record: Record) -> dict[str, Any]:
        return {"sys_id": sys_id, "number": record.number, **record.fields}

    async def _query(self, request: Request) -> Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        if request.path_params["table"] != self.table:
            return self._answer(request, 400)
        query = request.query_params.get("sysparm_query", "")
        found = [self._view(s, r) for s, r in self.records.items() if query == f"number={r.number}"]
        fields = request.query_params.get("sysparm_fields")
        if fields:
            found = [{k: v for k, v in row.items() if k in fields.split(",")} for row in found]
        return self._answer(request, 200, found[: int(request.query_params.get("sysparm_limit", "10000"))])

    async def _record(self, request: Request) -> Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        record = self.records.get(request.path_params["sys_id"])
        if request.path_params["table"] != self.table or record is None:
            return self._answer(request, 404)
        if request.method == "PATCH":
            changes = json.loads(await request.body())
            note = changes.pop("work_notes", None)
            if note:
                record.work_notes.append(note)
            record.fields.update(changes)
        return self._answer(request, 200, self._view(request.path_params["sys_id"], record))

    async def _attach(self, request: Request) -> Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        params = request.query_params
        if not all(params.get(name) for name in ("table_name", "table_sys_id", "file_name")):
            return self._answer(request, 400)
        content_type = request.headers.get("content-type")
        if not content_type:
            return self._answer(request, 400)
        record = self.records.get(params["table_sys_id"])
        if params["table_name"] != self.table or record is None:
            return self._answer(request, 404)
        data = await request.body()
        record.attachments.append((params["file_name"], content_type, data))
        result = {"sys_id": uuid.uuid4().hex, "file_name": params["file_name"], "size_bytes": str(len(data))}
        return self._answer(request, 201, result | {"table_name": self.table, "table_sys_id": params["table_sys_id"]})
