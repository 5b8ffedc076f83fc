"""images.csv and predictions.csv: RFC 4180, one row per JSONL line, formulas defused, streamed."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from azure.storage.blob.aio import ContainerClient

from shared.export import tables
from shared.results import layout
from shared.results.store import ResultStore, jsonl_bytes

REQUEST, PROJECT = "CSV-1", "0b2a3c4d-5e6f-4a0b-9c8d-7e6f5a4b3c2d"


def image(n: int, **fields: Any) -> dict[str, Any]:
    return {
        "id": f"00000000-0000-4000-8000-{n:012d}",
        "created": "2026-11-01T09:00:00Z",
        "width": 640,
        "height": 480,
        "tags": [{"tagId": "t1", "tagName": "bolt"}],
        "regions": [{"tagId": "t1", "tagName": "bolt", "left": 0.1, "top": 0.2, "width": 0.3, "height": 0.4}],
        "metadata": {"line": "4"},
        **fields,
    }


def parse(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8"), newline="")))


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_a_cell_a_spreadsheet_would_evaluate_gets_an_apostrophe(start: str) -> None:
    assert tables.safe_cell(f'{start}HYPERLINK("x")') == f'\'{start}HYPERLINK("x")'


def test_other_cells_are_kept_as_they_are() -> None:
    assert [tables.safe_cell(v) for v in ("bolt", "a=b", 640, None, "")] == ["bolt", "a=b", "640", "", ""]


def test_rows_are_rfc_4180() -> None:
    line = tables.csv_line(['say "hi"', "a,b", "two\nlines", "plain"])
    assert line == b'"say ""hi""","a,b","two\nlines",plain\r\n'


def test_an_image_row_holds_tags_regions_metadata_file_and_digest() -> None:
    record = image(1, tags=[{"tagId": "t1", "tagName": "=cmd|' /C calc'!A0"}, {"tagId": "t2", "tagName": "nut"}])
    row = tables.image_row(record, PROJECT, {record["id"]: ("data/x.jpg", "ab" * 32)})
    assert dict(zip(tables.IMAGE_COLUMNS, row, strict=True)) == {
        "id": record["id"],
        "project": PROJECT,
        "created": "2026-11-01T09:00:00Z",
        "width": "640",
        "height": "480",
        "tags": "'=cmd|' /C calc'!A0; nut",
        "regions": json.dumps(record["regions"], sort_keys=True, separators=(",", ":")),
        "metadata": '{"line":"4"}',
        "file": "data/x.jpg",
        "sha256": "ab" * 32,
    }
    bare = tables.image_row({"id": "i"}, PROJECT, {})
    assert bare == ["i", PROJECT, "", "", "", "", "", "", "", ""]


async def test_the_csv_has_one_row_per_jsonl_line_with_its_file(
    store: ResultStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = [image(n, metadata={"badge": "@SUM(A1)"} if n == 3 else {"k": f"v{n}"}) for n in range(700)]
    path = layout.project_file(REQUEST, PROJECT, "images.jsonl")
    await store.put_bytes(path, jsonl_bytes(records), "application/x-ndjson")
    stored = await store.put_bytes(layout.image_file(REQUEST, PROJECT, records[5]["id"], "png"), b"png", "image/png")
    written = await tables.write_csv(store, REQUEST, PROJECT, path, "images")

    assert written["path"] == f"{REQUEST}/data/projects/{PROJECT}/images.csv"
    body = await store.read_bytes(written["path"])
    assert (written["bytes"], written["sha256"]) == (len(body), (await store.digest(written["path"]))[0])
    rows = parse(body)
    assert [row["id"] for row in rows] == [record["id"] for record in records]
    assert rows[5]["file"] == stored.path.removeprefix(f"{REQUEST}/")
    assert rows[5]["sha256"] == stored.sha256
    assert rows[4]["file"] == ""
    assert rows[3]["metadata"] == '{"badge":"@SUM(A1)"}'  # JSON starts with "{": nothing to defuse
    assert json.loads(rows[7]["metadata"]) == records[7]["metadata"]
    # A re-run writes the same bytes.
    assert (await tables.write_csv(store, REQUEST, PROJECT, path, "images"))["sha256"] == written["sha256"]


async def test_the_jsonl_is_read_as_a_stream_of_chunks(azurite: Any, store: ResultStore) -> None:
    records = [image(n, metadata={"note": "x" * 5000}) for n in range(40)]
    path = layout.project_file(REQUEST, PROJECT, "predictions.jsonl")
    await store.put_bytes(path, jsonl_bytes(records), "application/x-ndjson")
    # Small chunks cut through lines: each record is assembled from several.
    async with ContainerClient.from_connection_string(
        azurite.connection_string, store.container.container_name, max_single_get_size=4096, max_chunk_get_size=4096
    ) as small:
        downloader = await small.get_blob_client(path).download_blob()
        assert len([chunk async for chunk in downloader.chunks()]) > len(records)
        seen = [record async for record in tables.jsonl_records(ResultStore(small), path)]
    assert seen == records


async def test_predictions_get_their_own_columns(store: ResultStore) -> None:
    record = {
        "id": "p1",
        "project": PROJECT,
        "iteration": "it1",
        "created": "2026-11-30T10:00:00Z",
        "domain": "General",
        "predictions": [{"tagName": "+bolt", "probability": 0.9}],
    }
    path = layout.project_file(REQUEST, PROJECT, "predictions.jsonl")
    await store.put_bytes(path, jsonl_bytes([record]), "application/x-ndjson")
    written = await tables.write_csv(store, REQUEST, PROJECT, path, "predictions")
    (row,) = parse(await store.read_bytes(written["path"]))
    assert list(row) == tables.PREDICTION_COLUMNS
    assert row["iteration"] == "it1"
    assert json.loads(row["predictions"]) == record["predictions"]


async def test_no_csv_for_other_listings(store: ResultStore) -> None:
    with pytest.raises(ValueError, match="no CSV"):
        await tables.write_csv(store, REQUEST, PROJECT, "x.jsonl", "image_performances")
