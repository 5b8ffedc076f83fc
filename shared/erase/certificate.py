"""``erasure-certificate.json``: what was deleted, when, and the read-back that proves it.

The mutations are taken from ``audit.jsonl`` (every DELETE the client made, with time, target ids,
status and apim-request-id), so the certificate reports what actually went over the wire. A SHA-256
over the canonical body lets anyone check the certificate was not altered after it was issued, and
a JWS over the same bytes (``shared.signing``, when ``CVDSR_SIGNING__*`` is set) says who issued it.
The accountability fields (``shared.erase.accountability``) say under which law, when, with which
tool and configuration, what was kept and why, and who else received the data.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import ContentSettings

from shared import signing
from shared.results import layout
from shared.results.store import ResultStore, StoredFile

from . import accountability

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
    return hashlib.sha256(signing.canonical(body)).hexdigest()


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
    planned: dict[str, int] | None = None,
    extensions: list[dict[str, Any]] | None = None,
    acknowledged_at: str | None = None,
    configuration_sha256: str | None = None,
    signer: signing.Signer | None = None,
    own_copies: list[dict[str, Any]] | None = None,
) -> StoredFile:
    """Write the certificate; with ``signer``, signed (the signature is made here, in the activity,
    never in an orchestrator). Issued once: a re-run after a crash returns the certificate already
    written, so the results copy, the evidence copy and the outcome's digest are the same document."""
    path = layout.erasure_certificate(request["request_id"])
    async for existing in store.list_files(path):
        if existing.path == path:
            return existing
    issued_at = datetime.now(UTC).isoformat()
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
        "issued_at": issued_at,
        "deleted": counts,
        "projects": projects,
        "mutations": await mutations(store, request["request_id"]),
        "verification": checks,
        "verified": bool(checks) and all(check["passed"] for check in checks),
        "not_deletable_by_api": NOT_DELETABLE_BY_API,
        "errors": errors,
        # Whether cvdsr looked for its own earlier copies (only an erase with subject.reference can):
        # an empty own_copies then means none were found, not that nobody looked.
        "own_copies_searched": own_copies is not None,
        **accountability.fields(
            request,
            completed_at=issued_at,
            projects=projects,
            planned=planned or {},
            deleted=counts,
            extensions=extensions or [],
            acknowledged_at=acknowledged_at,
            configuration_sha256=configuration_sha256,
            own_copies=own_copies or [],
            not_deletable=NOT_DELETABLE_BY_API,
        ),
    }
    document: dict[str, Any] = {
        "certificate": body,
        "sha256": digest(body),
        "digest_of": "canonical JSON of 'certificate' (keys sorted, no whitespace, UTF-8)",
    }
    if signer is not None:
        document["signature"] = await signing.sign(signer, signing.canonical(body))
    return await store.put_json(path, document)


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
