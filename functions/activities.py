"""Durable activities. Each is one line: the logic is in ``shared.activities``."""

from typing import Any

import azure.durable_functions as df

from shared import activities
from shared.orchestration import names

bp = df.Blueprint()


@bp.function_name(names.RECORD_REQUEST)
@bp.activity_trigger(input_name="payload")
async def dsr_record_request(payload: dict[str, Any]) -> dict[str, Any]:
    return await activities.record_request(payload)


@bp.function_name(names.LIST_PROJECTS)
@bp.activity_trigger(input_name="payload")
async def dsr_list_projects(payload: dict[str, Any]) -> dict[str, Any]:
    return await activities.list_projects(payload)


@bp.function_name(names.EXPORT_PROJECT_DETAILS)
@bp.activity_trigger(input_name="payload")
async def dsr_export_project_details(payload: dict[str, Any]) -> dict[str, Any]:
    return await activities.export_project_details(payload)


@bp.function_name(names.EXPORT_IMAGE_PAGE)
@bp.activity_trigger(input_name="payload")
async def dsr_export_image_page(payload: dict[str, Any]) -> dict[str, Any]:
    return await activities.export_image_page(payload)


@bp.function_name(names.EXPORT_IMAGE_PERFORMANCE_PAGE)
@bp.activity_trigger(input_name="payload")
async def dsr_export_image_performance_page(payload: dict[str, Any]) -> dict[str, Any]:
    return await activities.export_image_performance_page(payload)


@bp.function_name(names.EXPORT_PREDICTION_PAGES)
@bp.activity_trigger(input_name="payload")
async def dsr_export_prediction_pages(payload: dict[str, Any]) -> dict[str, Any]:
    return await activities.export_prediction_pages(payload)


@bp.function_name(names.COMMIT_JSONL)
@bp.activity_trigger(input_name="payload")
async def dsr_commit_jsonl(payload: dict[str, Any]) -> dict[str, Any]:
    return await activities.commit_jsonl(payload)


@bp.function_name(names.FINALIZE_EXPORT)
@bp.activity_trigger(input_name="payload")
async def dsr_finalize_export(payload: dict[str, Any]) -> dict[str, Any]:
    return await activities.finalize(payload)


@bp.function_name(names.SEND_COMPLETION)
@bp.activity_trigger(input_name="payload")
async def dsr_send_completion(payload: dict[str, Any]) -> dict[str, str]:
    return await activities.send_completion_event(payload)
