"""Fides drives cvdsr through the SaaS connector shipped in ``integrations/fides/`` (docs/connectors.md).

Inbound, ``POST /api/connectors/fides``: the connector's read request (an access) or delete request (an
erasure) posts ``{"privacy_request_id", "action", "identity": {...}}`` with ``Authorization: Bearer
<api_key>`` (``CVDSR_FIDES__TOKEN``, compared in constant time). The request id is
``fides-<privacy request id>-<action>``, so Fides running a task again is the same request; the answer's
``request_id`` is the correlation id Fides keeps.

Two ways back, as Fides' ``async_config`` strategies are:

- polling: Fides asks ``GET /api/requests/{id}/result`` until ``status`` is ``succeeded``; its ``items``
  are the access rows. A failed, partial or rejected request answers 409, which ends Fides' polling with
  an error instead of a wait for a completion that will not come.
- callback: the body also carries Fides' ``reply_to`` path and ``reply_to_token``; cvdsr posts
  ``{"access_results": [...]}`` or ``{"rows_masked": N}`` to ``CVDSR_FIDES__URL`` + ``reply_to`` once
  the request has succeeded (an erasure: verified). Fides' callback has no failure answer, so a request
  that did not succeed is not posted: the task stays waiting in Fides, and cvdsr's events say why.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from collections.abc import Mapping
from typing import Any

from azure.storage.blob.aio import BlobServiceClient

from shared import intake
from shared.connections import blob_service, results_container
from shared.http_api import MAX_RESULT_ITEMS, Answer
from shared.instances import DurableClient
from shared.results.store import ResultStore
from shared.settings import FidesSettings, SettingsError, app_settings

from . import exported, identity, records
from .inbound import json_object
from .outbound import NotSent, PlatformClient

logger = logging.getLogger(__name__)

PLATFORM = "fides"
MAX_BODY_BYTES = 64 * 1024
ACTIONS = {"access": "export", "erasure": "erase"}
# Fides' ids are "pri_<uuid>"; anything else that fits a request id is taken too (a Fides fork, a test).
PRIVACY_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,79}")
REPLY_TO = re.compile(r"/api/v1/[A-Za-z0-9/_-]{1,200}")  # a path on the configured Fides server, nothing else
REPLY_TO_TOKEN = re.compile(r"[A-Za-z0-9_.-]{1,8192}")  # a compact JWE: base64url parts joined by dots
NOT_WAITING = frozenset({400, 409})
IDENTITIES = "email,phone_number,external_id"  # Fides' identity names that find a person


def configured(environ: Mapping[str, str] | None = None) -> FidesSettings | None:
    return app_settings(environ).fides


def authorised(settings: FidesSettings, headers: Mapping[str, str]) -> bool:
    given = headers.get("authorization", "")
    expected = f"Bearer {settings.token.get_secret_value()}"
    return hmac.compare_digest(given.encode(), expected.encode())


def request_id_of(privacy_request_id: str, action: str) -> str:
    return f"fides-{privacy_request_id}-{action}"


def _parse(settings: FidesSettings, body: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(request v1, record)`` of the connector's call; ValueError says what is wrong with it."""
    document = json_object(body)
    privacy_request_id, action = document.get("privacy_request_id"), document.get("action")
    if not isinstance(privacy_request_id, str) or not PRIVACY_REQUEST_ID.fullmatch(privacy_request_id):
        raise ValueError("privacy_request_id: missing, or not a Fides privacy request id")
    if action not in ACTIONS:
        raise ValueError(f"action: one of {sorted(ACTIONS)}")
    identities = document.get("identity")
    if not isinstance(identities, dict):
        raise ValueError("identity: an object of the person's identities is required")
    found = identity.identifiers_at(identities, IDENTITIES)
    record: dict[str, Any] = {"privacy_request_id": privacy_request_id, "action": action}
    reply_to, token = document.get("reply_to"), document.get("reply_to_token")
    if reply_to is not None or token is not None:  # the callback strategy
        if not isinstance(reply_to, str) or not REPLY_TO.fullmatch(reply_to):
            raise ValueError("reply_to: not a Fides callback path")
        if not isinstance(token, str) or not REPLY_TO_TOKEN.fullmatch(token):
            raise ValueError("reply_to_token: missing, or not a Fides reply-to token")
        if settings.server is None:
            raise ValueError("the callback strategy needs CVDSR_FIDES__URL (the Fides server's address)")
        record |= {"reply_to": reply_to, records.CREDENTIALS: {"reply_to_token": token}}
    request_id = request_id_of(privacy_request_id, action)
    request = identity.subject_request(
        settings,
        PLATFORM,
        request_id=request_id,
        kind=ACTIONS[action],
        identifiers=found,
        ticket={"id": privacy_request_id},
        files=settings.files,
        package=settings.files,
    )
    return request, record


