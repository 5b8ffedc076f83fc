"""A faithful fake of Transcend's Sombra gateway, from ``../shared/specs/ticketing-platforms.md`` §1.9.

It sends what Transcend sends (a DSR-job webhook with an ES384 ``x-sombra-token`` and an opaque
``x-transcend-nonce``) and checks what Sombra checks on the results: the integration's API key
(``authorization``), ``x-sombra-authorization`` only when self-hosted, a known nonce (400), a job
already resolved or revoked (409), bodies over 50 MB (413), datapoint names the integration defines,
the status vocabularies. Negative modes: answers queued with ``fail_next`` (429 with ``Retry-After``,
503), tokens with another algorithm, audience, scope, key, or a reused ``jti``.

    sombra = FakeSombra(api_key="tk", audience="acme")
    app = sombra.app()                      # serve it; give its URL to CVDSR_TRANSCEND__SOMBRA_URL
    headers, body = sombra.webhook("ACCESS", "alice")
    ...                                     # POST them to /api/connectors/transcend
    sombra.jobs[headers["x-transcend-nonce"]].files, .records, .status
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

MAX_BODY = 50 * 1000 * 1000
SILO_STATUSES = {"READY", "RESOLVED", "SKIPPED", "SKIPPED_DUE_TO_EXCEPTION", "ACTION_REQUIRED", "WAITING"}
PROFILE_STATUSES = {"RESOLVED", "SKIPPED", "SKIPPED_DUE_TO_EXCEPTION", "WAITING", "ERROR"}


@dataclass
class Job:
    """One DSR job of the data silo, as Sombra tracks it by its nonce."""

    type: str
    state: str = "open"  # open | resolved | revoked
    status: str | None = None  # the last silo status or profile status set
    message: str | None = None
    records: dict[str, list[Any]] = field(default_factory=dict)  # datapoint -> records
    files: list[tuple[str, str, bytes]] = field(default_factory=list)  # (datapoint, remote id, bytes)
    completed: set[str] = field(default_factory=set)  # datapoints reported in full
    profile_ids: list[str] = field(default_factory=list)


def _b64(data: str | bytes) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _signing_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


def _pem(key: ec.EllipticCurvePrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


class FakeSombra:
    def __init__(
        self,
        *,
        api_key: str,
        audience: str,
        datapoints: tuple[str, ...] = ("images", "image_files"),
        sombra_api_key: str | None = None,
    ) -> None:
        self.api_key = api_key
        self.audience = audience
        self.datapoints = datapoints
        self.sombra_api_key = sombra_api_key  # set: self-hosted mode
        self.key = _signing_key()
        self.jobs: dict[str, Job] = {}
        self.calls: list[tuple[str, str, int]] = []  # (method, path, status answered)
        self.fail_next: list[int] = []
        self.retry_after = "1"
        self.key_fetches = 0
        self._lock = threading.Lock()

    # -- what Transcend sends ---------------------------------------------------------------------------

    def token(
        self,
        value: str,
        *,
        audience: str | None = None,
        scope: str = "coreIdentifier",
        iat: float | None = None,
        jti: str | None = None,
        algorithm: str = "ES384",
        key: ec.EllipticCurvePrivateKey | None = None,
    ) -> str:
        claims = {
            "scope": scope,
            "value": value,
            "aud": audience or self.audience,
            "iat": int(iat if iat is not None else time.time()),
            "jti": jti or uuid.uuid4().hex,
        }
        if algorithm == "ES384":
            return jwt.encode(claims, key or self.key, algorithm="ES384")
        if algorithm == "none":
            return jwt.encode(claims, "", algorithm="none")
        # An HMAC token keyed with the public key's PEM: the algorithm-confusion attack. Signed by
        # hand: PyJWT refuses to use a PEM as an HMAC secret, which is the point of the attack.
        digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[algorithm]
        signing_input = f"{_b64(json.dumps({'alg': algorithm, 'typ': 'JWT'}))}.{_b64(json.dumps(claims))}"
        signature = hmac.new(_pem(self.key).encode(), signing_input.encode(), digest).digest()
        return f"{signing_input}.{_b64(signature)}"

    def webhook(
        self,
        type_: str,
        value: str,
        *,
        request_id: str | None = None,
        profile: tuple[str, str] | None = None,
        token: str | None = None,
        nonce: str | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """Headers and body of a "New DSR job" webhook; its job is registered under the nonce."""
        nonce = nonce or f"nz_{secrets.token_hex(12)}"
        with self._lock:
            self.jobs.setdefault(nonce, Job(type_))
        request_id = request_id or str(uuid.uuid4())
        kind, identifier = profile or ("email", value)
        body = {
            "type": type_,
            "coreIdentifier": {"value": value},
            "isTest": False,
            "dataSubject": {"type": "customer"},
            "extras": {
                "profile": {"identifier": identifier, "type": kind},
                "request": {
                    "id": request_id,
                    "link": f"https://app.transcend.io/request/{request_id}",
                    "locale": "en",
                    "origin": "PRIVACY_CENTER",
                    "createdAt": "2026-11-02T10:00:00.000Z",
                },
                "organization": {"id": "0a6b", "name": "Acme", "uri": self.audience},
            },
        }
        headers = {"x-sombra-token": token or self.token(value), "x-transcend-nonce": nonce}
        return headers, json.dumps(body).encode()

    def rotate_key(self) -> None:
        self.key = _signing_key()

    def revoke(self, nonce: str) -> None:
        self.jobs[nonce].state = "revoked"

    # -- what Sombra checks -----------------------------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/public-keys/sombra-general-signing-key", self._public_key, methods=["GET"]),
                Route("/v1/data-silo", self._data_silo, methods=["POST", "PUT"]),
                Route("/v1/datapoint", self._datapoint, methods=["POST"]),
                Route("/v1/datapoint-chunked", self._datapoint_chunked, methods=["POST"]),
            ]
        )

    def _answer(self, request: Request, status: int, body: Any = None) -> Response:
        self.calls.append((request.method, request.url.path, status))
        if status == 429:
            return JSONResponse({"error": "rate limited"}, status, headers={"Retry-After": self.retry_after})
        return JSONResponse(body if body is not None else {"ok": status < 400}, status)

    def _authorised(self, request: Request) -> bool:
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return False
        internal = request.headers.get("x-sombra-authorization")
        if self.sombra_api_key is None:
            return internal is None  # multi-tenant Sombra has no internal key
        return internal == f"Bearer {self.sombra_api_key}"

    async def _public_key(self, request: Request) -> Response:
        # Multi-tenant Sombra asks for the API key; a self-hosted one serves the key to anyone.
        if self.sombra_api_key is None and request.headers.get("authorization") != f"Bearer {self.api_key}":
            return self._answer(request, 401)
        self.key_fetches += 1
        self.calls.append(("GET", request.url.path, 200))
        return PlainTextResponse(_pem(self.key))

    async def _job(self, request: Request) -> tuple[Job | None, Response | None]:
        """The job the call is for, or the answer that refuses it."""
        if self.fail_next:
            return None, self._answer(request, self.fail_next.pop(0))
        if not self._authorised(request):
            return None, self._answer(request, 401)
        if int(request.headers.get("content-length") or 0) > MAX_BODY:
            return None, self._answer(request, 413)
        job = self.jobs.get(request.headers.get("x-transcend-nonce", ""))
        if job is None:
            return None, self._answer(request, 400, {"error": "unknown nonce"})
        if job.state != "open":
            return None, self._answer(request, 409, {"error": "the request is not modifiable"})
        return job, None

    async def _json(self, request: Request) -> Any:
        if request.headers.get("content-type", "").split(";")[0] != "application/json":
            raise ValueError("content-type must be application/json")
        return json.loads(await request.body())

    def _settle(self, job: Job, status: str | None) -> None:
        if status in ("READY", "RESOLVED") or set(self.datapoints) <= job.completed:
            job.state = "resolved"

    async def _data_silo(self, request: Request) -> Response:
        job, refused = await self._job(request)
        if refused is not None:
            return refused
        assert job is not None
        try:
            body = await self._json(request)
        except ValueError as error:
            return self._answer(request, 400, {"error": str(error)})
        status, profile_status = body.get("status"), body.get("profileStatus")
        if status is not None and status not in SILO_STATUSES:
            return self._answer(request, 400, {"error": "status"})
        if profile_status is not None and profile_status not in PROFILE_STATUSES:
            return self._answer(request, 400, {"error": "profileStatus"})
        profiles = body.get("profiles") or []
        for profile in profiles:
            data = profile.get("profileData") or {}
            unknown = set(data) - set(self.datapoints)
            if unknown:
                return self._answer(request, 400, {"error": f"no such datapoint: {sorted(unknown)}"})
        for profile in profiles:
            if profile.get("profileId"):
                job.profile_ids.append(profile["profileId"])
            for name, value in (profile.get("profileData") or {}).items():
                job.records.setdefault(name, []).extend(value if isinstance(value, list) else [value])
                job.completed.add(name)
        job.status = status or profile_status or job.status
        job.message = body.get("message", job.message)
        self._settle(job, status)
        return self._answer(request, 200)

    async def _datapoint(self, request: Request) -> Response:
        job, refused = await self._job(request)
        if refused is not None:
            return refused
        assert job is not None
        name = request.headers.get("x-transcend-datapoint-name", "")
        if name not in self.datapoints:
            return self._answer(request, 400, {"error": "no such datapoint"})
        job.files.append((name, request.headers.get("x-transcend-remote-id", name), await request.body()))
        if request.headers.get("x-transcend-skip-status-update", "false") != "true":
            job.completed.add(name)
            self._settle(job, None)
        return self._answer(request, 200)

    async def _datapoint_chunked(self, request: Request) -> Response:
        job, refused = await self._job(request)
        if refused is not None:
            return refused
        assert job is not None
        try:
            body = await self._json(request)
        except ValueError as error:
            return self._answer(request, 400, {"error": str(error)})
        name = body.get("dataPointName")
        if name not in self.datapoints or not isinstance(body.get("data"), list):
            return self._answer(request, 400, {"error": "dataPointName and data are required"})
        job.records.setdefault(name, []).extend(body["data"])
        if body.get("isLastPage") is True:
            job.completed.add(name)
            self._settle(job, None)
        return self._answer(request, 200)
