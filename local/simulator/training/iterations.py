"""Iterations: TrainProject, GetIterations, GetIteration, UpdateIteration, DeleteIteration, publishing.

TrainProject snapshots the workspace's images and tags into a new iteration, which is Training for
the configured `training_seconds` (0: at once) and then Completed; while one is Training, another
TrainProject fails with BadRequestTrainingAlreadyInProgress and the training one cannot be published
or exported (BadRequestIterationIsNotTrained). GetIterations lists trained iterations only; the
untrained workspace ("New") iteration of each project is not listed (the v3 API stopped exposing
it) but is addressable by its id (shown in `GET /_simulator/summary`): GetIteration returns it with
status New, and deleting or changing it fails with BadRequestWorkspaceNotDeletable /
BadRequestWorkspaceCannotBeModified.

Training rules: the workspace's minimums per tag (`training/training_rules.py`, per
`training_validation`), an unchanged workspace needs forceTrain (BadRequestTrainingNotNeeded), and a
project keeps at most 20 iterations. `selectedTags` is checked for unknown tags and otherwise ignored.
"""

from __future__ import annotations

import re
from datetime import datetime

from starlette.responses import Response

from local.simulator import actions
from local.simulator.errors import ApiError
from local.simulator.operations import OperationCall, OperationRegistry, json_response, no_content
from local.simulator.records import IterationRecord
from local.simulator.state import MAX_ITERATIONS_PER_PROJECT, ProjectState
from local.simulator.training import training_rules, validation
from local.simulator.wire import iteration_json, workspace_iteration_json

operations = OperationRegistry()

TRAINING_TYPES = ("Regular", "Advanced")
_PUBLISH_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,255}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def trained_iteration(
    project: ProjectState, iteration_id: str, *, not_trained_code: str, completed_by: datetime | None = None
) -> IterationRecord:
    """A trained iteration; the workspace id fails with `not_trained_code`, unknown ids with NotFound.

    With `completed_by`, an iteration still Training at that time fails with `not_trained_code` too."""
    if project.is_workspace(iteration_id):
        raise ApiError(not_trained_code, "The workspace iteration has not been trained.")
    iteration = project.iteration(iteration_id)
    if completed_by is not None and iteration.status_at(completed_by) != "Completed":
        raise ApiError(not_trained_code, f"Iteration '{iteration.name}' is still training.")
    return iteration


@operations.operation(
    "TrainProject",
    "POST",
    "/projects/{projectId}/train",
    query=("trainingType", "reservedBudgetInHours", "forceTrain", "notificationEmailAddress"),
)
async def train_project(call: OperationCall) -> Response:
    training_type = call.query.choice("trainingType", TRAINING_TYPES, default="Regular")
    budget = call.query.integer("reservedBudgetInHours", default=0, minimum=0)
    force = call.query.boolean("forceTrain")
    email = call.query.string("notificationEmailAddress")
    if email is not None and not _EMAIL.match(email):
        raise ApiError("BadRequestInvalidEmailAddress", f"'{email}' is not a valid email address.")
    body = await call.json_object(required=False)
    assert training_type is not None
    with call.simulator.lock:
        project = call.project()
        validation.require_tags(project, validation.uuid_array(body.get("selectedTags"), "selectedTags"))
        if len(project.iterations) >= MAX_ITERATIONS_PER_PROJECT:
            raise ApiError(
                "BadRequestExceedIterationPerProjectLimit",
                f"A project keeps at most {MAX_ITERATIONS_PER_PROJECT} iterations; delete one first.",
            )
        now = call.simulator.now()
        if any(it.status_at(now) == "Training" for it in project.iterations.values()):
            raise ApiError("BadRequestTrainingAlreadyInProgress", "The project is already training an iteration.")
        training_rules.check(project, call.simulator.config.training_validation)
        latest = max((it.workspace_version for it in project.iterations.values()), default=None)
        if not force and latest == project.workspace_version:
            raise ApiError("BadRequestTrainingNotNeeded", "Nothing changed since the last training.")
        iteration = actions.train(call.simulator, project, training_type=training_type, reserved_budget_in_hours=budget)
        return json_response(iteration_json(iteration, call.simulator.now()))


@operations.operation("GetIterations", "GET", "/projects/{projectId}/iterations")
async def get_iterations(call: OperationCall) -> Response:
    with call.simulator.lock:
        now = call.simulator.now()
        return json_response([iteration_json(it, now) for it in call.project().iterations.values()])


