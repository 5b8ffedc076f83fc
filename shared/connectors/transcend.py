"""Transcend's "Server Webhook" integration (``../shared/specs/ticketing-platforms.md`` §1, docs/connectors.md).

Inbound, ``POST /api/connectors/transcend``: one webhook per identifier of the person. It is accepted
only with an ``x-sombra-token`` that verifies as ES384 (no other algorithm) with Sombra's public key,
for this organisation (``aud``), with ``scope`` ``coreIdentifier``, not older than the configured age
and never seen before (``jti``, or the whole token when it has none). The body is not signed: the
person is found by the token's signed ``value`` unless settings choose the profile identifier, and a
body whose ``coreIdentifier`` differs from the token's is refused. ACCESS becomes an export of the
person's images, ERASURE an erase of them, through the same intake as every channel;
PLACE_ON_LEGAL_HOLD and REMOVE_FROM_LEGAL_HOLD place and remove the person's hold, which an ERASURE
waits for (``shared.connectors.holds``); other types are answered ``SKIPPED`` with the reason. The
request id comes from Transcend's request id, the type and a keyed fingerprint of the profile, so a
redelivered webhook is the same request.

Outbound, when the outcome is delivered: results through Sombra with the webhook's
``x-transcend-nonce`` (kept in the state container, ``shared.connectors.records``): image files to
``POST /v1/datapoint``, the image records to ``POST /v1/data-silo`` with ``status: READY`` (or
``/v1/datapoint-chunked`` when they are too large for one body); ``PUT /v1/data-silo`` with
``RESOLVED`` after a verified erasure; ``profileStatus: ERROR`` with a message when the work failed.
A 409 (the request is no longer modifiable) is recorded, not retried.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from azure.storage.blob.aio import BlobServiceClient

from shared import fingerprints, intake
from shared.connections import blob_service, results_container
from shared.dsr_request import is_request_id
from shared.http_api import Answer
from shared.instances import DurableClient
from shared.results import layout
from shared.results.store import ResultStore
from shared.settings import SettingsError, TranscendSettings, app_settings

from . import exported, holds, identity, records
from .inbound import json_object
from .outbound import NotModifiable, PlatformClient, PlatformError

logger = logging.getLogger(__name__)

PLATFORM = "transcend"
TOKEN_HEADER = "x-sombra-token"  # noqa: S105 - a header name
NONCE_HEADER = "x-transcend-nonce"
KEY_PATH = "/public-keys/sombra-general-signing-key"
KEY_LIFETIME_SECONDS = 3600.0  # Sombra's key route is cacheable for an hour
MAX_BODY_BYTES = 64 * 1024
MAX_UPLOAD_BYTES = 50 * 1000 * 1000  # Sombra's limit for a JSON or raw body
RECORDS_IN_ONE_BODY = 8 * 1000 * 1000  # above this, the records go page by page (datapoint-chunked)
CHUNK_RECORDS = 500
ACCESS, ERASURE = "ACCESS", "ERASURE"
LEGAL_HOLD_TYPES = ("PLACE_ON_LEGAL_HOLD", "REMOVE_FROM_LEGAL_HOLD")
KNOWN_TYPES = (
    *(ACCESS, ERASURE, "RECTIFICATION", "RESTRICTION", "BUSINESS_PURPOSE", *LEGAL_HOLD_TYPES),
    *(f"{kind}_OPT_OUT" for kind in ("AUTOMATED_DECISION_MAKING", "USE_OF_SENSITIVE_INFORMATION", "CONTACT")),
    *(f"{kind}_OPT_OUT" for kind in ("SALE", "TRACKING", "CUSTOM")),
    *(f"{kind}_OPT_IN" for kind in ("AUTOMATED_DECISION_MAKING", "USE_OF_SENSITIVE_INFORMATION", "SALE")),
    *(f"{kind}_OPT_IN" for kind in ("TRACKING", "CONTACT", "CUSTOM")),
)


class Refused(Exception):
    """The webhook is not Transcend's (or not for this organisation): 401, nothing started. The message
    is the rule that failed, never the token or a claim's value."""


@dataclass(frozen=True)
class Webhook:
    """A verified DSR-job webhook: what cvdsr needs of it."""

    type: str
    transcend_request_id: str
    identifier: str
    identifier_kind: str | None
    profile: str  # the profile's type and identifier (clear: only fingerprinted or sent back to Sombra)
    link: str | None
    created_at: str | None
    token_id: str


