"""Copying image and model files from the URIs the API hands out into the results container."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from shared.customvision import APIStatusError, CustomVisionClientError, TrainingClient, UriExpiredError
from shared.customvision.models import ApiModel
from shared.results.store import ResultStore, StoredFile

logger = logging.getLogger(__name__)

_EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/jpg": "jpg",
    "image/png": "png",
    "image/bmp": "bmp",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/tiff": "tif",
    "application/zip": "zip",
    "application/x-zip-compressed": "zip",
}


async def copy_counted(copying: Awaitable[StoredFile], result: dict[str, Any], item: dict[str, str]) -> None:
    """Await one file copy and count it in a page's ``result``: its bytes, or an error line naming
    ``item`` (its kind and id). One file that cannot be copied does not fail the page."""
    try:
        stored = await copying
    except CustomVisionClientError as error:
        named = ", ".join(f"{key}={value}" for key, value in item.items())
        logger.warning("file not copied (%s): %s", named, describe_failure(error))
        result["errors"].append({**item, "error": describe_failure(error)})
    else:
        result["files"] += 1
        result["file_bytes"] += stored.size


def extension_for(content_type: str, default: str = "bin") -> str:
    return _EXTENSIONS.get(content_type.split(";")[0].strip().lower(), default)


async def copy_file(
    client: TrainingClient,
    store: ResultStore,
    project_id: str,
    uri: str,
    path_for: Callable[[str], str],
    *,
    refresh_uri: Callable[[], Awaitable[str | None]] | None = None,
    default_extension: str = "bin",
) -> StoredFile:
    """Stream one file into the store; ``path_for(extension)`` names the blob.

    An expired URI is fetched again through ``refresh_uri`` (which re-lists the item) once.
    """
    for attempt in (1, 2):
        try:
            async with client.download(project_id, uri) as download:
                path = path_for(extension_for(download.content_type, default_extension))
                return await store.put_stream(path, download.aiter_bytes(), download.content_type)
        except UriExpiredError:
            if attempt == 2 or refresh_uri is None:
                raise
            fresh = await refresh_uri()
            if fresh is None:
                raise
            logger.info("a file URI expired; listed the item again for a fresh one")
            uri = fresh
    raise AssertionError("unreachable")


def describe_failure(error: Exception) -> str:
    """A short, secret-free description of why a file could not be copied."""
    if isinstance(error, APIStatusError):
        return f"HTTP {error.status_code} {error.code or ''}".strip()
    if isinstance(error, CustomVisionClientError):
        return type(error).__name__
    return type(error).__name__


def without_query(uri: str) -> str:
    """The URI without its query string: for a storage URL, that is the whole SAS (signature, expiry)."""
    parts = urlsplit(uri)
    return urlunsplit(parts._replace(query="", fragment="")) if parts.scheme else uri


def scrub_uris(document: Any) -> Any:
    """``document`` with the query string of every ``...Uri`` field removed.

    The API's image, thumbnail, model and prediction URIs are storage URLs with SAS tokens. An export
    keeps where the data lived but never the token, which is a credential and changes on every listing
    (so a re-run writes the same bytes); the files themselves are copied next to the metadata.
    """
    if isinstance(document, dict):
        return {
            key: without_query(value) if isinstance(value, str) and key.lower().endswith("uri") else scrub_uris(value)
            for key, value in document.items()
        }
    if isinstance(document, list):
        return [scrub_uris(item) for item in document]
    return document


def for_export(item: ApiModel | Sequence[ApiModel]) -> Any:
    """A model (or list) as the API spells it, ready to write: URIs without their SAS tokens."""
    if not isinstance(item, ApiModel):
        return [scrub_uris(model.to_api_json()) for model in item]
    return scrub_uris(item.to_api_json())
