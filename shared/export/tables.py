"""``images.csv`` and ``predictions.csv``: the JSONL listings as spreadsheets (RFC 4180), one row per
item, for a person who opens the export in Excel rather than a program.

Written from the committed JSONL, read back as a stream and written as a stream, so a listing of any
length is never held in memory; what is held is the index of the project's copied files (id to path
and digest), which the rows name. Tags, region tags and metadata are the account's (user-controlled)
text: a cell that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, tab or
carriage return) gets a leading apostrophe. A re-run writes the same bytes over the same blob.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from shared.results import layout
from shared.results.store import ResultStore

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

IMAGE_COLUMNS = ["id", "project", "created", "width", "height", "tags", "regions", "metadata", "file", "sha256"]
PREDICTION_COLUMNS = ["id", "project", "iteration", "created", "domain", "predictions", "file", "sha256"]

FileIndex = dict[str, tuple[str, str]]  # item id -> (path relative to the request folder, sha256)


def safe_cell(value: Any) -> str:
    """One cell's text, defused: a spreadsheet shows it, never evaluates it."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")) if value else ""


def image_row(record: dict[str, Any], project_id: str, files: FileIndex) -> list[str]:
    """One ``images.jsonl`` line as a row: tags by name (``; ``), regions and metadata as compact JSON."""
    path, digest = files.get(record["id"], ("", ""))
    tags = "; ".join(str(tag.get("tagName") or tag.get("tagId")) for tag in record.get("tags") or [])
    return [
        safe_cell(cell)
        for cell in (
            record["id"],
            project_id,
            record.get("created"),
            record.get("width"),
            record.get("height"),
            tags,
            _compact(record.get("regions")),
            _compact(record.get("metadata")),
            path,
            digest,
        )
    ]


def prediction_row(record: dict[str, Any], project_id: str, files: FileIndex) -> list[str]:
    """One ``predictions.jsonl`` line as a row: the predictions as compact JSON (tag, probability, box)."""
    path, digest = files.get(record["id"], ("", ""))
    return [
        safe_cell(cell)
        for cell in (
            record["id"],
            record.get("project") or project_id,
            record.get("iteration"),
            record.get("created"),
            record.get("domain"),
            _compact(record.get("predictions")),
            path,
            digest,
        )
    ]


def csv_line(row: list[str]) -> bytes:
    """One RFC 4180 record: CRLF line end, a field quoted when it holds a comma, quote or line break; UTF-8."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(row)
    return buffer.getvalue().encode()


async def jsonl_records(store: ResultStore, path: str) -> AsyncIterator[dict[str, Any]]:
    """The records of a JSONL blob, read chunk by chunk (one line at a time is held)."""
    downloader = await store.container.get_blob_client(path).download_blob()
    pending = b""
    async for chunk in downloader.chunks():
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if line.strip():
                yield json.loads(line)
    if pending.strip():
        yield json.loads(pending)


async def file_index(store: ResultStore, request_id: str, folder: str) -> FileIndex:
    """The copied files under the request folder's ``folder/`` (``.../images/`` or ``.../predictions/``)."""
    index: FileIndex = {}
    async for stored in store.list_files(folder):
        item_id = stored.path.rsplit("/", 1)[-1].split(".", 1)[0]
        index[item_id] = (stored.path.removeprefix(f"{request_id}/"), stored.sha256)
    return index


async def write_csv(
    store: ResultStore, request_id: str, project_id: str, jsonl_path: str, listing: str
) -> dict[str, Any]:
    """The CSV beside ``jsonl_path`` (``listing`` is ``images`` or ``predictions``); returns its digest."""
    if listing == "images":
        header, to_row, folder = IMAGE_COLUMNS, image_row, "images"
    elif listing == "predictions":
        header, to_row, folder = PREDICTION_COLUMNS, prediction_row, "predictions"
    else:
        raise ValueError(f"no CSV for listing {listing!r}")
    files = await file_index(store, request_id, f"{layout.project_dir(request_id, project_id)}/{folder}/")
    row: Callable[[dict[str, Any], str, FileIndex], list[str]] = to_row

    async def body() -> AsyncIterator[bytes]:
        yield csv_line(header)
        async for record in jsonl_records(store, jsonl_path):
            yield csv_line(row(record, project_id, files))

    stored = await store.put_stream(layout.csv_beside(jsonl_path), body(), "text/csv; charset=utf-8")
    return {"path": stored.path, "bytes": stored.size, "sha256": stored.sha256}
