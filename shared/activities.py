"""The activities' bodies: from a JSON-able dict to a JSON-able dict, each opened by the activity
layer (``shared.step``: ``in_step`` for work on a resource, ``with_store`` for storage only).

``functions/activities.py`` binds each to an ``activity_trigger`` in one line. Inputs and outputs are
what passes through orchestration history: ids, counts, page numbers, paths, never data.
"""

from __future__ import annotations

from typing import Any

from azure.storage.blob.aio import BlobServiceClient

from shared import clients, endings, extensions
from shared import contracts as c
from shared.arm import ArmClient, ArmError
from shared.connections import evidence_container, results_container
from shared.customvision import AuthenticationError
from shared.datasets.writer import write_datasets
from shared.dsr_request import DsrRequest
from shared.erase import accountability, own_copies
from shared.erase import steps as erase_steps
from shared.erase import verify as erase_checks
from shared.erase.finalize import finalize_erase
from shared.events import lifecycle
from shared.events.completion import deliver_outcome
from shared.export import images, performance, predictions, project, tables
from shared.export.finalize import finalize_export
from shared.results import layout
from shared.results.audit import AuditTrail
from shared.results.store import ResultStore
from shared.selection import clear_selector, select_images
from shared.settings import app_settings, load_resources
from shared.signing import configured_signer
from shared.step import Step, in_step, with_store


@with_store
async def record_request(service: BlobServiceClient, store: ResultStore, payload: c.WithRequest) -> dict[str, Any]:
    """``request.json``: the validated request (fingerprinted, as history holds it) the work was done for;
    then ``cvdsr.request.acknowledged`` goes out (sent again, under the same id, if this runs again)."""
    request = DsrRequest.from_json_dict(payload["request"])
    await store.ensure_container()
    stored = await store.put_json(layout.request_json(request.request_id), request.to_json())
    await lifecycle.acknowledge(service, payload["request"])
    return {"path": stored.path, "sha256": stored.sha256}


@in_step("list_projects")
async def list_projects(step: Step, payload: c.ListProjects) -> dict[str, Any]:
    try:
        return await project.list_project_ids(step, payload["projects"])
    except AuthenticationError as error:
        # A wrong or revoked key stays wrong: answered, not raised, so that the activity's retries do
        # not hold the request's failure back for a minute. The message holds no key.
        return {"refused": str(error)}


@in_step("export_project_details")
async def export_project_details(step: Step, payload: c.ProjectDetails) -> dict[str, Any]:
    return await project.export_project_details(
        step, payload["project_id"], payload["include"], count_images=payload.get("count_images", True)
    )


@in_step("export_datasets")
async def export_datasets(step: Step, payload: c.Datasets) -> dict[str, Any]:
    return await write_datasets(step, payload["project_id"], payload["iteration_ids"], payload["formats"])


@in_step("export_select_images")
async def export_select_images(step: Step, payload: c.SelectImages) -> dict[str, Any]:
    selector = await clear_selector(step.service, step.store, step.request_id, payload["selector"])
    return await select_images(step.client, step.store, step.request_id, payload["project_id"], selector)


@in_step("export_selected_image_page")
async def export_selected_image_page(step: Step, payload: c.SelectedImagePage) -> dict[str, Any]:
    return await images.export_selected_image_page(
        step,
        payload["project_id"],
        payload["iteration_id"],
        payload["ids_path"],
        payload["page"],
        with_files=payload["with_files"],
    )


@in_step("export_image_page")
async def export_image_page(step: Step, payload: c.ImagePage) -> dict[str, Any]:
    return await images.export_image_page(
        step, payload["project_id"], payload["iteration_id"], payload["page"], with_files=payload["with_files"]
    )


@in_step("export_image_performance_page")
async def export_image_performance_page(step: Step, payload: c.ImagePerformancePage) -> dict[str, Any]:
    return await performance.export_image_performance_page(
        step, payload["project_id"], payload["iteration_id"], payload["page"]
    )


@in_step("export_prediction_pages")
async def export_prediction_pages(step: Step, payload: c.PredictionPages) -> dict[str, Any]:
    return await predictions.export_prediction_pages(
        step,
        payload["project_id"],
        continuation=payload["continuation"],
        first_part=payload["first_part"],
        with_files=payload["with_files"],
    )


