"""Blob names of a request's results (README "What an export writes"). One place, so writers, the
manifest and docs agree.

Every name is deterministic from the request and the item's ids: a step re-run after a crash
overwrites the same blobs instead of adding copies.
"""

from __future__ import annotations

DATA = "data"


def request_json(request_id: str) -> str:
    return f"{request_id}/request.json"


def manifest(request_id: str) -> str:
    return f"{request_id}/manifest.json"


def audit_log(request_id: str) -> str:
    return f"{request_id}/audit.jsonl"


def report(request_id: str) -> str:
    return f"{request_id}/report.html"


def export_zip(request_id: str) -> str:
    return f"{request_id}/export.zip"


def erasure_certificate(request_id: str) -> str:
    return f"{request_id}/erasure-certificate.json"


def ended(request_id: str) -> str:
    """Written once when the sweeper announced a request that ended without announcing itself."""
    return f"{request_id}/ended.json"


def rejection(request_id: str, digest: str) -> str:
    """A rejected repeat of an existing request id: recorded beside it, never over its manifest."""
    return f"{request_id}/rejections/{digest}.json"


def work_prefix(request_id: str) -> str:
    """Blobs the work needs while it runs (the clear selector, selected ids); removed at the end."""
    return f"{request_id}/work/"


def private_request(request_id: str) -> str:
    """The request as received, with the values that identify the person: only while it runs."""
    return f"{request_id}/work/request.json"


def data_prefix(request_id: str) -> str:
    return f"{request_id}/{DATA}/"


def account(request_id: str) -> str:
    """One file for the account rows of every resource in the request (they are small)."""
    return f"{request_id}/{DATA}/account.json"


def project_dir(request_id: str, project_id: str) -> str:
    # Project ids are UUIDs, unique across resources; the manifest says which resource each came from.
    return f"{request_id}/{DATA}/projects/{project_id}"


def project_file(request_id: str, project_id: str, name: str) -> str:
    """``project.json``, ``tags.json``, ``iterations.json``, ``images.jsonl``, ``predictions.jsonl``."""
    return f"{project_dir(request_id, project_id)}/{name}"


def iteration_file(request_id: str, project_id: str, iteration_id: str, name: str) -> str:
    """``iteration.json``, ``performance.json``, ``image-performances.jsonl``, ``exports.json``, ..."""
    return f"{project_dir(request_id, project_id)}/iterations/{iteration_id}/{name}"


def image_file(request_id: str, project_id: str, image_id: str, extension: str) -> str:
    return f"{project_dir(request_id, project_id)}/images/{image_id}.{extension}"


def prediction_file(request_id: str, project_id: str, prediction_id: str, extension: str) -> str:
    return f"{project_dir(request_id, project_id)}/predictions/{prediction_id}.{extension}"
