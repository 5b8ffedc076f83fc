"""A faithful fake of OneTrust's DSAR and documents APIs, from ``../shared/specs/ticketing-platforms.md`` §2.6.

It sends what a OneTrust integration workflow sends (the workflow-mapped JSON with its shared-secret
header) and checks what OneTrust checks: client-credentials tokens it issued, unexpired (401 otherwise);
a subtask id that is a UUID and exists; ``comment`` required (1 to 1,500,000 characters); ``status`` in
its vocabulary and ``resolutionId`` only with COMPLETED or REJECTED (400); attachments uploaded before
(``fileId``); uploads as multipart with ``FileName`` (with an extension), ``Type`` 30, at most one
``RefIds`` entry and at most 64 MB. Negative modes: ``fail_next`` (429 with ``Retry-After`` and the
``ot-*`` rate-limit headers, 5xx), ``expire_tokens()`` (a token revoked before its time).
"""

from __future__ import annotations

import json
import secrets
import string
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

MAX_UPLOAD = 64 * 1024 * 1024
MAX_COMMENT = 1_500_000
SUBTASK_STATUSES = {"IN_PROGRESS", "FAILED", "COMPLETED", "REJECTED"}


@dataclass
class Subtask:
    ref: str
    status: str = "OPEN"
    comment: str | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)


class FakeOneTrust:
    def __init__(self, *, client_id: str, client_secret: str, webhook_secret: str) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.webhook_secret = webhook_secret
        self.tokens: dict[str, float] = {}  # token -> expiry (epoch seconds)
        self.subtasks: dict[str, Subtask] = {}
        self.files: dict[str, tuple[str, bytes, dict[str, Any]]] = {}  # Id -> (file name, bytes, metadata)
        self.calls: list[tuple[str, str, int]] = []
        self.fail_next: list[int] = []
        self.token_fetches = 0

    # -- what the workflow sends -------------------------------------------------------------------------

    def webhook(self, email: str, types: list[str], *, secret: str | None = None) -> tuple[dict[str, str], bytes, str]:
        """Headers, body and subtask id of a workflow step posting a new system subtask."""
        ref = "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(10))
        subtask = str(uuid.uuid4())
        self.subtasks[subtask] = Subtask(ref)
        body = {
            "requestQueueRefId": ref,
            "subtaskId": subtask,
            "email": email,
            "requestTypes": types,
            "language": "en-us",
        }
        headers = {"Authorization": f"Bearer {secret or self.webhook_secret}", "Content-Type": "application/json"}
        return headers, json.dumps(body).encode(), subtask

    def expire_tokens(self) -> None:
        self.tokens = {token: 0.0 for token in self.tokens}

    # -- what OneTrust checks ----------------------------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/api/access/v1/oauth/token", self._token, methods=["POST"]),
                Route("/api/datasubject/v2/subtasks/{subtask}/complete", self._complete, methods=["PUT"]),
                Route("/api/datasubject/v2/subtasks/{subtask}/status", self._status, methods=["PUT"]),
                Route("/api/document/v2/attachments", self._upload, methods=["POST"]),
            ]
        )

    def _answer(self, request: Request, status: int, body: Any = None) -> Response:
        self.calls.append((request.method, request.url.path, status))
        headers: dict[str, str] = {}
        if status == 429:
            headers = {
                "Retry-After": "1",
                "ot-ratelimit-event-id": str(uuid.uuid4()),
                "ot-requests-allowed": "1000",
                "ot-period": "MINUTE",
                "ot-request-made": "1001",
            }
        return JSONResponse(body if body is not None else {"ok": status < 400}, status, headers=headers)

    async def _token(self, request: Request) -> Response:
        form = await request.form()
        if form.get("grant_type") != "client_credentials":
            return self._answer(request, 400, {"error": "unsupported_grant_type"})
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return self._answer(request, 401, {"error": "invalid_client"})
        token = secrets.token_urlsafe(24)
        self.tokens[token] = time.time() + 3600
        self.token_fetches += 1
        return self._answer(request, 200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600})

    def _refused(self, request: Request) -> Response | None:
        if self.fail_next:
            return self._answer(request, self.fail_next.pop(0))
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if self.tokens.get(token, 0.0) <= time.time():
            return self._answer(request, 401, {"error": "invalid_token"})
        return None

    def _subtask(self, request: Request) -> tuple[Subtask | None, Response | None]:
        try:
            subtask_id = str(uuid.UUID(request.path_params["subtask"]))
        except ValueError:
            return None, self._answer(request, 400, {"error": "subtaskID must be a UUID"})
        subtask = self.subtasks.get(subtask_id)
        if subtask is None:
            return None, self._answer(request, 404, {"error": "no such subtask"})
        return subtask, None

    async def _body(self, request: Request) -> dict[str, Any] | None:
        try:
            document = json.loads(await request.body())
        except json.JSONDecodeError:
            return None
        return document if isinstance(document, dict) else None

    async def _complete(self, request: Request) -> Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        subtask, missing = self._subtask(request)
        if missing is not None:
            return missing
        assert subtask is not None
        body = await self._body(request)
        comment = (body or {}).get("comment")
        if not isinstance(comment, str) or not 1 <= len(comment) <= MAX_COMMENT:
            return self._answer(request, 400, {"error": "comment is required (1 to 1,500,000 characters)"})
        attachments = (body or {}).get("attachments") or []
        if any(a.get("fileId") not in self.files or not a.get("fileName") for a in attachments):
            return self._answer(request, 400, {"error": "attachments need a fileId uploaded before and a fileName"})
        if subtask.status == "COMPLETED":
            return self._answer(request, 400, {"error": "the subtask is completed"})  # real code unconfirmed
        subtask.comment = comment
        subtask.attachments = attachments
        subtask.status = "COMPLETED" if (body or {}).get("markAsComplete") else subtask.status
        return self._answer(request, 200)

    async def _status(self, request: Request) -> Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        subtask, missing = self._subtask(request)
        if missing is not None:
            return missing
        assert subtask is not None
        body = await self._body(request) or {}
        status = body.get("status")
        if status not in SUBTASK_STATUSES:
            return self._answer(request, 400, {"error": "status"})
        if body.get("resolutionId") and status not in ("COMPLETED", "REJECTED"):
            return self._answer(request, 400, {"error": "resolutionId only with COMPLETED or REJECTED"})
        if len(str(body.get("comment") or "")) > MAX_COMMENT:
            return self._answer(request, 400, {"error": "comment"})
        subtask.status, subtask.comment = status, body.get("comment")
        return self._answer(request, 200, True)

    async def _upload(self, request: Request) -> Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            return self._answer(request, 400, {"error": "multipart/form-data expected"})
        form = await request.form(max_part_size=MAX_UPLOAD + 1)
        upload, meta_text = form.get("file"), form.get("attachment")
        if not isinstance(upload, UploadFile) or not isinstance(meta_text, str):
            return self._answer(request, 400, {"error": "parts file and attachment are required"})
        data = await upload.read()
        meta = json.loads(meta_text)
        name = str(meta.get("FileName") or "")
        refs = meta.get("RefIds") or []
        if "." not in name or meta.get("Type") != 30 or len(refs) > 1 or len(data) > MAX_UPLOAD:
            return self._answer(request, 400, {"error": "FileName with an extension, Type 30, at most one RefId"})
        file_id = str(uuid.uuid4())
        self.files[file_id] = (name, data, meta)
        answer = {"Id": file_id, "Name": meta.get("Name"), "FileName": name, "FileSize": len(data), "Type": 30}
        return self._answer(request, 201, answer | {"RefId": refs[0] if refs else None, "IsInternal": True})
