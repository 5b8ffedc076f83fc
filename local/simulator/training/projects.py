"""Project operations: GetProjects, CreateProject, GetProject, UpdateProject, DeleteProject, ExportProject."""

from __future__ import annotations

import base64
import json
from typing import Any

from starlette.responses import Response

from local.simulator import actions
from local.simulator.domains import GENERAL_CLASSIFICATION
from local.simulator.errors import ApiError
from local.simulator.identifiers import canonical_uuid
from local.simulator.operations import OperationCall, OperationRegistry, json_response, no_content
from local.simulator.records import Domain
from local.simulator.state import MAX_PROJECTS, ProjectState, Simulator
from local.simulator.wire import project_json

operations = OperationRegistry()

EXPORT_PLATFORMS = ("CoreML", "TensorFlow", "DockerFile", "ONNX", "VAIDK")
CLASSIFICATION_TYPES = ("Multiclass", "Multilabel")


def _domain(simulator: Simulator, domain_id: str | None) -> Domain:
    canonical = canonical_uuid(domain_id) if domain_id else GENERAL_CLASSIFICATION
    domain = simulator.domains.get(canonical or "")
    if domain is None:
        raise ApiError("BadRequestProjectUnknownDomain", f"Unknown domain '{domain_id}'.")
    return domain


def _platforms(raw: list[str], domain: Domain) -> tuple[str, ...]:
    platforms: list[str] = []
    for value in raw:
        match = next((p for p in EXPORT_PLATFORMS if p.lower() == value.strip().lower()), None)
        if match is None or match not in domain.exportable_platforms:
            raise ApiError(
                "BadRequestProjectUnsupportedExportPlatform",
                f"Export platform '{value}' is not supported by domain '{domain.name}'.",
            )
        platforms.append(match)
    return tuple(dict.fromkeys(platforms))


def _check_name(simulator: Simulator, name: str, *, ignore: ProjectState | None = None) -> str:
    name = name.strip()
    if not name or len(name) > 256:
        raise ApiError("BadRequestProjectName", "A project name must have 1 to 256 characters.")
    for project in simulator.projects.values():
        if project is not ignore and project.name.lower() == name.lower():
            raise ApiError("BadRequestProjectNameNotUnique", f"A project named '{name}' already exists.")
    return name


def _classification(value: str | None) -> str:
    if value is None:
        return "Multiclass"
    match = next((c for c in CLASSIFICATION_TYPES if c.lower() == value.lower()), None)
    if match is None:
        raise ApiError("BadRequestProjectUnknownClassification", f"Unknown classification type '{value}'.")
    return match


@operations.operation("GetProjects", "GET", "/projects")
async def get_projects(call: OperationCall) -> Response:
    uris = call.uris()
    with call.simulator.lock:
        return json_response([project_json(p, uris) for p in call.simulator.projects.values()])


@operations.operation(
    "CreateProject",
    "POST",
    "/projects",
    query=("name", "description", "domainId", "classificationType", "targetExportPlatforms"),
)
async def create_project(call: OperationCall) -> Response:
    query = call.query
    simulator = call.simulator
    name = query.required_string("name")
    description = query.string("description")
    domain = _domain(simulator, query.string("domainId"))
    classification = _classification(query.string("classificationType"))
    raw_platforms = query.string("targetExportPlatforms")
    platforms = _platforms([p for p in raw_platforms.split(",") if p], domain) if raw_platforms else ()
    with simulator.lock:
        name = _check_name(simulator, name)
        if len(simulator.projects) >= MAX_PROJECTS:
            raise ApiError("BadRequestExceedProjectLimit", f"The account is limited to {MAX_PROJECTS} projects.")
        project = actions.create_project(
            simulator,
            name=name,
            description=description,
            domain=domain,
            classification_type=classification,
            target_export_platforms=platforms,
        )
        return json_response(project_json(project, call.uris()))


@operations.operation("GetProject", "GET", "/projects/{projectId}")
async def get_project(call: OperationCall) -> Response:
    with call.simulator.lock:
        return json_response(project_json(call.project(), call.uris()))


@operations.operation("UpdateProject", "PATCH", "/projects/{projectId}")
async def update_project(call: OperationCall) -> Response:
    body = await call.json_object()
    simulator = call.simulator
    with simulator.lock:
        project = call.project()
        name = _check_name(simulator, str(body.get("name") or ""), ignore=project)
        settings: dict[str, Any] = body.get("settings") or {}
        if not isinstance(settings, dict):
            raise ApiError("BadRequest", "'settings' must be an object.")
        domain = _domain(simulator, settings.get("domainId") or project.domain.id)
        if domain.type != project.domain.type:
            raise ApiError(
                "BadRequestProjectUnsupportedDomainTypeChange",
                "A project cannot change between classification and object detection domains.",
            )
        classification = _classification(settings.get("classificationType") or project.classification_type)
        platforms_raw = settings.get("targetExportPlatforms")
        platforms = (
            _platforms([str(p) for p in platforms_raw], domain)
            if isinstance(platforms_raw, list)
            else project.target_export_platforms
        )
        description = body.get("description", project.description)
        project.name = name
        project.description = description if isinstance(description, str) else None
        project.domain = domain
        if domain.type == "Classification":
            project.classification_type = classification
        project.target_export_platforms = platforms
        project.last_modified = simulator.now()
        return json_response(project_json(project, call.uris()))


@operations.operation("DeleteProject", "DELETE", "/projects/{projectId}")
async def delete_project(call: OperationCall) -> Response:
    with call.simulator.lock:
        project = call.project()
        published = project.published()
        if published:
            names = ", ".join(f"'{iteration.name}'" for iteration in published)
            raise ApiError(
                "BadRequestIterationIsPublished",
                f"Cannot delete a project with published iterations ({names}); unpublish them first.",
            )
        actions.delete_project(call.simulator, project)
        return no_content()


@operations.operation("ExportProject", "GET", "/projects/{projectId}/export")
async def export_project(call: OperationCall) -> Response:
    simulator = call.simulator
    with simulator.lock:
        project = call.project()
        image_count = len(project.workspace)
        token_payload = json.dumps(
            {"projectId": project.id, "nonce": simulator.ids.new(), "images": image_count},
            separators=(",", ":"),
        )
        return json_response(
            {
                "iterationCount": len(project.iterations),
                "imageCount": image_count,
                "tagCount": len(project.tags),
                "regionCount": project.workspace.region_count(),
                "estimatedImportTimeInMS": 1000 + image_count * 20,
                "token": base64.urlsafe_b64encode(token_payload.encode()).decode(),
            }
        )
