"""Model exports: ExportIteration and GetExports.

An export is `Exporting` for `export_seconds`, then `Done` with a signed `downloadUri` serving a small
zip. Only iterations trained on a compact (exportable) domain can be exported, to the platforms that
domain supports, with a flavor valid for the platform (BadRequestExportValidationFailed otherwise,
*inference*); a second request for the same platform and flavor while one is running is
BadRequestExportAlreadyInProgress. Export files are kept per account, not per iteration: the seed table
says exported models are "deleted upon account deletion", so a download URL keeps working after its
iteration is deleted, until it expires.
"""

from __future__ import annotations

from starlette.responses import Response

from local.simulator import actions
from local.simulator.domains import EXPORT_FLAVORS
from local.simulator.errors import ApiError
from local.simulator.operations import OperationCall, OperationRegistry, json_response
from local.simulator.training.iterations import trained_iteration
from local.simulator.wire import export_json

operations = OperationRegistry()

PLATFORMS = ("CoreML", "TensorFlow", "DockerFile", "ONNX", "VAIDK")
FLAVORS = ("Linux", "Windows", "ONNX10", "ONNX12", "ARM", "TensorFlowNormal", "TensorFlowLite")


@operations.operation(
    "ExportIteration",
    "POST",
    "/projects/{projectId}/iterations/{iterationId}/export",
    query=("platform", "flavor"),
)
async def export_iteration(call: OperationCall) -> Response:
    iteration_id = call.path_uuid("iterationId", "iteration")
    if not call.query.has("platform"):
        raise ApiError("BadRequestRequiredParamIsNull", "The parameter 'platform' is required.")
    platform = call.query.choice("platform", PLATFORMS)
    flavor = call.query.choice("flavor", FLAVORS)
    assert platform is not None
    simulator = call.simulator
    with simulator.lock:
        project = call.project()
        iteration = trained_iteration(
            project, iteration_id, not_trained_code="BadRequestIterationIsNotTrained", completed_by=simulator.now()
        )
        if not iteration.exportable or platform not in iteration.exportable_to:
            raise ApiError(
                "BadRequestExportValidationFailed",
                f"Iteration '{iteration.name}' cannot be exported to {platform}: train it on a compact domain.",
            )
        if flavor not in EXPORT_FLAVORS[platform]:
            raise ApiError("BadRequestExportValidationFailed", f"Flavor '{flavor}' does not apply to {platform}.")
        now = simulator.now()
        for export in iteration.exports:
            if (export.platform, export.flavor) == (platform, flavor) and export.status(now) == "Exporting":
                raise ApiError("BadRequestExportAlreadyInProgress", "This export is already in progress.")
        export = actions.start_export(simulator, project, iteration, platform, flavor)
        return json_response(export_json(export, now, call.uris()))


@operations.operation("GetExports", "GET", "/projects/{projectId}/iterations/{iterationId}/export")
async def get_exports(call: OperationCall) -> Response:
    iteration_id = call.path_uuid("iterationId", "iteration")
    simulator = call.simulator
    with simulator.lock:
        project = call.project()
        iteration = trained_iteration(project, iteration_id, not_trained_code="BadRequestIterationIsNotTrained")
        now = simulator.now()
        uris = call.uris()
        return json_response([export_json(export, now, uris) for export in iteration.exports])
