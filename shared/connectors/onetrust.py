"""OneTrust Privacy Rights Automation (``../shared/specs/ticketing-platforms.md`` §2, docs/connectors.md).

Inbound, ``POST /api/connectors/onetrust``: a step of a OneTrust integration workflow (on "Data Subject
Request System Subtask Created") posts the request's reference, the subtask id, the person's email and
the request types, authenticated by the shared secret the workflow's credential sends as ``Authorization:
Bearer <secret>`` (compared in constant time). OneTrust fixes no payload, so the field names are settings.
The tenant's request type names map to an export or an erase; a type that maps to neither is answered
on the subtask at once. The request id is ``ot-<requestQueueRefId>-<subtask id>``.

Outbound, through the DSAR API with an OAuth 2 client-credentials token (kept until it expires, fetched
again once on a 401): a CSV of the person's images (access) or the erasure certificate (erase) uploaded
to the documents API, then ``PUT …/subtasks/{id}/complete`` with a comment and the attachment; a failed
or partial request ``PUT …/subtasks/{id}/status`` ``FAILED`` with the reason. 429s are retried with
their ``Retry-After`` (OneTrust sends it with its ``ot-*`` rate-limit headers).
"""

from __future__ import annotations

import csv
import hmac
import io
import json
import logging
import re
import time
import uuid
from collections.abc import Mapping
from typing import Any

from azure.storage.blob.aio import BlobServiceClient

from shared import intake
from shared.connections import blob_service, results_container
from shared.http_api import Answer
from shared.instances import DurableClient
from shared.results import layout
from shared.results.store import ResultStore
from shared.settings import OneTrustSettings, SettingsError, app_settings

from . import exported, identity, records
from .inbound import json_object
from .outbound import PlatformClient, PlatformError

logger = logging.getLogger(__name__)

PLATFORM = "onetrust"
MAX_BODY_BYTES = 64 * 1024
TOKEN_PATH = "/api/access/v1/oauth/token"  # noqa: S105 - a path
ATTACHMENTS_PATH = "/api/document/v2/attachments"
DSAR_ATTACHMENT = "30"  # the documents API's Type of a DSAR attachment
_REF_ID = re.compile(r"^[A-Za-z0-9]{10}$")

_tokens: dict[tuple[str, str], tuple[str, float]] = {}


def configured(environ: Mapping[str, str] | None = None) -> OneTrustSettings | None:
    return app_settings(environ).onetrust


def _names(value: str) -> set[str]:
    return {name.strip().casefold() for name in value.split(",") if name.strip()}


def request_kind(types: Any, settings: OneTrustSettings) -> str | None:
    """``export``, ``erase`` or None (no type applies); ``ValueError`` when the types ask for both."""
    given = {str(t).strip().casefold() for t in (types if isinstance(types, list) else [types]) if t}
    kinds = {
        kind
        for kind, names in (("export", settings.export_types), ("erase", settings.erase_types))
        if given & _names(names)
    }
    if len(kinds) > 1:
        raise ValueError("the request types ask for both an export and an erase; send them as two subtasks")
    return kinds.pop() if kinds else None


# -- the API --------------------------------------------------------------------------------------------


async def token(settings: OneTrustSettings, *, fresh: bool = False) -> str:
    """An access token from the client credentials, kept until a minute before it expires."""
    key = (settings.api, settings.client_id)
    cached = _tokens.get(key)
    if cached and not fresh and cached[1] > time.monotonic():
        return cached[0]
    form = {
        "grant_type": "client_credentials",
        "client_id": settings.client_id,
        "client_secret": settings.client_secret.get_secret_value(),
    }
    async with PlatformClient(PLATFORM, settings.api, {}) as client:
        response = await client.send("POST", TOKEN_PATH, "token", data=form)
    try:
        document = response.json()
        access_token = str(document["access_token"])
        lifetime = float(document.get("expires_in") or 3600)
    except (ValueError, KeyError, TypeError):
        raise PlatformError(PLATFORM, "token", "the answer holds no access_token") from None
    _tokens[key] = (access_token, time.monotonic() + max(30.0, lifetime - 60))
    return access_token


