"""Function names shared by the blueprints and the orchestration code (history refers to them by name:
renaming one strands the instances that are running)."""

REQUEST_ORCHESTRATOR = "dsr_request_orchestrator"
EXPORT_RESOURCE_ORCHESTRATOR = "dsr_export_resource_orchestrator"
EXPORT_PROJECT_ORCHESTRATOR = "dsr_export_project_orchestrator"

RECORD_REQUEST = "dsr_record_request"
LIST_PROJECTS = "dsr_list_projects"
EXPORT_PROJECT_DETAILS = "dsr_export_project_details"
EXPORT_IMAGE_PAGE = "dsr_export_image_page"
EXPORT_SELECT_IMAGES = "dsr_export_select_images"
EXPORT_SELECTED_IMAGE_PAGE = "dsr_export_selected_image_page"
EXPORT_IMAGE_PERFORMANCE_PAGE = "dsr_export_image_performance_page"
EXPORT_PREDICTION_PAGES = "dsr_export_prediction_pages"
EXPORT_DATASETS = "dsr_export_datasets"
COMMIT_JSONL = "dsr_commit_jsonl"
FINALIZE_EXPORT = "dsr_finalize_export"
SEND_COMPLETION = "dsr_send_completion"
RECORD_FAILURE = "dsr_record_failure"
REMOVE_WORK = "dsr_remove_work"

ERASE_RESOURCE_ORCHESTRATOR = "dsr_erase_resource_orchestrator"
ERASE_PROJECT_ORCHESTRATOR = "dsr_erase_project_orchestrator"
ERASE_PLAN_PROJECT = "dsr_erase_plan_project"
ERASE_UNPUBLISH = "dsr_erase_unpublish"
ERASE_ALL_IMAGES = "dsr_erase_all_images"
ERASE_IMAGE_BATCH = "dsr_erase_image_batch"
ERASE_REMAINING_IMAGES = "dsr_erase_remaining_images"
ERASE_PREDICTIONS = "dsr_erase_predictions"
ERASE_TAGS = "dsr_erase_tags"
ERASE_ITERATIONS = "dsr_erase_iterations"
ERASE_PROJECT = "dsr_erase_project"
ERASE_VERIFY = "dsr_erase_verify"
FINALIZE_ERASE = "dsr_finalize_erase"
ERASE_OWN_COPIES = "dsr_erase_own_copies"

EXPORT_ACCOUNT = "dsr_export_account"
ERASE_ACCOUNT = "dsr_erase_account"


# Sub-orchestration instance ids. The status endpoint finds a running request's progress by them.
# ``:`` is outside the request id alphabet (``shared.dsr_request.is_request_id``): no request id can
# equal one of these, and the status route refuses them.
def resource_instance_id(request_id: str, resource: str) -> str:
    return f"{request_id}:{resource}"


def project_instance_id(resource_instance: str, project_id: str) -> str:
    return f"{resource_instance}:{project_id}"
