"""Durable orchestrators. Each is one line: the logic is in ``shared.orchestration``."""

import azure.durable_functions as df

from shared.orchestration import erase, export, names, request

bp = df.Blueprint()


@bp.function_name(names.REQUEST_ORCHESTRATOR)
@bp.orchestration_trigger(context_name="context")
def dsr_request_orchestrator(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
    return (yield from request.run_request(context))


@bp.function_name(names.EXPORT_RESOURCE_ORCHESTRATOR)
@bp.orchestration_trigger(context_name="context")
def dsr_export_resource_orchestrator(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
    return (yield from export.export_resource(context))


@bp.function_name(names.EXPORT_PROJECT_ORCHESTRATOR)
@bp.orchestration_trigger(context_name="context")
def dsr_export_project_orchestrator(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
    return (yield from export.export_project(context))


@bp.function_name(names.ERASE_RESOURCE_ORCHESTRATOR)
@bp.orchestration_trigger(context_name="context")
def dsr_erase_resource_orchestrator(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
    return (yield from erase.erase_resource(context))


@bp.function_name(names.ERASE_PROJECT_ORCHESTRATOR)
@bp.orchestration_trigger(context_name="context")
def dsr_erase_project_orchestrator(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
    return (yield from erase.erase_project(context))