def _listing_path(payload: c.CommitJsonl) -> str:
    request_id, project_id, iteration_id = payload["request_id"], payload["project_id"], payload["iteration_id"]
    listing = payload["listing"]
    if listing == "images":
        return images.images_jsonl_path(request_id, project_id, iteration_id)
    if listing == "image_performances":
        if iteration_id is None:
            raise ValueError("image performances belong to an iteration: iteration_id is required")
        return performance.image_performances_path(request_id, project_id, iteration_id)
    if listing == "predictions":
        return predictions.predictions_path(request_id, project_id)
    raise ValueError(f"unknown listing {listing!r}")


@with_store
async def commit_jsonl(service: BlobServiceClient, store: ResultStore, payload: c.CommitJsonl) -> dict[str, Any]:
    """Assemble the listing; images and predictions also get their CSV beside it (``shared.export.tables``)."""
    path = _listing_path(payload)
    committed = await images.commit_jsonl(store, path, payload["pages"])
    if payload["listing"] in ("images", "predictions"):
        await tables.write_csv(store, payload["request_id"], payload["project_id"], path, payload["listing"])
    return committed


@with_store
async def finalize(service: BlobServiceClient, store: ResultStore, payload: c.Finalize) -> dict[str, Any]:
    request = payload["request"]
    settings = app_settings()
    return await finalize_export(
        store,
        request,
        payload["started_at"],
        payload["resources"],
        zip_package=bool(request.get("export_zip")) or settings.export_zip,
        api_version=settings.api_version,
        privacy={name: resource.privacy for name, resource in load_resources().items()},
    )


@with_store
async def record_failure(service: BlobServiceClient, store: ResultStore, payload: c.RecordFailure) -> dict[str, Any]:
    """The request failed for good: a failed outcome, and a manifest that says why."""
    return await endings.record_failure(store, payload["request"], payload["started_at"], payload["reason"])


@with_store
async def remove_work(service: BlobServiceClient, store: ResultStore, payload: c.OnRequest) -> dict[str, Any]:
    """The request's work blobs (the clear selector, selected ids) go once the outcome is out."""
    return {"removed": await endings.remove_work(service, store, payload["request_id"])}


async def send_completion_event(payload: c.SendCompletion) -> dict[str, str]:
    """Sign a fresh link and send the event. Returns per-channel delivery, without the link."""
    return await deliver_outcome(payload["request"], payload["outcome"])


@in_step("erase_plan")
async def erase_plan_project(step: Step, payload: c.ErasePlan) -> dict[str, Any]:
    selector = payload["selector"]
    if selector is not None:
        selector = await clear_selector(step.service, step.store, step.request_id, selector)
    return await erase_steps.plan_project(step, payload["project_id"], selector)


@in_step("erase_unpublish")
async def erase_unpublish(step: Step, payload: c.Unpublish) -> dict[str, Any]:
    return await erase_steps.unpublish(step, payload["project_id"], payload["iteration_ids"])


@in_step("erase_all_images")
async def erase_all_images(step: Step, payload: c.OnProject) -> dict[str, Any]:
    return await erase_steps.delete_all_images(step, payload["project_id"])


@in_step("erase_image_batch")
async def erase_image_batch(step: Step, payload: c.ImageBatch) -> dict[str, Any]:
    return await erase_steps.delete_image_batch(step, payload["project_id"], payload["ids_path"], payload["batch"])


@in_step("erase_remaining_images")
async def erase_remaining_images(step: Step, payload: c.RemainingImages) -> dict[str, Any]:
    return await erase_steps.remaining_images(
        step, payload["project_id"], ids_path=payload["ids_path"], iteration_ids=payload["iteration_ids"]
    )


@in_step("erase_predictions")
async def erase_predictions(step: Step, payload: c.OnProject) -> dict[str, Any]:
    return await erase_steps.delete_predictions(step, payload["project_id"])


@in_step("erase_tags")
async def erase_tags(step: Step, payload: c.OnProject) -> dict[str, Any]:
    return await erase_steps.delete_tags(step, payload["project_id"])


@in_step("erase_iterations")
async def erase_iterations(step: Step, payload: c.Iterations) -> dict[str, Any]:
    return await erase_steps.delete_iterations(step, payload["project_id"], payload["iteration_ids"])


