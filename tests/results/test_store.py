"""The result store against Azurite: digests recorded, blocks assembled in order, re-runs idempotent."""

from __future__ import annotations

import hashlib
import json
import uuid
import zipfile
from io import BytesIO
from typing import Any

import pytest

from shared.results import layout
from shared.results import store as store_module
from shared.results.audit import AuditTrail
from shared.results.package import build_package
from shared.results.store import ResultStore, jsonl_bytes


async def read(store: ResultStore, path: str) -> bytes:
    return await (await store.container.get_blob_client(path).download_blob()).readall()


async def test_put_json_records_size_and_digest(store: ResultStore) -> None:
    stored = await store.put_json("r1/data/x.json", {"b": 1, "a": "é"})
    body = await read(store, "r1/data/x.json")
    assert stored.sha256 == hashlib.sha256(body).hexdigest()
    assert stored.size == len(body)
    assert json.loads(body) == {"a": "é", "b": 1}
    listed = [f async for f in store.list_files("r1/")]
    assert listed == [stored]


async def test_put_stream_spans_several_blocks(store: ResultStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "BLOCK_SIZE", 1000)
    chunks = [bytes([n % 251]) * 777 for n in range(10)]

    async def produce():
        for chunk in chunks:
            yield chunk

    stored = await store.put_stream("r1/big.bin", produce(), "application/octet-stream")
    expected = b"".join(chunks)
    assert await read(store, "r1/big.bin") == expected
    assert stored.sha256 == hashlib.sha256(expected).hexdigest()
    blocks, _ = await store.container.get_blob_client("r1/big.bin").get_block_list("committed")
    assert len(blocks) == 8  # 7770 bytes in blocks of 1000


async def test_empty_stream_makes_an_empty_file(store: ResultStore) -> None:
    async def nothing():
        return
        yield b""

    stored = await store.put_stream("r1/empty.jsonl", nothing(), "application/x-ndjson")
    assert stored.size == 0
    assert await read(store, "r1/empty.jsonl") == b""


async def test_parts_are_assembled_in_index_order_and_reruns_do_not_duplicate(store: ResultStore) -> None:
    path = "r1/data/projects/p/images.jsonl"
    pages = {n: jsonl_bytes([{"id": f"img-{n}-{k}"} for k in range(3)]) for n in range(4)}
    for n in (2, 0, 3, 1):  # pages finish in any order
        await store.stage_part(path, n, pages[n])
    await store.stage_part(path, 1, pages[1])  # a re-run page stages the same block again
    first = await store.commit_parts(path, [0, 1, 2, 3], "application/x-ndjson")
    body = await read(store, path)
    assert body == b"".join(pages[n] for n in range(4))
    assert first.sha256 == hashlib.sha256(body).hexdigest()
    # A commit re-run after a crash (blocks now committed) gives the same file.
    again = await store.commit_parts(path, [0, 1, 2, 3], "application/x-ndjson")
    assert again == first
    assert [f.sha256 async for f in store.list_files(path)] == [first.sha256]


async def test_empty_pages_are_skipped(store: ResultStore) -> None:
    path = "r1/x.jsonl"
    await store.stage_part(path, 0, b'{"a":1}\n')
    await store.stage_part(path, 1, b"")
    stored = await store.commit_parts(path, [0, 1], "application/x-ndjson")
    assert await read(store, path) == b'{"a":1}\n'
    assert stored.size == 8


async def test_audit_lines_are_appended_whole(store: ResultStore) -> None:
    first = AuditTrail("r1", "step-a", "res")
    first.note(operation="GetProjects", status=200)
    second = AuditTrail("r1", "step-b", "res")
    for n in range(3):
        second.note(operation="DeleteTag", target=f"/projects/p/tags/{n}", status=204)
    await first.flush(store.container)
    await second.flush(store.container)
    await second.flush(store.container)  # nothing left to write
    lines = [json.loads(line) for line in (await read(store, layout.audit_log("r1"))).splitlines()]
    assert [line["step"] for line in lines] == ["step-a", "step-b", "step-b", "step-b"]
    assert lines[3]["target"] == "/projects/p/tags/2"


async def test_package_holds_the_folder_with_relative_names(store: ResultStore) -> None:
    await store.put_json(layout.request_json("r1"), {"request_id": "r1"})
    await store.put_bytes(layout.image_file("r1", "p1", "i1", "png"), b"\x89PNG....", "image/png")
    await store.put_json(layout.manifest("r1"), {"files": []})
    await store.put_json("r2/request.json", {"request_id": "r2"})  # another request: not included
    package = await build_package(store, "r1")
    archive = zipfile.ZipFile(BytesIO(await read(store, package.path)))
    assert sorted(archive.namelist()) == [
        "data/projects/p1/images/i1.png",
        "manifest.json",
        "request.json",
    ]
    assert archive.read("data/projects/p1/images/i1.png") == b"\x89PNG...."
    assert package.sha256 == hashlib.sha256(await read(store, package.path)).hexdigest()


async def test_a_small_stream_is_one_upload(store: ResultStore) -> None:
    async def produce():
        yield b"\x89PNG"
        yield b"...."

    stored = await store.put_stream("r1/small.png", produce(), "image/png")
    assert await read(store, "r1/small.png") == b"\x89PNG...."
    assert stored.sha256 == hashlib.sha256(b"\x89PNG....").hexdigest()
    committed, _ = await store.container.get_blob_client("r1/small.png").get_block_list("committed")
    assert committed == [], "a single Put Blob, no staged blocks"
    listed = [f async for f in store.list_files("r1/small.png")]
    assert listed == [stored]


async def test_reads_of_a_large_blob_come_in_bounded_ranges(azurite) -> None:
    """The store's clients read at most ``DOWNLOAD_RANGE`` per GET, so a digest (or the zip package)
    of a 10 MiB JSONL never holds the whole file: the SDK would otherwise fetch up to 32 MiB at once."""
    from shared.connections import DOWNLOAD_RANGE, blob_service

    sizes: list[int] = []

    def record(response: Any) -> None:
        if response.http_request.method == "GET":
            sizes.append(int(response.http_response.headers.get("Content-Length", 0)))

    data = bytes(range(256)) * (10 * 1024 * 1024 // 256)
    async with blob_service({"AzureWebJobsStorage": azurite.connection_string}) as service:
        container = service.get_container_client(f"t{uuid.uuid4().hex[:12]}")
        await container.create_container()
        store = ResultStore(container)
        await container.upload_blob("r9/big.jsonl", data)
        blob = container.get_blob_client("r9/big.jsonl")
        downloader = await blob.download_blob(raw_response_hook=record)
        received = b"".join([chunk async for chunk in downloader.chunks()])
        assert received == data
        assert await store.digest("r9/big.jsonl") == (hashlib.sha256(data).hexdigest(), len(data))
    assert len(sizes) == 3, sizes  # 4 + 4 + 2 MiB
    assert max(sizes) <= DOWNLOAD_RANGE