def configured(environ: Mapping[str, str] | None = None) -> TranscendSettings | None:
    return app_settings(environ).transcend


# -- the signing key ------------------------------------------------------------------------------------

_keys: dict[str, tuple[str, float]] = {}


def _sombra_headers(settings: TranscendSettings) -> dict[str, str]:
    headers = {"authorization": f"Bearer {settings.api_key.get_secret_value()}"}
    if settings.sombra_api_key is not None:
        headers["x-sombra-authorization"] = f"Bearer {settings.sombra_api_key.get_secret_value()}"
    return headers


def sombra(settings: TranscendSettings) -> PlatformClient:
    return PlatformClient(PLATFORM, settings.sombra, _sombra_headers(settings))


async def signing_key(settings: TranscendSettings, *, refresh: bool = False) -> str:
    """Sombra's public key (PEM): the configured one, or fetched and kept for an hour. ``refresh``
    fetches again (a key rotated before the hour was up), at most once a minute."""
    if settings.public_key:
        return settings.public_key
    cached = _keys.get(settings.sombra)
    now = time.monotonic()
    if cached and (now - cached[1] < KEY_LIFETIME_SECONDS) and not (refresh and now - cached[1] > 60):
        return cached[0]
    async with sombra(settings) as client:
        response = await client.send("GET", KEY_PATH, "public key")
    _keys[settings.sombra] = (response.text, now)
    return response.text


async def verify_token(token: str, settings: TranscendSettings) -> dict[str, Any]:
    """The token's claims, once it verified: ES384 with Sombra's key, this audience, the core-identifier
    scope, a recent ``iat``."""
    try:
        algorithm = jwt.get_unverified_header(token).get("alg")
    except jwt.InvalidTokenError:
        raise Refused("x-sombra-token is not a JWT") from None
    if algorithm != "ES384":
        raise Refused("x-sombra-token must be signed with ES384")
    options: jwt.types.Options = {"require": ["iat", "aud", "scope", "value"]}
    for refresh in (False, True):
        key = await signing_key(settings, refresh=refresh)
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key, algorithms=["ES384"], audience=settings.audience, options=options, leeway=60
            )
            break
        except jwt.InvalidSignatureError:
            if refresh or settings.public_key:
                raise Refused("x-sombra-token: the signature does not verify") from None
        except jwt.InvalidAudienceError:
            raise Refused("x-sombra-token: the audience is not this organization") from None
        except jwt.InvalidTokenError as error:
            raise Refused(f"x-sombra-token: {type(error).__name__}") from None
    if claims.get("scope") != "coreIdentifier":
        raise Refused("x-sombra-token: the scope is not coreIdentifier")
    iat = claims.get("iat")
    if not isinstance(iat, int | float) or time.time() - iat > settings.max_token_age_seconds:
        raise Refused("x-sombra-token: too old")
    if not isinstance(claims.get("value"), str) or not claims["value"]:
        raise Refused("x-sombra-token: no identifier")
    return claims


def parse_webhook(token: str, claims: Mapping[str, Any], body: bytes, settings: TranscendSettings) -> Webhook:
    """The webhook's fields; ``ValueError`` (a 400) for a body that is not one."""
    if len(body) > MAX_BODY_BYTES:
        raise ValueError(f"the body is larger than {MAX_BODY_BYTES} bytes")
    document = json_object(body)
    kind = document.get("type")
    if kind not in KNOWN_TYPES:
        raise ValueError("type: not a Transcend request type")
    core = document.get("coreIdentifier")
    if not isinstance(core, dict) or core.get("value") != claims["value"]:
        raise Refused("coreIdentifier.value differs from the signed token's")
    extras = _object(document, "extras")
    request = _object(extras, "request")
    request_id = request.get("id")
    if not isinstance(request_id, str) or not is_request_id(request_id) or len(request_id) > 64:
        raise ValueError("extras.request.id: missing, or not a usable id (at most 64 characters, no / \\ # ?)")
    profile = _object(extras, "profile")
    profile_value, profile_kind = _text(profile, "identifier"), _text(profile, "type")
    if settings.identifier == "profile":
        if not profile_value:
            raise ValueError("extras.profile.identifier: missing, and settings match the profile identifier")
        identifier, identifier_kind = profile_value, profile_kind
    else:
        identifier, identifier_kind = str(claims["value"]), None
    link, created = _text(request, "link"), _text(request, "createdAt")
    jti = claims.get("jti")
    return Webhook(
        type=kind,
        transcend_request_id=request_id,
        identifier=identifier,
        identifier_kind=identifier_kind,
        profile=f"{profile_kind or ''}:{profile_value or claims['value']}",
        link=link if link and link.startswith("https://") and len(link) <= 2048 else None,
        created_at=created,
        token_id=f"jti:{jti}"
        if isinstance(jti, str) and jti
        else "token:" + hashlib.sha256(token.encode()).hexdigest(),
    )


