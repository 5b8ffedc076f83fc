"""DataGrail's webhook integration (``../shared/specs/ticketing-platforms.md`` §3, docs/connectors.md).

Inbound, ``POST /api/connectors/datagrail``: DataGrail posts a notification once a request is verified
(Health Check, Access, Deletion, Opt-Out), signed in ``X-Webhook-Signature`` with HMAC-SHA256 over the
recipe in settings (default: ``"<X-Webhook-Timestamp>:<raw body>"``, base64, an optional ``v1=``
prefix), compared in constant time; a timestamp more than ``max_skew_seconds`` (five minutes) away is
refused. Access becomes an export of the person's images, Deletion an erase of them; the request id is
``dg-<webhook_request_id>``, so a redelivery is the same request.

Outbound: cvdsr's result is POSTed to the notification's callback URL (its host must be allowed:
``*.datagrail.io`` by default). DataGrail's callback body is unconfirmed; cvdsr sends a small, stable
JSON document (``callback_body``) with the result link of an export.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from azure.storage.blob.aio import BlobServiceClient

from shared import intake
from shared.connections import blob_service
from shared.events.callbacks import CallbackPolicy, host_list
from shared.http_api import Answer
from shared.instances import DurableClient
from shared.settings import DataGrailSettings, SettingsError, app_settings

from . import identity, records
from .inbound import json_object
from .outbound import PlatformClient

logger = logging.getLogger(__name__)

PLATFORM = "datagrail"
SIGNATURE_HEADER = "x-webhook-signature"
TIMESTAMP_HEADER = "x-webhook-timestamp"
MAX_BODY_BYTES = 64 * 1024
EXPORT, ERASE, HEALTH = "access", "deletion", "health_check"


class Refused(Exception):
    """Not DataGrail's notification (signature, timestamp): 401, nothing started."""


def configured(environ: Mapping[str, str] | None = None) -> DataGrailSettings | None:
    return app_settings(environ).datagrail


def signature(settings: DataGrailSettings, timestamp: str, body: bytes) -> str:
    """The expected ``X-Webhook-Signature`` (without ``v1=``) for this timestamp and body."""
    signed = {
        "timestamp:body": timestamp.encode() + b":" + body,
        "timestamp.body": timestamp.encode() + b"." + body,
        "body": body,
    }[settings.signed]
    digest = hmac.new(settings.secret.get_secret_value().encode(), signed, hashlib.sha256).digest()
    return base64.b64encode(digest).decode() if settings.signature_encoding == "base64" else digest.hex()


def verify(settings: DataGrailSettings, headers: Mapping[str, str], body: bytes, now: float | None = None) -> None:
    timestamp = headers.get(TIMESTAMP_HEADER, "")
    given = headers.get(SIGNATURE_HEADER, "").strip().removeprefix("v1=")
    if not timestamp or not given:
        raise Refused(f"{SIGNATURE_HEADER} and {TIMESTAMP_HEADER} are required")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise Refused(f"{TIMESTAMP_HEADER} is not Unix seconds") from None
    if abs((now if now is not None else time.time()) - sent_at) > settings.max_skew_seconds:
        raise Refused(f"{TIMESTAMP_HEADER} is more than {settings.max_skew_seconds} seconds away")
    if not hmac.compare_digest(given.encode(), signature(settings, timestamp, body).encode()):
        raise Refused(f"{SIGNATURE_HEADER} does not verify")


def _kind(value: Any) -> str:
    """``"Health Check"``, ``health-check`` and ``HEALTH_CHECK`` are one type."""
    return str(value or "").strip().lower().replace(" ", "_").replace("-", "_")


def callback_policy(settings: DataGrailSettings) -> CallbackPolicy:
    return CallbackPolicy(
        hosts=host_list(settings.callback_hosts), dev_hosts=host_list(app_settings().callback_dev_hosts)
    )