async def call(settings: OneTrustSettings, method: str, path: str, operation: str, **arguments: Any) -> Any:
    """One API call with the token; a 401 (the token revoked or expired early) fetches a new one, once."""
    for fresh in (False, True):
        bearer = await token(settings, fresh=fresh)
        async with PlatformClient(PLATFORM, settings.api, {"authorization": f"Bearer {bearer}"}) as client:
            try:
                response = await client.send(method, path, operation, **arguments)
            except PlatformError as error:
                if error.status_code != 401 or fresh:
                    raise
                continue
        return response.json() if response.content else None
    raise AssertionError("unreachable")


# -- inbound ---------------------------------------------------------------------------------------------


async def receive(headers: Mapping[str, str], body: bytes, client: DurableClient) -> Answer:
    """200 accepted (or answered on the subtask), 400 a payload cvdsr cannot act on, 401 not the
    workflow's secret, 404 not configured, 503 storage did not answer."""
    settings = configured()
    if settings is None:
        return Answer(404, {"error": "the OneTrust connector is not configured"})
    given = {name.lower(): value for name, value in headers.items()}.get("authorization", "")
    expected = f"Bearer {settings.webhook_secret.get_secret_value()}"
    if not hmac.compare_digest(given.encode(), expected.encode()):
        logger.warning("onetrust webhook refused: the shared secret does not match")
        return Answer(401, {"error": "Authorization: not the workflow's shared secret"})
    if len(body) > MAX_BODY_BYTES:
        return Answer(400, {"error": f"the body is larger than {MAX_BODY_BYTES} bytes"})
    try:
        document = json_object(body)
        ref = identity.field(document, settings.ref_field)
        if not isinstance(ref, str) or not _REF_ID.fullmatch(ref):
            raise ValueError(f"{settings.ref_field}: not a request reference (10 letters or digits)")
        subtask = str(uuid.UUID(str(identity.field(document, settings.subtask_field))))
        kind = request_kind(identity.field(document, settings.types_field), settings)
    except ValueError as error:
        message = str(error) if "badly formed" not in str(error) else f"{settings.subtask_field}: not a UUID"
        return Answer(400, {"error": message})
    request_id = f"ot-{ref}-{subtask}"
    record = {"ref": ref, "subtask": subtask, "kind": kind}
    try:
        async with blob_service() as service:
            await records.save(service, PLATFORM, request_id, record)
            if kind is None:
                comment = "cvdsr: no action; the request types do not apply to Custom Vision training images"
                status = {"status": "COMPLETED", "comment": comment}
                answer = await records.answer(service, PLATFORM, request_id, lambda: _status(settings, subtask, status))
                return Answer(200, {"outcome": "not_applicable", "request_id": request_id, "report": answer})
            try:
                request = _request(document, request_id, kind, ref, settings)
            except (SettingsError, ValueError) as error:
                return Answer(400, {"error": str(error)})
            result = await intake.submit(json.dumps(request).encode(), client, channel=PLATFORM)
    except Exception as error:  # storage or the extension: nothing was started, the delivery may come again
        logger.warning("onetrust webhook not accepted: %s", type(error).__name__)
        return Answer(503, {"error": "intake unavailable, retry"}, {"Retry-After": "5"})
    return Answer(400 if result.outcome == "rejected" else 200, result.to_json())


def _request(
    document: Mapping[str, Any], request_id: str, kind: str, ref: str, settings: OneTrustSettings
) -> dict[str, Any]:
    found = identity.identifiers_at(document, settings.identifier_fields)
    if not found:
        raise ValueError(f"no identifier of the person at {settings.identifier_fields}")
    # An export's comment carries one link: to the package.
    return identity.subject_request(
        settings, PLATFORM, request_id=request_id, kind=kind, identifiers=found, ticket={"id": ref}
    )


