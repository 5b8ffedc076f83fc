"""Durable activities. Each is one line: the logic is in ``shared.activities``."""

from typing import Any

import azure.durable_functions as df

from shared import activities, contracts
from shared.orchestration import names

bp = df.Blueprint()


@bp.function_name(names.RECORD_REQUEST)
@bp.activity_trigger(input_name="payload")
async def dsr_record_request(payload: contracts.WithRequest) -> dict[str, Any]:
    return await activities.record_request(payload)


@bp.function_name(names.LIST_PROJECTS)
@bp.activity_trigger(input_name="payload")
async def dsr_list_projects(payload: contracts.ListProjects) -> dict[str, Any]:
    return await activities.list_projects(payload)


@bp.function_name(names.EXPORT_PROJECT_DETAILS)
@bp.activity_trigger(input_name="payload")
async def dsr_export_project_details(payload: contracts.ProjectDetails) -> dict[str, Any]:
    return await activities.export_project_details(payload)


@bp.function_name(names.EXPORT_IMAGE_PAGE)
@bp.activity_trigger(input_name="payload")
async def dsr_export_image_page(payload: contracts.ImagePage) -> dict[str, Any]:
    return await activities.export_image_page(payload)


@bp.function_name(names.EXPORT_SELECT_IMAGES)
@bp.activity_trigger(input_name="payload")
async def dsr_export_select_images(payload: contracts.SelectImages) -> dict[str, Any]:
    return await activities.export_select_images(payload)


@bp.function_name(names.EXPORT_SELECTED_IMAGE_PAGE)
@bp.activity_trigger(input_name="payload")
async def dsr_export_selected_image_page(payload: contracts.SelectedImagePage) -> dict[str, Any]:
    return await activities.export_selected_image_page(payload)


@bp.function_name(names.EXPORT_IMAGE_PERFORMANCE_PAGE)
@bp.activity_trigger(input_name="payload")
async def dsr_export_image_performance_page(payload: contracts.ImagePerformancePage) -> dict[str, Any]:
    return await activities.export_image_performance_page(payload)


@bp.function_name(names.EXPORT_PREDICTION_PAGES)
@bp.activity_trigger(input_name="payload")
async def dsr_export_prediction_pages(payload: contracts.PredictionPages) -> dict[str, Any]:
    return await activities.export_prediction_pages(payload)


@bp.function_name(names.EXPORT_DATASETS)
@bp.activity_trigger(input_name="payload")
async def dsr_export_datasets(payload: contracts.Datasets) -> dict[str, Any]:
    return await activities.export_datasets(payload)


@bp.function_name(names.COMMIT_JSONL)
@bp.activity_trigger(input_name="payload")
async def dsr_commit_jsonl(payload: contracts.CommitJsonl) -> dict[str, Any]:
    return await activities.commit_jsonl(payload)


@bp.function_name(names.FINALIZE_EXPORT)
@bp.activity_trigger(input_name="payload")
async def dsr_finalize_export(payload: contracts.Finalize) -> dict[str, Any]:
    return await activities.finalize(payload)


@bp.function_name(names.SEND_COMPLETION)
@bp.activity_trigger(input_name="payload")
async def dsr_send_completion(payload: contracts.SendCompletion) -> dict[str, str]:
    return await activities.send_completion_event(payload)


@bp.function_name(names.RECORD_FAILURE)
@bp.activity_trigger(input_name="payload")
async def dsr_record_failure(payload: contracts.RecordFailure) -> dict[str, Any]:
    return await activities.record_failure(payload)


@bp.function_name(names.REMOVE_WORK)
@bp.activity_trigger(input_name="payload")
async def dsr_remove_work(payload: contracts.OnRequest) -> dict[str, Any]:
    return await activities.remove_work(payload)


@bp.function_name(names.ERASE_PLAN_PROJECT)
@bp.activity_trigger(input_name="payload")
async def dsr_erase_plan_project(payload: contracts.ErasePlan) -> dict[str, Any]:
    return await activities.erase_plan_project(payload)


@bp.function_name(names.ERASE_UNPUBLISH)
@bp.activity_trigger(input_name="payload")
async def dsr_erase_unpublish(payload: contracts.Unpublish) -> dict[str, Any]:
    return await activities.erase_unpublish(payload)


@bp.function_name(names.ERASE_ALL_IMAGES)
@bp.activity_trigger(input_name="payload")
async def dsr_erase_all_images(payload: contracts.OnProject) -> dict[str, Any]:
    return await activities.erase_all_images(payload)


@bp.function_name(names.ERASE_IMAGE_BATCH)
@bp.activity_trigger(input_name="payload")
async def dsr_erase_image_batch(payload: contracts.ImageBatch) -> dict[str, Any]:
    return await activities.erase_image_batch(payload)


@bp.function_name(names.ERASE_REMAINING_IMAGES)
@bp.activity_trigger(input_name="payload")
async def dsr_erase_remaining_images(payload: contracts.RemainingImages) -> dict[str, Any]:
    return await activities.erase_remaining_images(payload)


@bp.function_name(names.ERASE_PREDICTIONS)
@bp.activity_trigger(input_name="payload")
async def dsr_erase_predictions(payload: contracts.OnProject) -> dict[str, Any]:
    return await activities.erase_predictions(payload)


@bp.function_name(names.ERASE_TAGS)
@bp.activity_trigger(input_name="payload")
async def dsr_erase_tags(payload: contracts.OnProject) -> dict[str, Any]:
    return await activities.erase_tags(payload)


@bp.function_name(names.ERASE_ITERATIONS)
@bp.activity_trigger(input_name="payload")
async def dsr_erase_iterations(payload: contracts.Iterations) -> dict[str, Any]:
    return await activities.erase_iterations(payload)


@bp.function_name(names.ERASE_PROJECT)
@bp.activity_trigger(input_name="payload")
async def dsr_erase_project(payload: contracts.OnProject) -> dict[str, Any]:
    return await activities.erase_project(payload)


@bp.function_name(names.ERASE_VERIFY)
@bp.activity_trigger(input_name="payload")
async def dsr_erase_verify(payload: contracts.EraseVerify) -> list[dict[str, Any]]:
    return await activities.erase_verify(payload)


@bp.function_name(names.FINALIZE_ERASE)
@bp.activity_trigger(input_name="payload")
async def dsr_finalize_erase(payload: contracts.Finalize) -> dict[str, Any]:
    return await activities.finalize_erase_request(payload)


@bp.function_name(names.ERASE_OWN_COPIES)
@bp.activity_trigger(input_name="payload")
async def dsr_erase_own_copies(payload: contracts.OwnCopies) -> list[dict[str, Any]]:
    return await activities.erase_own_copies(payload)


@bp.function_name(names.EXPORT_ACCOUNT)
@bp.activity_trigger(input_name="payload")
async def dsr_export_account(payload: contracts.ExportAccount) -> dict[str, Any]:
    return await activities.export_account(payload)


@bp.function_name(names.ERASE_ACCOUNT)
@bp.activity_trigger(input_name="payload")
async def dsr_erase_account(payload: contracts.OnResource) -> dict[str, Any]:
    return await activities.erase_account(payload)
