"""A faithful fake of DataGrail's webhook integration, from ``../shared/specs/ticketing-platforms.md`` §3.6.

It sends what DataGrail sends (Health Check, Access, Deletion and Opt-Out notifications, signed with
``X-Webhook-Signature`` = base64 HMAC-SHA256 of ``"<X-Webhook-Timestamp>:<raw body>"``, with or without
``v1=``) and serves the callback URL, recording what cvdsr posts there (DataGrail's callback contract
is unconfirmed, so tests assert on what cvdsr sends). Negative modes: a stale timestamp, a changed
byte, another secret; callbacks answered from ``fail_next`` (429 with ``Retry-After``, 5xx) or 409
for a request closed in DataGrail.

    datagrail = FakeDataGrail(secret="s")
    with serve(datagrail.app()) as url:
        datagrail.base_url = url
        headers, body = datagrail.notification("access", email="jane@example.test")
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


class FakeDataGrail:
    def __init__(self, *, secret: str, callback_token: str | None = None) -> None:
        self.secret = secret
        self.callback_token = callback_token
        self.base_url = "http://127.0.0.1:9"  # set to where app() is served
        self.callbacks: dict[str, list[dict[str, Any]]] = {}  # webhook_request_id -> bodies received
        self.answers: list[int] = []  # every status the callback route answered
        self.fail_next: list[int] = []
        self.closed: set[str] = set()

    def sign(self, timestamp: str, body: bytes, *, secret: str | None = None) -> str:
        key = (secret or self.secret).encode()
        return base64.b64encode(hmac.new(key, timestamp.encode() + b":" + body, hashlib.sha256).digest()).decode()

    def notification(
        self,
        kind: str,
        *,
        email: str | None = None,
        webhook_request_id: str | None = None,
        timestamp: float | None = None,
        v1_prefix: bool = False,
        secret: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """Headers and body of one notification (``kind``: "Health Check", "access", "deletion", "opt_out")."""
        webhook_id = webhook_request_id or str(uuid.uuid4())
        document: dict[str, Any] = {
            "integration_name": "Custom Vision",
            "integration_kind": "webhook",
            "webhook_request_id": webhook_id,
            "privacy_right": kind,
            "callback_url": f"{self.base_url}/callback/{webhook_id}",
        }
        if email is not None:
            document["identifiers"] = {"email": email}
        document |= extra or {}
        body = json.dumps(document).encode()
        sent_at = str(int(timestamp if timestamp is not None else time.time()))
        signature = self.sign(sent_at, body, secret=secret)
        headers = {
            "X-Webhook-Timestamp": sent_at,
            "X-Webhook-Signature": f"v1={signature}" if v1_prefix else signature,
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": "dgclient/1.0",
        }
        return headers, body

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/callback/{webhook_id}", self._callback, methods=["POST"])])

    def _answer(self, status: int) -> Response:
        self.answers.append(status)
        headers = {"Retry-After": "1"} if status == 429 else {}
        return JSONResponse({"ok": status < 400}, status, headers=headers)

    async def _callback(self, request: Request) -> Response:
        if self.fail_next:
            return self._answer(self.fail_next.pop(0))
        if self.callback_token and request.headers.get("authorization") != f"Bearer {self.callback_token}":
            return self._answer(401)
        if request.headers.get("content-type", "").split(";")[0] != "application/json":
            return self._answer(415)
        webhook_id = request.path_params["webhook_id"]
        if webhook_id in self.closed:
            return self._answer(409)
        self.callbacks.setdefault(webhook_id, []).append(json.loads(await request.body()))
        return self._answer(200)
