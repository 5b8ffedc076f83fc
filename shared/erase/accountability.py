"""What an erasure certificate adds for accountability (GDPR Art. 5(2), 17, 19; CCPA §1798.105, §7101).

Under which law and right the erase was done, when (received, due, extended, completed), by which tool
and configuration, what was searched, counts before and after, what was kept and on what ground, who
else received the data (recipients), and what backups exist. Facts only: what cvdsr cannot know (an
exported model file someone downloaded) is said to be unknown, never guessed.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from importlib import metadata
from typing import Any

from shared import deadlines
from shared.settings import AppSettings, ResourceSettings

RIGHTS = {
    "gdpr": "GDPR Art. 17 (right to erasure)",
    "uk_gdpr": "UK GDPR Art. 17 (right to erasure)",
    "ccpa": "CCPA Cal. Civ. Code §1798.105 (right to delete)",
    "other": "erasure (no statutory right named: jurisdiction 'other')",
}

KEPT = [
    {
        "kind": "erasure certificate (this document) and its write-once evidence copy",
        "where": "dsr-results/{request_id}/erasure-certificate.json; the audit container, when configured",
        "ground": "accountability: GDPR Art. 5(2) and Art. 17/19 (showing the erasure was done); "
        "CCPA Regulations §7101 (records of requests kept 24 months)",
    },
    {
        "kind": "request record: request.json, manifest.json, audit.jsonl (ids, counts, times; subject "
        "values only as keyed fingerprints)",
        "where": "dsr-results/{request_id}/",
        "ground": "accountability: GDPR Art. 5(2); CCPA Regulations §7101",
    },
]

BACKUPS = (
    "Azure Custom Vision keeps no customer-accessible backups of projects, images or iterations; what the "
    "Training API deletes cannot be restored by the customer. In cvdsr's own storage account (infra/app/"
    "storage.bicep) blob soft delete and container soft delete keep a deleted blob or container restorable "
    "for 7 days, after which it is gone; blob versioning is not enabled. The results container is emptied "
    "by a lifecycle rule (resultsRetentionDays, default 30 days); the audit container is write-once for "
    "auditRetentionDays (default 2190 days)."
)

EXPORTED_MODELS = (
    "Exported model files (GetExports' downloadUri) may have been downloaded by whoever held the training "
    "key; the Training API does not record downloads, so cvdsr cannot list those recipients. Models trained "
    "on the erased images are listed per project (trained_on_erased_images)."
)


def tool_version() -> str:
    try:
        return metadata.version("cvdsr")
    except metadata.PackageNotFoundError:
        return "unknown"


def configuration_sha256(settings: AppSettings, resources: dict[str, ResourceSettings]) -> str:
    """SHA-256 of the effective configuration: every CVDSR_* setting but secrets (excluded, not masked)
    and each resource's name, endpoint, ARM id and API version (never its key)."""
    from shared.signing import canonical

    secrets = _secret_paths(settings)
    dumped = _without(settings.model_dump(mode="json"), secrets)
    described = {
        name: {"endpoint": r.endpoint, "arm_resource_id": r.arm_resource_id, "api_version": r.api_version}
        for name, r in sorted(resources.items())
    }
    return hashlib.sha256(canonical({"settings": dumped, "resources": described})).hexdigest()


def _secret_paths(model: Any, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    from pydantic import BaseModel, SecretStr

    paths: set[tuple[str, ...]] = set()
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretStr):
            paths.add((*prefix, name))
        elif isinstance(value, BaseModel):
            paths |= _secret_paths(value, (*prefix, name))
    return paths


def _without(dumped: dict[str, Any], paths: set[tuple[str, ...]], prefix: tuple[str, ...] = ()) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for name, value in dumped.items():
        if (*prefix, name) in paths:
            continue
        kept[name] = _without(value, paths, (*prefix, name)) if isinstance(value, dict) else value
    return kept


def fields(
    request: dict[str, Any],
    *,
    completed_at: str,
    projects: list[dict[str, Any]],
    planned: dict[str, int],
    deleted: dict[str, int],
    extensions: list[dict[str, Any]],
    acknowledged_at: str | None = None,
    configuration_sha256: str | None,
    own_copies: list[dict[str, Any]],
    not_deletable: list[dict[str, str]],
) -> dict[str, Any]:
    jurisdiction = request.get("jurisdiction")
    clock = deadlines.clock(request, extensions, deadlines.instant(completed_at) or datetime.now().astimezone())
    published = [
        {"resource": p["resource"], "project_id": p["project_id"], "iteration_id": iteration}
        for p in projects
        for iteration in p.get("published_iterations", [])
    ]
    return {
        "jurisdiction": jurisdiction,
        "right_invoked": RIGHTS.get(jurisdiction or "", "erasure (no jurisdiction given)"),
        "times": {
            "received_at": request.get("received_at"),
            "acknowledged_at": acknowledged_at,  # when cvdsr.request.acknowledged first went out
            "acknowledge_by": deadlines.acknowledge_by(request),
            "due_at": request.get("due_at"),
            "effective_due_at": clock["due_at"],
            "completed_at": completed_at,
            "days_left_at_completion": clock["days_left"],
            "extensions": [
                {key: extension.get(key) for key in ("until", "reason", "extended_at")} for extension in extensions
            ],
        },
        "tool": {"name": "cvdsr", "version": tool_version()},
        "configuration_sha256": configuration_sha256,
        "scope_searched": {
            "resources": request.get("resources"),
            "scope": request.get("scope"),
            "include": request.get("include"),
            "projects": [
                {"resource": p["resource"], "project_id": p["project_id"], "existed": p.get("existed")}
                for p in projects
            ],
        },
        "counts": {"before": planned, "deleted": deleted},
        "kept": [{**entry, "ground": entry["why"]} for entry in not_deletable] + KEPT,
        "recipients": {
            "exported_model_files": EXPORTED_MODELS,
            "published_prediction_endpoints": published,
            "own_copies": own_copies,
        },
        "own_copies": own_copies,
        "backups": BACKUPS,
    }