def _object(document: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = document.get(key)
    return value if isinstance(value, dict) else {}


def _text(document: Mapping[str, Any], key: str) -> str | None:
    value = document.get(key)
    return value if isinstance(value, str) and value else None


def cvdsr_request(webhook: Webhook, request_id: str, settings: TranscendSettings) -> dict[str, Any]:
    """The request v1 this webhook asks for."""
    request = identity.subject_request(
        settings,
        PLATFORM,
        request_id=request_id,
        kind="export" if webhook.type == ACCESS else "erase",
        identifiers=[(webhook.identifier, webhook.identifier_kind)],
        ticket={"id": webhook.transcend_request_id, **({"url": webhook.link} if webhook.link else {})},
        files=settings.files != "none",
        package=settings.files == "package",
    )
    if webhook.created_at:
        request["received_at"] = webhook.created_at
    return request


async def receive(headers: Mapping[str, str], body: bytes, client: DurableClient) -> Answer:
    """The webhook route's answer: 200 accepted (results follow), 400 not a webhook cvdsr can act on,
    401 not Transcend's, 404 the connector is not configured, 503 storage did not answer (send again)."""
    settings = configured()
    if settings is None:
        return Answer(404, {"error": "the Transcend connector is not configured"})
    lowered = {name.lower(): value for name, value in headers.items()}
    token = lowered.get(TOKEN_HEADER, "")
    nonce = lowered.get(NONCE_HEADER, "")
    try:
        if not token:
            raise Refused(f"{TOKEN_HEADER} is missing")
        claims = await verify_token(token, settings)
        webhook = parse_webhook(token, claims, body, settings)
    except Refused as refusal:
        logger.warning("transcend webhook refused: %s", refusal)
        return Answer(401, {"error": str(refusal)})
    except ValueError as error:
        return Answer(400, {"error": str(error)})
    except PlatformError as error:  # Sombra's key route did not answer
        logger.warning("transcend webhook: %s", error)
        return Answer(503, {"error": "the signing key is unavailable, retry"}, {"Retry-After": "5"})
    if not nonce or len(nonce) > 4096:
        return Answer(400, {"error": f"{NONCE_HEADER} is missing"})
    try:
        async with blob_service() as service:
            return await _accept(service, webhook, nonce, settings, client)
    except Exception as error:  # storage or the extension: nothing was started, the delivery may come again
        logger.warning("transcend webhook not accepted: %s", type(error).__name__)
        return Answer(503, {"error": "intake unavailable, retry"}, {"Retry-After": "5"})


async def _accept(
    service: BlobServiceClient, webhook: Webhook, nonce: str, settings: TranscendSettings, client: DurableClient
) -> Answer:
    if not await records.first_use(service, PLATFORM, webhook.token_id):
        logger.warning("transcend webhook refused: a replayed token")
        return Answer(401, {"error": "x-sombra-token: already used"})
    try:
        fingerprinter = await fingerprints.load(service)
        profile = fingerprinter.of(webhook.profile).removeprefix(fingerprints.PREFIX)[:16]
        request_id = f"tr-{webhook.type.lower()}-{webhook.transcend_request_id}-{profile}"
        record = {"nonce": nonce, "type": webhook.type}
        if settings.send_profile_id:
            record["profile_id"] = webhook.profile.split(":", 1)[1]
        if webhook.type in LEGAL_HOLD_TYPES:
            await records.save(service, PLATFORM, request_id, record)
            return await _legal_hold(service, webhook, request_id, record, settings, client)
        if webhook.type not in (ACCESS, ERASURE):
            await records.save(service, PLATFORM, request_id, record)
            reason = _not_applicable(webhook.type)
            answer = await _send(service, request_id, record, settings, {"status": "SKIPPED", "message": reason})
            return Answer(200, {"outcome": "skipped", "request_id": request_id, "reason": reason, "report": answer})
        try:
            request = cvdsr_request(webhook, request_id, settings)
        except (SettingsError, ValueError) as error:
            return Answer(400, {"error": str(error)})
        await records.save(service, PLATFORM, request_id, record)
        if webhook.type == ERASURE:
            hold_key = holds.key(fingerprinter, request["scope"]["images"])
            hold = await holds.held(service, hold_key)
            if hold is not None:
                await holds.wait(service, hold_key, request)
                message = f"cvdsr: on legal hold since {hold['since']}; the erasure starts when the hold is removed"
                await _tell(settings, record, {"status": "WAITING", "message": message})
                return Answer(200, {"outcome": "waiting", "request_id": request_id, "reason": message})
        result = await intake.submit(json.dumps(request).encode(), client, channel=PLATFORM)
    except BaseException:
        await records.forget_use(service, PLATFORM, webhook.token_id)
        raise
    if result.outcome == "rejected":
        return Answer(400, result.to_json())
    return Answer(200, result.to_json())


async def _legal_hold(
    service: BlobServiceClient,
    webhook: Webhook,
    request_id: str,
    record: Mapping[str, Any],
    settings: TranscendSettings,
    client: DurableClient,
) -> Answer:
    """Place or remove the person's hold; removing one starts the erasures that waited for it."""
    try:
        selector = identity.subject_selector(settings, PLATFORM, [(webhook.identifier, webhook.identifier_kind)])
    except (SettingsError, ValueError) as error:
        return Answer(400, {"error": str(error)})
    hold_key = holds.key(await fingerprints.load(service), selector)
    started: list[str] = []
    if webhook.type == "PLACE_ON_LEGAL_HOLD":
        await holds.place(service, hold_key, {"platform": PLATFORM, "ticket": webhook.transcend_request_id})
    else:
        await holds.lift(service, hold_key)
        for blob_name, waiting in await holds.waiting(service, hold_key):
            result = await intake.submit(json.dumps(waiting).encode(), client, channel=PLATFORM)
            await holds.started(service, blob_name)
            started.append(result.request_id)
    answer = await _send(service, request_id, record, settings, {"status": "RESOLVED"})
    outcome = "hold placed" if webhook.type == "PLACE_ON_LEGAL_HOLD" else "hold removed"
    return Answer(200, {"outcome": outcome, "request_id": request_id, "started": started, "report": answer})


async def _tell(settings: TranscendSettings, record: Mapping[str, Any], body: dict[str, Any]) -> None:
    """A status on the way (WAITING): not the answer, so not recorded as one; a failure only logged."""
    try:
        await _put_status(settings, record, body)
    except PlatformError as error:
        logger.warning("transcend: a status on the way was not taken: %s", error)


async def _put_status(settings: TranscendSettings, record: Mapping[str, Any], body: dict[str, Any]) -> None:
    async with sombra(settings) as client:
        await client.send("PUT", "/v1/data-silo", "status", json=_profiles(record) | body, headers=_nonce(record))


def _not_applicable(kind: str) -> str:
    return f"{kind} does not apply to Custom Vision training images (cvdsr answers access and erasure)"


# -- reporting ------------------------------------------------------------------------------------------


async def report(request: Mapping[str, Any], outcome: Mapping[str, Any]) -> str | None:
    """Report the outcome to Sombra, if this request came through the Transcend webhook; returns what
    happened (``records.answer``), or None for a request Transcend did not send."""
    settings = configured()
    if settings is None:  # not configured: nothing to look up
        return None

    async def sending(service: BlobServiceClient, record: dict[str, Any]) -> None:
        store = ResultStore(results_container(service))
        async with sombra(settings) as client:
            await _report(client, store, str(request["request_id"]), record, settings, request, outcome)

    return await records.report(PLATFORM, request, sending)


async def _send(
    service: BlobServiceClient,
    request_id: str,
    record: Mapping[str, Any],
    settings: TranscendSettings,
    body: dict[str, Any],
) -> str:
    """One ``PUT /v1/data-silo`` (a status with no data), recorded like a report."""
    return await records.answer(service, PLATFORM, request_id, lambda: _put_status(settings, record, body))


def _nonce(record: Mapping[str, Any]) -> dict[str, str]:
    return {NONCE_HEADER: str(record["nonce"])}


def _profiles(record: Mapping[str, Any], data: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``profiles`` for Sombra versions that still need the profile id; newer ones take it from the nonce."""
    if "profile_id" not in record:
        return {"profiles": [{"profileData": dict(data)}]} if data else {}
    profile: dict[str, Any] = {"profileId": record["profile_id"]}
    if data:
        profile["profileData"] = dict(data)
    return {"profiles": [profile]}


async def _report(
    client: PlatformClient,
    store: ResultStore,
    request_id: str,
    record: Mapping[str, Any],
    settings: TranscendSettings,
    request: Mapping[str, Any],
    outcome: Mapping[str, Any],
) -> None:
    headers = _nonce(record)
    status = outcome.get("status")
    if status != "succeeded" or request.get("dry_run"):  # a plan deletes nothing: never RESOLVED
        what = "export" if request.get("type") == "export" else "erasure"
        message = f"cvdsr: the {what} ended {status}; see request {request_id} in cvdsr"
        await client.send(
            "PUT",
            "/v1/data-silo",
            "error",
            json=_profiles(record) | {"profileStatus": "ERROR", "message": message},
            headers=headers,
        )
        return
    if request.get("type") == "erase":
        # Succeeded means verified: every erased image read back as gone (shared.erase.verify).
        await client.send(
            "PUT", "/v1/data-silo", "resolve", json=_profiles(record) | {"status": "RESOLVED"}, headers=headers
        )
        return
    listing = [stored async for stored in exported.files(store, request_id)]
    if settings.files == "files":
        for stored in (s for s in listing if "/images/" in s.path):
            await _upload_file(client, store, stored.path, settings.files_datapoint, headers)
    elif settings.files == "package" and await store.exists(layout.export_zip(request_id)):
        await _upload_file(client, store, layout.export_zip(request_id), settings.files_datapoint, headers)
    await _upload_records(
        client, store, [s.path for s in listing if s.path.endswith("/images.jsonl")], record, settings, headers
    )


async def _upload_file(
    client: PlatformClient, store: ResultStore, path: str, datapoint: str, nonce: Mapping[str, str]
) -> None:
    """One file to a datapoint (a person's image, or their package: small, so read whole)."""
    data = await store.read_bytes(path)
    if len(data) > MAX_UPLOAD_BYTES:
        raise PlatformError(PLATFORM, "file", f"a file of {len(data)} bytes is over Sombra's limit")
    headers = {
        **nonce,
        "content-type": "application/octet-stream",
        "x-transcend-datapoint-name": datapoint,
        "x-transcend-remote-id": path.split("/data/", 1)[-1],
        # The records, sent last, complete the silo.
        "x-transcend-skip-status-update": "true",
    }
    await client.send("POST", "/v1/datapoint", "file", content=data, headers=headers)


async def _upload_records(
    client: PlatformClient,
    store: ResultStore,
    paths: list[str],
    record: Mapping[str, Any],
    settings: TranscendSettings,
    nonce: Mapping[str, str],
) -> None:
    """The image records as one datapoint, then READY. A person's images are few: one body; past
    ``RECORDS_IN_ONE_BODY``, pages through ``/v1/datapoint-chunked`` instead of holding them all."""
    records_: list[dict[str, Any]] = []
    size = 0
    chunked = False
    async for line in exported.records(store, paths):
        records_.append(line)
        size += len(json.dumps(line))
        if size > RECORDS_IN_ONE_BODY or (chunked and len(records_) >= CHUNK_RECORDS):
            chunked = True
            await _chunk(client, settings.records_datapoint, records_, nonce, last=False)
            records_, size = [], 0
    if chunked:
        await _chunk(client, settings.records_datapoint, records_, nonce, last=True)
        try:
            await client.send(
                "POST", "/v1/data-silo", "ready", json=_profiles(record) | {"status": "READY"}, headers=nonce
            )
        except NotModifiable:
            pass  # the last page completed the silo's only open datapoint: it is resolved already
        return
    data = {settings.records_datapoint: records_} if records_ else None
    await client.send(
        "POST", "/v1/data-silo", "records", json=_profiles(record, data) | {"status": "READY"}, headers=nonce
    )


async def _chunk(
    client: PlatformClient, datapoint: str, page: list[dict[str, Any]], nonce: Mapping[str, str], *, last: bool
) -> None:
    body = {"dataPointName": datapoint, "data": page, "isLastPage": last, "fileId": f"{datapoint}.json"}
    await client.send("POST", "/v1/datapoint-chunked", "records page", json=body, headers=nonce)
