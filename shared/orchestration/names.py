"""Function names shared by the blueprints and the orchestration code (history refers to them by name:
renaming one strands the instances that are running)."""

REQUEST_ORCHESTRATOR = "dsr_request_orchestrator"
EXPORT_RESOURCE_ORCHESTRATOR = "dsr_export_resource_orchestrator"
EXPORT_PROJECT_ORCHESTRATOR = "dsr_export_project_orchestrator"

RECORD_REQUEST = "dsr_record_request"
LIST_PROJECTS = "dsr_list_projects"
EXPORT_PROJECT_DETAILS = "dsr_export_project_details"
EXPORT_IMAGE_PAGE = "dsr_export_image_page"
EXPORT_IMAGE_PERFORMANCE_PAGE = "dsr_export_image_performance_page"
EXPORT_PREDICTION_PAGES = "dsr_export_prediction_pages"
COMMIT_JSONL = "dsr_commit_jsonl"
FINALIZE_EXPORT = "dsr_finalize_export"
SEND_COMPLETION = "dsr_send_completion"
