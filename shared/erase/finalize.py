"""The end of an erase (or its dry run): status, the plan or the certificate, and the manifest."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from shared.catalogue import Count, EraseStep
from shared.outcomes import MAX_ERRORS_IN_OUTCOME
from shared.results import layout
from shared.results.store import ResultStore
from shared.signing import Signer

from .certificate import keep_evidence, write_certificate


def _existing(projects: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(project, plan) of each project that existed when the erase planned it."""
    for project in projects:
        plan = project.get("plan") or {}
        if plan.get("exists"):
            yield project, plan


def _deleted_counts(projects: list[dict[str, Any]]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for project, plan in _existing(projects):
        steps = {s["step"]: s["result"] for s in project.get("steps", [])}
        if plan.get("mode") == "project" and EraseStep.DELETE_PROJECT in steps:
            counts[Count.PROJECTS] += 1
            counts[Count.IMAGES] += int(plan.get("images", 0))
            counts[Count.TAGS] += int(steps.get(EraseStep.DELETE_TAGS, {}).get("deleted", 0))
            counts[Count.ITERATIONS] += int(steps.get(EraseStep.DELETE_ITERATIONS, {}).get("deleted", 0))
            counts[Count.PREDICTIONS] += int(steps.get(EraseStep.DELETE_PREDICTIONS, {}).get("deleted", 0))
            counts["unpublished_iterations"] += int(steps.get(EraseStep.UNPUBLISH, {}).get("deleted", 0))
        elif plan.get("mode") == "images" and EraseStep.DELETE_IMAGES in steps:
            counts[Count.IMAGES] += int(steps[EraseStep.DELETE_IMAGES].get("requested", 0))
            counts[Count.ITERATIONS] += int(steps.get(EraseStep.DELETE_ITERATIONS, {}).get("deleted", 0))
    return counts


def _planned_counts(projects: list[dict[str, Any]]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for _project, plan in _existing(projects):
        counts["projects" if plan["mode"] == "project" else "projects_touched"] += 1
        for kind in ("images", "tags", "predictions"):
            counts[kind] += int(plan.get(kind, 0))
        counts[Count.ITERATIONS] += int(plan.get("iterations", 0)) if plan["mode"] == "project" else 0
        counts["published_iterations"] += len(plan.get("published_iterations", []))
    return counts


async def finalize_erase(
    store: ResultStore,
    request: dict[str, Any],
    started_at: str,
    resources: list[dict[str, Any]],
    *,
    evidence: ResultStore | None = None,
    signer: Signer | None = None,
    extensions: list[dict[str, Any]] | None = None,
    acknowledged_at: str | None = None,
    configuration_sha256: str | None = None,
    own_copies: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """``own_copies``: cvdsr's earlier exports for the data subject, deleted (or, on a dry run, that
    would be), from ``shared.erase.own_copies``; in the plan or the certificate."""
    request_id = request["request_id"]
    projects = [{**p, "resource": r["resource"]} for r in resources for p in r.get("projects", [])]
    errors = [e for r in resources for e in r.get("errors", [])] + [e for p in projects for e in p.get("errors", [])]
    checks = [c for p in projects for c in p.get("checks", [])]
    accounts = [r["account"] for r in resources if r.get("account")]
    checks += [c for account in accounts for c in account.get("checks", [])]
    affected = [
        {
            "resource": p["resource"],
            "project_id": p["project_id"],
            "iterations": p["plan"].get("affected_iterations", []),
        }
        for p in projects
        if (p.get("plan") or {}).get("affected_iterations")
    ]
    planned = _planned_counts(projects)
    result: dict[str, Any] = {"manifest": layout.manifest(request_id)}
    if request.get("dry_run"):
        status = "failed" if errors else "succeeded"
        counts = dict(planned)
        if accounts:
            counts["accounts"] = len(accounts)
        plan_file = await store.put_json(
            f"{request_id}/erase-plan.json",
            {
                "request_id": request_id,
                "dry_run": True,
                "would_delete": counts,
                "projects": [{"resource": p["resource"], **(p.get("plan") or {})} for p in projects],
                "missing_projects": [m for r in resources for m in r.get("missing_projects", [])],
                "own_copies": own_copies or [],
                "errors": errors,
            },
        )
        result["plan"] = plan_file.path
    else:
        counts = dict(_deleted_counts(projects))
        if any(account.get("deleted") for account in accounts):
            counts["accounts"] = sum(1 for account in accounts if account.get("deleted"))
        failed_checks = [c for c in checks if not c["passed"]]
        existed = [p for p in projects if (p.get("plan") or {}).get("exists")]
        if errors and not counts:
            status = "failed"
        elif errors or failed_checks or (existed and not checks):
            status = "partially_succeeded"
        else:
            status = "succeeded"
        certificate = await write_certificate(
            store,
            request,
            status=status,
            started_at=started_at,
            projects=[_certificate_entry(p) for p in projects],
            counts=counts,
            checks=checks,
            errors=errors,
            planned=dict(planned),
            extensions=extensions,
            acknowledged_at=acknowledged_at,
            configuration_sha256=configuration_sha256,
            signer=signer,
            own_copies=own_copies,
        )
        result["certificate"] = certificate.path
        result["certificate_sha256"] = certificate.sha256
        if evidence is not None:
            await keep_evidence(store, evidence, certificate.path)
    await store.put_json(
        layout.manifest(request_id),
        {
            "manifest_version": 1,
            "request_id": request_id,
            "type": "erase",
            "dry_run": bool(request.get("dry_run")),
            "status": status,
            "started_at": started_at,
            "completed_at": datetime.now(UTC).isoformat(),
            "counts": counts,
            "planned_counts": dict(planned),
            "errors": errors,
            "result": result,
        },
    )
    return {
        "request_id": request_id,
        "type": "erase",
        "status": status,
        "dry_run": bool(request.get("dry_run")),
        "counts": counts,
        "expected_counts": dict(planned),
        "trained_on_erased_images": affected,
        "errors": errors[:MAX_ERRORS_IN_OUTCOME],
        "error_count": len(errors),
        "result": result,
        "started_at": started_at,
        "completed_at": datetime.now(UTC).isoformat(),
    }


def _certificate_entry(project: dict[str, Any]) -> dict[str, Any]:
    plan = project.get("plan") or {}
    return {
        "resource": project["resource"],
        "project_id": project["project_id"],
        "mode": plan.get("mode"),
        "existed": plan.get("exists"),
        "planned": {k: plan.get(k) for k in ("images", "tags", "predictions", "iterations") if k in plan},
        "published_iterations": plan.get("published_iterations", []),
        "trained_on_erased_images": plan.get("affected_iterations", []),
        "steps": project.get("steps", []),
    }