@operations.operation("GetIteration", "GET", "/projects/{projectId}/iterations/{iterationId}")
async def get_iteration(call: OperationCall) -> Response:
    iteration_id = call.path_uuid("iterationId", "iteration")
    with call.simulator.lock:
        project = call.project()
        if project.is_workspace(iteration_id):
            return json_response(workspace_iteration_json(project))
        return json_response(iteration_json(project.iteration(iteration_id), call.simulator.now()))


@operations.operation("UpdateIteration", "PATCH", "/projects/{projectId}/iterations/{iterationId}")
async def update_iteration(call: OperationCall) -> Response:
    iteration_id = call.path_uuid("iterationId", "iteration")
    body = await call.json_object()
    with call.simulator.lock:
        project = call.project()
        iteration = trained_iteration(project, iteration_id, not_trained_code="BadRequestWorkspaceCannotBeModified")
        name = str(body.get("name") or "").strip()
        if not name or len(name) > 256:
            raise ApiError("BadRequestIterationName", "An iteration name must have 1 to 256 characters.")
        if any(other is not iteration and other.name == name for other in project.iterations.values()):
            raise ApiError("BadRequestIterationNameNotUnique", f"An iteration named '{name}' already exists.")
        iteration.name = name
        iteration.last_modified = call.simulator.now()
        return json_response(iteration_json(iteration, iteration.last_modified))


@operations.operation("DeleteIteration", "DELETE", "/projects/{projectId}/iterations/{iterationId}")
async def delete_iteration(call: OperationCall) -> Response:
    iteration_id = call.path_uuid("iterationId", "iteration")
    with call.simulator.lock:
        project = call.project()
        iteration = trained_iteration(project, iteration_id, not_trained_code="BadRequestWorkspaceNotDeletable")
        if iteration.is_published:
            raise ApiError(
                "BadRequestIterationIsPublished",
                f"Iteration '{iteration.name}' is published as '{iteration.publish_name}'; unpublish it first.",
            )
        del project.iterations[iteration.id]
        return no_content()


@operations.operation(
    "PublishIteration",
    "POST",
    "/projects/{projectId}/iterations/{iterationId}/publish",
    query=("publishName", "predictionId", "overwrite"),
)
async def publish_iteration(call: OperationCall) -> Response:
    iteration_id = call.path_uuid("iterationId", "iteration")
    publish_name = call.query.required_string("publishName")
    prediction_id = call.query.required_string("predictionId")
    overwrite = call.query.boolean("overwrite")
    if not _PUBLISH_NAME.match(publish_name):
        raise ApiError("BadRequestInvalidPublishName", "A publish name has letters, digits, '-', '_' and '.' only.")
    if not actions.is_arm_resource_id(prediction_id):
        raise ApiError(
            "BadRequestInvalidPublishTarget",
            "predictionId must be the resource id of a prediction resource "
            "(/subscriptions/…/resourceGroups/…/providers/Microsoft.CognitiveServices/accounts/…).",
        )
    simulator = call.simulator
    with simulator.lock:
        project = call.project()
        iteration = trained_iteration(
            project, iteration_id, not_trained_code="BadRequestIterationIsNotTrained", completed_by=simulator.now()
        )
        if iteration.is_published and not overwrite:
            raise ApiError("BadRequestIterationIsPublished", f"Iteration '{iteration.name}' is already published.")
        for other in project.published():
            if other is not iteration and other.publish_name == publish_name:
                if not overwrite:
                    raise ApiError(
                        "BadRequestInvalidPublishName", f"The publish name '{publish_name}' is already in use."
                    )
                actions.unpublish(other, simulator.now())
        actions.publish(iteration, publish_name, prediction_id, simulator.now())
        return json_response(True)


@operations.operation("UnpublishIteration", "DELETE", "/projects/{projectId}/iterations/{iterationId}/publish")
async def unpublish_iteration(call: OperationCall) -> Response:
    iteration_id = call.path_uuid("iterationId", "iteration")
    with call.simulator.lock:
        project = call.project()
        iteration = trained_iteration(project, iteration_id, not_trained_code="BadRequestIterationNotPublished")
        if not iteration.is_published:
            raise ApiError("BadRequestIterationNotPublished", f"Iteration '{iteration.name}' is not published.")
        actions.unpublish(iteration, call.simulator.now())
        return no_content()
