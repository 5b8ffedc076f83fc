"""The end of an export: add up the counts, decide the status, write report, manifest and package."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from shared.outcomes import MAX_ERRORS_IN_OUTCOME
from shared.privacy_info import PrivacyInfo, missing
from shared.results import layout
from shared.results.package import build_package
from shared.results.store import ResultStore

from .manifest import compare_counts, write_manifest
from .report import report_document, write_report, write_report_json


def decide_status(exported: dict[str, int], mismatches: list[dict[str, Any]], errors: list[dict[str, Any]]) -> str:
    """``failed`` when nothing could be exported, ``partially_succeeded`` when anything is missing."""
    if errors and not any(exported.values()):
        return "failed"
    if errors or mismatches:
        return "partially_succeeded"
    return "succeeded"


def privacy_warnings(privacy: Mapping[str, PrivacyInfo | None]) -> list[dict[str, str]]:
    """Every Art. 15 field a resource has not configured: the report says "not configured", and the
    manifest says so to the operator, who owes the person that information."""
    return [
        {"resource": resource, "field": field, "warning": "privacy information not configured"}
        for resource, info in sorted(privacy.items())
        for field in missing(info)
    ]


async def finalize_export(
    store: ResultStore,
    request: dict[str, Any],
    started_at: str,
    resources: list[dict[str, Any]],
    *,
    zip_package: bool,
    api_version: str,
    privacy: Mapping[str, PrivacyInfo | None],
) -> dict[str, Any]:
    """``privacy``: each configured resource's Art. 15 information (read by the activity, not here)."""
    expected: Counter[str] = Counter()
    exported: Counter[str] = Counter()
    errors: list[dict[str, Any]] = []
    notes: list[str] = []
    projects: list[dict[str, Any]] = []
    for resource in resources:
        expected.update(resource.get("expected", {}))
        exported.update(resource.get("exported", {}))
        errors.extend(resource.get("errors", []))
        notes.extend(note for note in resource.get("notes", []) if note not in notes)
        for project in resource.get("projects", []):
            expected.update(project.get("expected", {}))
            exported.update(project.get("exported", {}))
            errors.extend(project.get("errors", []))
            if project.get("errors_omitted"):
                errors.append(
                    {
                        "kind": "errors_omitted",
                        "project_id": project["project_id"],
                        "error": f"{project['errors_omitted']} more errors not listed",
                    }
                )
            notes.extend(note for note in project.get("notes", []) if note not in notes)
            projects.append({**project, "resource": resource["resource"]})
    mismatches = compare_counts(expected, exported)
    status = decide_status(dict(exported), mismatches, errors)
    request_id = request["request_id"]

    # The resources the request named (not the account row's "(account)" entry).
    stated = {name: privacy.get(name) for name in sorted({str(n).lower() for n in request.get("resources", [])})}
    await write_report(store, request, status=status, projects=projects, counts=exported, errors=errors, privacy=stated)
    resources_summary = [
        {
            "resource": resource["resource"],
            "projects": [p["project_id"] for p in resource.get("projects", [])],
            "missing_projects": resource.get("missing_projects", []),
        }
        for resource in resources
    ]
    document = report_document(request, status=status, resources=resources_summary, counts=exported, privacy=stated)
    await write_report_json(store, request, document)
    warnings = privacy_warnings(stated)
    await write_manifest(
        store,
        request,
        status=status,
        api_version=api_version,
        started_at=started_at,
        resources=resources_summary,
        expected=expected,
        exported=exported,
        errors=errors,
        notes=notes,
        warnings=warnings,
    )
    package = await build_package(store, request_id) if zip_package else None
    return {
        "request_id": request_id,
        "type": request["type"],
        "status": status,
        "counts": dict(sorted(exported.items())),
        "expected_counts": dict(sorted(expected.items())),
        "count_mismatches": mismatches,
        "errors": errors[:MAX_ERRORS_IN_OUTCOME],
        "error_count": len(errors),
        "notes": notes,
        "result": {
            "manifest": layout.manifest(request_id),
            "report": layout.report(request_id),
            "report_json": layout.report_json(request_id),
            "package": package.path if package else None,
            "package_sha256": package.sha256 if package else None,
        },
        "started_at": started_at,
        "completed_at": datetime.now(UTC).isoformat(),
    }
