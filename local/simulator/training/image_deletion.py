"""DeleteImages: by ids (≤256, answered 204) or everything (`allImages`), optionally from every iteration.

With `allImages` or `allIterations` the service answers 202 Accepted and deletes in the background; the
simulator completes such a delete `background_delete_seconds` later, so counts only drop then. Ids
that do not exist (anymore) are ignored: a repeated delete is a no-op (*inference*; the service
documents no error for it). Neither ids nor `allImages` is `BadRequestRequiredParamIsNull`.
"""

from __future__ import annotations

from starlette.responses import Response

from local.simulator import actions
from local.simulator.errors import ApiError
from local.simulator.operations import OperationCall, OperationRegistry, no_content
from local.simulator.state import ProjectState, Simulator

operations = OperationRegistry()

MAX_DELETE_IDS = 256


def _finish_later(
    simulator: Simulator, project: ProjectState, image_ids: list[str] | None, all_iterations: bool
) -> None:
    project.pending_deletes += 1

    def finish() -> None:
        project.pending_deletes -= 1
        if simulator.projects.get(project.id) is not project:
            return  # the project was deleted meanwhile
        if image_ids is None:
            actions.clear_images(project, all_iterations=all_iterations)
        else:
            actions.remove_images(project, image_ids, all_iterations=all_iterations)
        project.changed(simulator.now())

    what = "all images" if image_ids is None else f"{len(image_ids)} images"
    where = "workspace and iterations" if all_iterations else "workspace"
    simulator.schedule(
        simulator.config.background_delete_seconds, f"delete {what} from {where} of project {project.id}", finish
    )


@operations.operation(
    "DeleteImages", "DELETE", "/projects/{projectId}/images", query=("imageIds", "allImages", "allIterations")
)
async def delete_images(call: OperationCall) -> Response:
    image_ids = call.query.uuid_list("imageIds", max_items=MAX_DELETE_IDS)
    all_images = call.query.boolean("allImages")
    all_iterations = call.query.boolean("allIterations")
    if not image_ids and not all_images:
        raise ApiError("BadRequestRequiredParamIsNull", "Specify 'imageIds' or 'allImages=true'.")
    simulator = call.simulator
    with simulator.lock:
        project = call.project()
        if all_images or all_iterations:
            _finish_later(simulator, project, None if all_images else image_ids, all_iterations)
            return no_content(202)
        assert image_ids is not None
        if actions.remove_images(project, image_ids, all_iterations=False):
            project.changed(simulator.now())
        return no_content(204)
