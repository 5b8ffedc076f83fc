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


@bp.function_name(names.EXPORT_SELECT_IMAGES)
@bp.activity_trigger(input_name="payload")
async def dsr_export_select_images(payload: dict[str, Any]) -> dict[str, Any]:
    return await activities.export_select_images(payload)


@bp.function_name(names.EXPORT_SELECTED_IMAGE_PAGE)
@bp.activity_trigger(input_name="payload")
async def dsr_export_selected_image_page(payload: dict[str, Any]) -> dict[str, Any]:
    return await activities.export_selected_image_page(payload)


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


@bp.function_name(names.RECORD_FAILURE)
@bp.activity_trigger(input_name="payload")
async def dsr_record_failure(payload: dict[str, Any]) -> dict[str, Any]:
    return await activities.record_failure(payload)


@bp.function_name(names.REMOVE_WORK)
@bp.activity_trigger(input_name="payload")
async def dsr_remove_work(payload: dict[str, Any]) -> dict[str, Any]:
    return await activities.remove_work(payload)


@bp.function_name(names.ERASE_PLAN_PROJECT)
@bp.activity_trigger(input_name="payload")
async def dsr_erase_plan_project(payload: dict[str, Any]) -> dict[str, Any]:
    return await activities.erase_plan_project(payload)


@bp.function_name(names.ERASE_UNPUBLISH)
@bp.activity_trigger(input_name="payload")
async def dsr_erase_unpublish(payload: dict[str, Any]) -> dict[str, Any]:
    return await activities.erase_unpublish(payload)


@bp.function_name(names.ERASE_ALL_IMAGES)
@bp.activity_trigger(input_name="payload")
async def dsr_erase_all_images(payload: dict[str, Any]) -> dict[str, Any]:
    return await activities.erase_all_images(payload)


@bp.function_name(names.ERASE_IMAGE_BATCH)
@bp.activity_trigger(input_name="payload")
async def dsr_erase_image_batch(payload: dict[str, Any]) -> dict[str, Any]:
    return await activities.erase_image_batch(payload)


@bp.function_name(names.ERASE_REMAINING_IMAGES)
@bp.activity_trigger(input_name="payload")
async def dsr_erase_remaining_images(payload: dict[str, Any]) -> dict[str, Any]:
    return await activities.erase_remaining_images(payload)


@bp.function_name(names.ERASE_PREDICTIONS)
@bp.activity_trigger(input_name="payload")
async def dsr_erase_predictions(payload: dict[str, Any]) -> dict[str, Any]:
    return await activities.erase_predictions(payload)


@bp.function_name(names.ERASE_TAGS)
@bp.activity_trigger(input_name="payload")
async def dsr_erase_tags(payload: dict[str, Any]) -> dict[str, Any]:
    return await activities.erase_tags(payload)


@bp.function_name(names.ERASE_ITERATIONS)
@bp.activity_trigger(input_name="payload")
async def dsr_erase_iterations(payload: dict[str, Any]) -> dict[str, Any]:
    return await activities.erase_iterations(payload)


@bp.function_name(names.ERASE_PROJECT)
@bp.activity_trigger(input_name="payload")
async def dsr_erase_project(payload: dict[str, Any]) -> dict[str, Any]:
    return await activities.erase_project(payload)


@bp.function_name(names.ERASE_VERIFY)
@bp.activity_trigger(input_name="payload")
async def dsr_erase_verify(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return await activities.erase_verify(payload)


@bp.function_name(names.FINALIZE_ERASE)
@bp.activity_trigger(input_name="payload")
async def dsr_finalize_erase(payload: dict[str, Any]) -> dict[str, Any]:
    return await activities.finalize_erase_request(payload)


@bp.function_name(names.EXPORT_ACCOUNT)
@bp.activity_trigger(input_name="payload")
async def dsr_export_account(payload: dict[str, Any]) -> dict[str, Any]:
    return await activities.export_account(payload)


@bp.function_name(names.ERASE_ACCOUNT)
@bp.activity_trigger(input_name="payload")
async def dsr_erase_account(payload: dict[str, Any]) -> dict[str, Any]:
    return await activities.erase_account(payload)
