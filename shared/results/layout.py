"""Blob names of a request's results (README "What an export writes"). One place, so writers, the
manifest and docs agree.

Every name is deterministic from the request and the item's ids: a step re-run after a crash
overwrites the same blobs instead of adding copies.
"""

from __future__ import annotations

from collections.abc import Callable

DATA = "data"


def _in_request(path: str, about: str) -> Callable[[str], str]:
    """The name of one blob (or prefix) of a request, ``{request_id}/{path}``."""

    def name(request_id: str) -> str:
        return f"{request_id}/{path}"

    name.__doc__ = about
    return name


request_json = _in_request("request.json", "The validated request (fingerprinted) the work was done for.")
manifest = _in_request("manifest.json", "The outcome, counts and every file with its SHA-256.")
audit_log = _in_request("audit.jsonl", "Every Training API call and decision, appended by each step.")
report = _in_request("report.html", "The person-readable summary of an export.")
report_json = _in_request("report.json", "The report's content for programs: the Art. 15 information and rights.")
export_zip = _in_request("export.zip", "The package of an export's files, when asked for.")
own_copies = _in_request("own-copies.json", "An erase's list of cvdsr's earlier copies it deletes, kept before.")
erasure_certificate = _in_request("erasure-certificate.json", "The signed proof of an erase.")
ended = _in_request("ended.json", "Written once when the sweeper announced a request that ended silently.")
work_prefix = _in_request("work/", "Blobs the work needs while it runs (clear selector, ids); removed at the end.")
private_request = _in_request("work/request.json", "The request with what identifies the person, while it runs.")


def account_location(request_id: str, resource: str) -> str:
    """The region of a resource's account, read before it is deleted: a re-run can still purge it."""
    return f"{request_id}/work/account-{resource}.json"


data_prefix = _in_request(f"{DATA}/", "The exported data.")
account = _in_request(f"{DATA}/account.json", "One file for the account rows of every resource (they are small).")


def rejection(request_id: str, digest: str) -> str:
    """A rejected repeat of an existing request id: recorded beside it, never over its manifest."""
    return f"{request_id}/rejections/{digest}.json"


def project_dir(request_id: str, project_id: str) -> str:
    # Project ids are UUIDs, unique across resources; the manifest says which resource each came from.
    return f"{request_id}/{DATA}/projects/{project_id}"


def project_file(request_id: str, project_id: str, name: str) -> str:
    """``project.json``, ``tags.json``, ``iterations.json``, ``images.jsonl``, ``predictions.jsonl``."""
    return f"{project_dir(request_id, project_id)}/{name}"


def iteration_file(request_id: str, project_id: str, iteration_id: str, name: str) -> str:
    """``iteration.json``, ``performance.json``, ``image-performances.jsonl``, ``exports.json``, ..."""
    return f"{project_dir(request_id, project_id)}/iterations/{iteration_id}/{name}"


def dataset_file(request_id: str, project_id: str, name: str) -> str:
    """``datasets/coco.json``, ``datasets/azureml/images.jsonl`` + ``MLTable``, ``datasets/dataset.csv``."""
    return f"{project_dir(request_id, project_id)}/datasets/{name}"


def image_file(request_id: str, project_id: str, image_id: str, extension: str) -> str:
    return f"{project_dir(request_id, project_id)}/images/{image_id}.{extension}"


def prediction_file(request_id: str, project_id: str, prediction_id: str, extension: str) -> str:
    return f"{project_dir(request_id, project_id)}/predictions/{prediction_id}.{extension}"


def register_month(year: int, month: int) -> str:
    """The request register's append blob of the requests received in one month (UTC), in the
    register container (``CVDSR_REGISTER_CONTAINER``): one JSON line per entry."""
    return f"{year:04d}-{month:02d}.jsonl"


def csv_beside(jsonl_path: str) -> str:
    """``images.csv`` beside ``images.jsonl``, ``predictions.csv`` beside ``predictions.jsonl``."""
    return jsonl_path.removesuffix(".jsonl") + ".csv"