async def receive(headers: Mapping[str, str], body: bytes, client: DurableClient) -> Answer:
    """200 accepted (or a health check answered), 400 a notification cvdsr cannot act on, 401 not signed
    by DataGrail, 404 the connector is not configured, 503 storage did not answer (send again)."""
    settings = configured()
    if settings is None:
        return Answer(404, {"error": "the DataGrail connector is not configured"})
    lowered = {name.lower(): value for name, value in headers.items()}
    if len(body) > MAX_BODY_BYTES:
        return Answer(400, {"error": f"the body is larger than {MAX_BODY_BYTES} bytes"})
    try:
        verify(settings, lowered, body)
    except Refused as refusal:
        logger.warning("datagrail notification refused: %s", refusal)
        return Answer(401, {"error": str(refusal)})
    try:
        document = json_object(body)
    except ValueError as error:
        return Answer(400, {"error": str(error)})
    kind = _kind(identity.field(document, settings.type_field))
    if kind == HEALTH:
        return Answer(200, {"status": "ok"})
    try:
        webhook_id = str(uuid.UUID(str(document.get("webhook_request_id"))))
    except ValueError:
        return Answer(400, {"error": "webhook_request_id: missing or not a UUID"})
    callback = identity.field(document, settings.callback_field)
    refused = callback_policy(settings).check_url(callback) if isinstance(callback, str) else "missing"
    if refused:
        return Answer(400, {"error": f"{settings.callback_field}: {refused}"})
    request_id = f"dg-{webhook_id}"
    record = {"callback_url": callback, "webhook_request_id": webhook_id, "type": kind}
    try:
        async with blob_service() as service:
            await records.save(service, PLATFORM, request_id, record)
            if kind not in (EXPORT, ERASE):
                reason = f"{kind or 'this type'} does not apply to Custom Vision training images"
                body_ = {"webhook_request_id": webhook_id, "request_id": request_id, "status": "not_applicable"}
                answer = await records.answer(
                    service, PLATFORM, request_id, lambda: _post(settings, record, body_ | {"reason": reason})
                )
                return Answer(200, {"outcome": "not_applicable", "request_id": request_id, "report": answer})
            try:
                request = _request(document, request_id, kind, settings)
            except (SettingsError, ValueError) as error:
                return Answer(400, {"error": str(error)})
            result = await intake.submit(json.dumps(request).encode(), client, channel=PLATFORM)
    except Exception as error:  # storage or the extension: nothing was started, the delivery may come again
        logger.warning("datagrail notification not accepted: %s", type(error).__name__)
        return Answer(503, {"error": "intake unavailable, retry"}, {"Retry-After": "5"})
    return Answer(400 if result.outcome == "rejected" else 200, result.to_json())


def _request(document: Mapping[str, Any], request_id: str, kind: str, settings: DataGrailSettings) -> dict[str, Any]:
    found = identity.identifiers_at(document, settings.identifier_fields)
    if not found:
        raise ValueError(f"no identifier of the person at {settings.identifier_fields}")
    # An export's callback carries one link: to the package.
    return identity.subject_request(
        settings,
        PLATFORM,
        request_id=request_id,
        kind="export" if kind == EXPORT else "erase",
        identifiers=found,
        ticket={"id": request_id.removeprefix("dg-")},
    )


def callback_body(
    record: Mapping[str, Any], request_id: str, outcome: Mapping[str, Any], result: Mapping[str, Any]
) -> dict[str, Any]:
    """What cvdsr tells DataGrail. ``completed`` only for an export that succeeded or an erase that was
    verified (cvdsr's ``succeeded``); anything else is ``failed``, with the number of errors."""
    status = outcome.get("status")
    body: dict[str, Any] = {
        "webhook_request_id": record["webhook_request_id"],
        "request_id": request_id,
        "status": "completed" if status == "succeeded" else "failed",
        "cvdsr_status": status,
        "counts": dict(outcome.get("counts") or {}),
        "errors": len(outcome.get("errors") or []),
    }
    if record.get("type") == EXPORT and status == "succeeded":
        counts = outcome.get("counts") or {}
        body["no_data"] = not (counts.get("images") or counts.get("iteration_images"))
        body["result_url"] = result.get("package_url")
        body["expires_at"] = result.get("expires_at")
    return body


async def _post(settings: DataGrailSettings, record: Mapping[str, Any], body: Mapping[str, Any]) -> None:
    parts = urlsplit(str(record["callback_url"]))
    path = parts.path or "/"
    headers = (
        {"authorization": f"Bearer {settings.callback_token.get_secret_value()}"} if settings.callback_token else {}
    )
    async with PlatformClient(PLATFORM, f"{parts.scheme}://{parts.netloc}", headers) as client:
        await client.send("POST", f"{path}?{parts.query}" if parts.query else path, "callback", json=dict(body))


async def report(request: Mapping[str, Any], outcome: Mapping[str, Any], result: Mapping[str, Any]) -> str | None:
    """POST the outcome to the notification's callback URL, if DataGrail sent this request."""
    settings = configured()
    if settings is None:  # not configured: nothing to look up
        return None

    async def sending(_service: BlobServiceClient, record: dict[str, Any]) -> None:
        await _post(settings, record, callback_body(record, str(request["request_id"]), outcome, result))

    return await records.report(PLATFORM, request, sending)