# -- outbound --------------------------------------------------------------------------------------------


async def _status(settings: OneTrustSettings, subtask: str, body: Mapping[str, Any]) -> None:
    await call(settings, "PUT", f"/api/datasubject/v2/subtasks/{subtask}/status", "subtask status", json=dict(body))


async def images_csv(store: ResultStore, request_id: str) -> bytes:
    """The person's images as CSV (OneTrust's documents API lists csv among its file types; zip and
    json are unconfirmed): one row per image, its tags and metadata, never a file URL."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["image_id", "created", "width", "height", "tags", "regions", "metadata"])
    async for image in exported.records_of(store, request_id):
        tags = ";".join(str(tag.get("tagName", "")) for tag in image.get("tags") or [])
        writer.writerow(
            [
                image.get("id"),
                image.get("created"),
                image.get("width"),
                image.get("height"),
                tags,
                len(image.get("regions") or []),
                json.dumps(image.get("metadata") or {}, sort_keys=True),
            ]
        )
    return out.getvalue().encode()


async def _attachment(settings: OneTrustSettings, subtask: str, name: str, data: bytes) -> dict[str, str]:
    meta = {"FileName": name, "Type": int(DSAR_ATTACHMENT), "RefIds": [subtask], "Name": name, "IsInternal": True}
    uploaded = await call(
        settings,
        "POST",
        ATTACHMENTS_PATH,
        "attachment",
        data={"attachment": json.dumps(meta)},
        files={"file": (name, data, "application/octet-stream")},
    )
    if not isinstance(uploaded, dict) or not uploaded.get("Id"):
        raise PlatformError(PLATFORM, "attachment", "the answer holds no Id")
    return {"fileId": str(uploaded["Id"]), "fileName": name}


def comment(request: Mapping[str, Any], outcome: Mapping[str, Any], result: Mapping[str, Any]) -> str:
    counts = outcome.get("counts") or {}
    if request.get("type") == "erase":
        return (
            f"cvdsr erase {request.get('request_id')} succeeded and was verified by reading back: "
            f"{counts.get('images', 0)} image(s) deleted; the erasure certificate is attached."
        )
    images = counts.get("image_files", 0)
    if not images:
        return f"cvdsr export {request.get('request_id')}: no images of this person were found."
    link = result.get("package_url")
    where = f" The package (valid until {result.get('expires_at')}): {link}" if link else ""
    return f"cvdsr export {request.get('request_id')} succeeded: {images} image(s); the list is attached.{where}"


async def report(request: Mapping[str, Any], outcome: Mapping[str, Any], result: Mapping[str, Any]) -> str | None:
    """Complete (or fail) the subtask, if OneTrust's workflow sent this request."""
    settings = configured()
    if settings is None:  # not configured: nothing to look up
        return None
    request_id = str(request.get("request_id", ""))

    async def sending(service: BlobServiceClient, record: dict[str, Any]) -> None:
        subtask = str(record["subtask"])
        if outcome.get("status") != "succeeded" or request.get("dry_run"):
            reason = f"cvdsr {request.get('type')} {request_id} ended {outcome.get('status')}; see cvdsr"
            await _status(settings, subtask, {"status": "FAILED", "comment": reason})
            return
        store = ResultStore(results_container(service))
        attachments = []
        if settings.attach == "files":
            if request.get("type") == "erase":
                certificate = layout.erasure_certificate(request_id)
                name, data = "erasure-certificate.txt", await store.read_bytes(certificate)
            else:
                name, data = "images.csv", await images_csv(store, request_id)
            attachments.append(await _attachment(settings, subtask, name, data))
        body = {"comment": comment(request, outcome, result), "markAsComplete": True, "attachments": attachments}
        await call(settings, "PUT", f"/api/datasubject/v2/subtasks/{subtask}/complete", "complete", json=body)

    return await records.report(PLATFORM, request, sending)