@in_step("erase_project")
async def erase_project(step: Step, payload: c.OnProject) -> dict[str, Any]:
    return await erase_steps.delete_project(step, payload["project_id"])


@in_step("erase_verify")
async def erase_verify(step: Step, payload: c.EraseVerify) -> list[dict[str, Any]]:
    if payload["mode"] == "project":
        return await erase_checks.verify_project_deleted(step, payload["project_id"])
    return await erase_checks.verify_images_deleted(
        step, payload["project_id"], payload["ids_path"], payload["iteration_ids"], payload["deleted_iterations"]
    )


@with_store
async def finalize_erase_request(service: BlobServiceClient, store: ResultStore, payload: c.Finalize) -> dict[str, Any]:
    evidence = evidence_container(service)
    request = payload["request"]
    signer = None if request.get("dry_run") else configured_signer(app_settings())
    try:
        return await finalize_erase(
            store,
            request,
            payload["started_at"],
            payload["resources"],
            evidence=ResultStore(evidence) if evidence else None,
            signer=signer,
            extensions=await extensions.load(service, request["request_id"]),
            acknowledged_at=await lifecycle.acknowledged_at(service, request["request_id"]),
            configuration_sha256=accountability.configuration_sha256(app_settings(), load_resources()),
            own_copies=payload.get("own_copies"),  # None: not searched (no subject.reference)
        )
    finally:
        if signer is not None:
            await signer.close()


@with_store
async def erase_own_copies(
    service: BlobServiceClient, store: ResultStore, payload: c.OwnCopies
) -> list[dict[str, Any]]:
    """cvdsr's earlier exports for the erase's data subject: deleted (listed on a dry run)."""
    return await own_copies.erase_own_copies(
        service,
        store,
        payload["request_id"],
        payload["subject"],
        dry_run=payload["dry_run"],
        ticket_system=payload.get("ticket_system"),
    )


async def export_account(payload: c.ExportAccount) -> dict[str, Any]:
    """``data/account.json``: the account row of every resource with an ARM resource id."""
    resources = load_resources()
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    errors: list[dict[str, Any]] = []
    arm = ArmClient()
    for name in payload["resources"]:
        resource_id = resources[name].arm_resource_id
        if not resource_id:
            notes.append(
                f"account row of '{name}' not exported: CUSTOMVISION__{name.upper()}__ARMRESOURCEID is not set"
            )
            continue
        try:
            rows.append(await arm.account_row(name, resource_id))
        except ArmError as error:
            errors.append({"kind": "account", "resource": name, "error": str(error)})
    if rows:
        service = await clients.blob_service()
        await ResultStore(results_container(service)).put_json(layout.account(payload["request_id"]), rows)
    expected = sum(1 for name in payload["resources"] if resources[name].arm_resource_id)
    return {
        "resource": "(account)",
        "projects": [],
        "expected": {"account": expected},
        "exported": {"account": len(rows)},
        "errors": errors,
        "notes": notes,
    }


async def erase_account(payload: c.OnResource) -> dict[str, Any]:
    """Delete and purge the account of one resource (only called once its contents are verified gone)."""
    resource_id = load_resources()[payload["resource"]].arm_resource_id
    if not resource_id:
        return {"deleted": False, "checks": [], "error": "CUSTOMVISION__<NAME>__ARMRESOURCEID is not set"}
    audit = AuditTrail(payload["request_id"], "erase_account", payload["resource"])
    service = await clients.blob_service()
    store = ResultStore(results_container(service))
    kept = layout.account_location(payload["request_id"], payload["resource"])
    try:
        arm = ArmClient(observer=lambda line: audit.note(**line))
        # The region is needed to purge, and an account that is already deleted no longer tells it:
        # read it first and keep it, so a re-run after a crash between delete and purge still purges.
        location = await arm.location_of(resource_id)
        if location is not None:
            await store.put_json(kept, {"location": location})
        elif await store.exists(kept):
            location = (await store.read_json(kept)).get("location")
        checks = await arm.delete_and_purge(resource_id, location)
    finally:
        await audit.flush(results_container(service), evidence_container(service))
    return {"deleted": all(check["passed"] for check in checks), "checks": checks}
