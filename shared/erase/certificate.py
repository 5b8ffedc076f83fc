"""``erasure-certificate.json``: what was deleted, when, and the read-back that proves it.

The mutations are taken from ``audit.jsonl`` (every DELETE the client made, with time, target ids,
status and apim-request-id), so the certificate reports what actually went over the wire. A SHA-256
over the canonical body lets anyone check the certificate was not altered after it was issued.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import ContentSettings

from shared.results import layout
from shared.results.store import ResultStore, StoredFile

NOT_DELETABLE_BY_API = [
    {
        "kind": "exported models",
        "why": "The Training API has no operation to delete an exported model file; Microsoft documents that "
        "exported models are deleted upon account deletion.",
    },
    {
        "kind": "account and keys",
        "why": "The Cognitive Services account itself is deleted through Azure Resource Manager, only when the "
        "request includes 'account' and is confirmed.",
    },
]


async def mutations(store: ResultStore, request_id: str) -> list[dict[str, Any]]:
    """Every mutating call from the audit log, in time order."""
    try:
        downloader = await store.container.get_blob_client(layout.audit_log(request_id)).download_blob()
    except ResourceNotFoundError:
        return []
    found = []
    buffer = b""
    async for chunk in downloader.chunks():
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            entry = json.loads(line) if line.strip() else {}
            if entry.get("method") == "DELETE":
                found.append(
                    {
                        key: entry.get(key)
                        for key in ("time", "operation", "target", "status", "apim_request_id", "resource", "attempts")
                    }
                )
    return sorted(found, key=lambda entry: entry["time"] or "")


def digest(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return hashlib.sha256(canonical).hexdigest()


async def write_certificate(
    store: ResultStore,
    request: dict[str, Any],
    *,
    status: str,
    started_at: str,
    projects: list[dict[str, Any]],
    counts: dict[str, int],
    checks: list[dict[str, Any]],
    errors: list[dict[str, Any]],
    own_copies: list[dict[str, Any]] = [],  # noqa: B006 - read only; the name another branch uses too
) -> StoredFile:
    body = {
        "certificate_version": 1,
        "request_id": request["request_id"],
        "ticket": request.get("ticket"),
        "subject": request.get("subject"),
        "resources": request.get("resources"),
        # Selector values and the subject reference are HMAC fingerprints from intake
        # (shared/fingerprints.py): the certificate proves which selector was used without repeating it.
        "scope": request.get("scope"),
        "status": status,
        "started_at": started_at,
        "issued_at": datetime.now(UTC).isoformat(),
        "deleted": counts,
        "projects": projects,
        "mutations": await mutations(store, request["request_id"]),
        "verification": checks,
        "verified": bool(checks) and all(check["passed"] for check in checks),
        "not_deletable_by_api": NOT_DELETABLE_BY_API,
        "errors": errors,
        # cvdsr's own earlier copies for the subject (GDPR Art. 17/19): request_id, blobs, deleted_at.
        "own_copies": own_copies,
    }
    document = {
        "certificate": body,
        "sha256": digest(body),
        "digest_of": "canonical JSON of 'certificate' (keys sorted, no whitespace, UTF-8)",
    }
    return await store.put_json(layout.erasure_certificate(request["request_id"]), document)


async def keep_evidence(store: ResultStore, evidence: ResultStore, path: str) -> None:
    """Copy the issued certificate into the write-once evidence container. The first copy stands: a
    re-run after a crash finds it there (an immutable blob cannot be overwritten anyway)."""
    body = await (await store.container.get_blob_client(path).download_blob()).readall()
    await evidence.ensure_container()
    try:
        await evidence.container.upload_blob(
            path, body, overwrite=False, content_settings=ContentSettings(content_type="application/json")
        )
    except ResourceExistsError:
        pass