async def receive(headers: Mapping[str, str], body: bytes, client: DurableClient) -> Answer:
    """200 started (or started before: the same request), 400 a call cvdsr cannot act on or a request
    intake rejected (Fides marks the task failed), 401 not the configured connection, 404 the connector
    is not configured, 503 storage did not answer (Fides' client retries)."""
    settings = configured()
    if settings is None:
        return Answer(404, {"error": "the Fides connector is not configured"})
    if not authorised(settings, {name.lower(): value for name, value in headers.items()}):
        logger.warning("fides call refused: the bearer token does not match")
        return Answer(401, {"error": "Authorization: Bearer <the connection's api_key> does not match"})
    if len(body) > MAX_BODY_BYTES:
        return Answer(400, {"error": f"the body is larger than {MAX_BODY_BYTES} bytes"})
    try:
        request, record = _parse(settings, body)
    except (SettingsError, ValueError) as error:
        return Answer(400, {"error": str(error)})
    request_id = str(request["request_id"])
    try:
        async with blob_service() as service:
            # Saved before the start, so that even a request that ends at once finds how to answer;
            # put back as it was when intake rejects the call (another request may hold the id).
            previous = await records.load(service, PLATFORM, request_id)
            if records.CREDENTIALS in record:  # polling keeps nothing: Fides reads the result route
                await records.save(service, PLATFORM, request_id, record)
            result = await intake.submit(json.dumps(request).encode(), client, channel=PLATFORM)
            if result.outcome == "rejected" and records.CREDENTIALS in record:
                await records.put_back(service, PLATFORM, request_id, previous)
    except Exception as error:  # storage or the extension: nothing was started, Fides may call again
        logger.warning("fides call not accepted: %s", type(error).__name__)
        return Answer(503, {"error": "intake unavailable, retry"}, {"Retry-After": "5"})
    return Answer(400 if result.outcome == "rejected" else 200, result.to_json())


async def callback_body(
    service: BlobServiceClient, record: Mapping[str, Any], request: Mapping[str, Any], outcome: Mapping[str, Any]
) -> dict[str, Any]:
    """What Fides' callback takes: the access rows, or the number of images erased (and verified gone).
    NotSent when there is nothing true to send (Fides' callback cannot say "failed")."""
    status = outcome.get("status")
    if status != "succeeded":
        raise NotSent(PLATFORM, "callback", f"the request ended {status}; Fides' callback has no failure answer")
    if request.get("dry_run"):
        raise NotSent(PLATFORM, "callback", "a dry run changes nothing; Fides would read it as done")
    if record["action"] == "erasure":
        return {"rows_masked": int((outcome.get("counts") or {}).get("images", 0))}
    rows = await exported.rows(ResultStore(results_container(service)), str(request["request_id"]), MAX_RESULT_ITEMS)
    if rows is None:
        raise NotSent(PLATFORM, "callback", f"more than {MAX_RESULT_ITEMS} images (read the package)")
    return {"access_results": rows}


async def report(request: Mapping[str, Any], outcome: Mapping[str, Any]) -> str | None:
    """Post the outcome to Fides when its connector used the callback strategy for this request."""
    settings = configured()
    if settings is None or settings.server is None:
        return None

    async def sending(service: BlobServiceClient, record: dict[str, Any]) -> None:
        if records.CREDENTIALS not in record:  # answered before (and the token dropped)
            raise NotSent(PLATFORM, "callback", "no reply-to token: Fides sends a new one when it runs the task again")
        body = await callback_body(service, record, request, outcome)
        headers = {"authorization": f"Bearer {record[records.CREDENTIALS]['reply_to_token']}"}
        # Fides answers 400 once the task no longer waits for this callback (it ended, or was run
        # again with a new token): final, like another platform's 409.
        async with PlatformClient(PLATFORM, str(settings.server), headers, not_modifiable=NOT_WAITING) as client:
            await client.send("POST", str(record["reply_to"]), "callback", json=body)

    return await records.report(PLATFORM, request, sending)
