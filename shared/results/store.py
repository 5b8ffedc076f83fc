"""Writes a request's results into Blob Storage, streaming, with a SHA-256 on every file.

Each finished blob carries its digest in blob metadata (``sha256``), so the manifest is built by
listing the folder, not by passing file lists through orchestration history. Large files are written
as staged blocks: ``put_stream`` from one producer, or ``stage_part``/``commit_parts`` when parallel
activities each write one page of the same JSONL file. Block ids are derived from the part index, so
a re-run stages the same block again instead of adding a duplicate.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobBlock, ContentSettings
from azure.storage.blob.aio import ContainerClient

BLOCK_SIZE = 4 * 1024 * 1024
DIGEST_METADATA = "sha256"


@dataclass(frozen=True)
class StoredFile:
    """A written blob: what the manifest lists for it."""

    path: str
    size: int
    sha256: str
    content_type: str

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "bytes": self.size,
            "sha256": self.sha256,
            "content_type": self.content_type,
        }


def json_bytes(document: Any) -> bytes:
    """The canonical serialisation for result files: UTF-8, indented, keys in a stable order."""
    return json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True).encode() + b"\n"


def jsonl_bytes(records: list[dict[str, Any]]) -> bytes:
    """JSON Lines: one compact object per line."""
    return b"".join(json.dumps(r, ensure_ascii=False, sort_keys=True).encode() + b"\n" for r in records)


def _block_id(index: int) -> str:
    # Block ids of one blob must all have the same length.
    return base64.b64encode(f"part-{index:08d}".encode()).decode()


class ResultStore:
    """The results container (``dsr-results`` by default)."""

    def __init__(self, container: ContainerClient) -> None:
        self.container = container

    async def ensure_container(self) -> None:
        with contextlib.suppress(ResourceExistsError):
            await self.container.create_container()

    async def put_bytes(self, path: str, data: bytes, content_type: str) -> StoredFile:
        digest = hashlib.sha256(data).hexdigest()
        await self.container.upload_blob(
            path,
            data,
            overwrite=True,
            content_settings=ContentSettings(content_type=content_type),
            metadata={DIGEST_METADATA: digest},
        )
        return StoredFile(path, len(data), digest, content_type)

    async def put_json(self, path: str, document: Any) -> StoredFile:
        return await self.put_bytes(path, json_bytes(document), "application/json")

    async def put_stream(self, path: str, chunks: AsyncIterable[bytes], content_type: str) -> StoredFile:
        """Write a stream of any length; at most one block (4 MiB) is held in memory.

        A stream that ends within the first block (most image files) is one plain upload; only longer
        ones are staged block by block and committed.
        """
        digest = hashlib.sha256()
        size = 0
        buffer = bytearray()
        iterator = aiter(chunks)
        async for chunk in iterator:
            digest.update(chunk)
            size += len(chunk)
            buffer.extend(chunk)
            if len(buffer) >= BLOCK_SIZE:
                break
        else:
            hexdigest = digest.hexdigest()
            await self.container.upload_blob(
                path,
                bytes(buffer),
                overwrite=True,
                content_settings=ContentSettings(content_type=content_type),
                metadata={DIGEST_METADATA: hexdigest},
            )
            return StoredFile(path, size, hexdigest, content_type)

        blob = self.container.get_blob_client(path)
        blocks: list[BlobBlock] = []

        async def flush(data: bytes) -> None:
            block_id = _block_id(len(blocks))
            await blob.stage_block(block_id, data)
            blocks.append(BlobBlock(block_id=block_id))

        while True:
            while len(buffer) >= BLOCK_SIZE:
                await flush(bytes(buffer[:BLOCK_SIZE]))
                del buffer[:BLOCK_SIZE]
            try:
                chunk = await anext(iterator)
            except StopAsyncIteration:
                break
            digest.update(chunk)
            size += len(chunk)
            buffer.extend(chunk)
        if buffer:
            await flush(bytes(buffer))
        hexdigest = digest.hexdigest()
        await blob.commit_block_list(
            blocks,
            content_settings=ContentSettings(content_type=content_type),
            metadata={DIGEST_METADATA: hexdigest},
        )
        return StoredFile(path, size, hexdigest, content_type)

    async def stage_part(self, path: str, index: int, data: bytes) -> None:
        """Stage part ``index`` of a file that ``commit_parts`` assembles later (parallel pages)."""
        if not data:
            return
        if len(data) > 100 * 1024 * 1024:
            raise ValueError("a part must fit in one block (100 MiB)")
        await self.container.get_blob_client(path).stage_block(_block_id(index), data)

    async def commit_parts(self, path: str, indexes: list[int], content_type: str) -> StoredFile:
        """Assemble staged parts in index order; parts that staged nothing (empty pages) are skipped.

        The digest is computed by reading the committed blob back, which also proves it is readable.
        """
        blob = self.container.get_blob_client(path)
        staged: set[str] = set()
        committed: set[str] = set()
        try:
            committed_blocks, uncommitted_blocks = await blob.get_block_list("all")
            staged = {block.id for block in uncommitted_blocks}
            committed = {block.id for block in committed_blocks}
        except ResourceNotFoundError:
            pass
        # A re-run after a crash that followed the commit finds the blocks committed, not staged.
        available = staged | committed
        blocks = [BlobBlock(block_id=_block_id(i)) for i in sorted(indexes) if _block_id(i) in available]
        await blob.commit_block_list(blocks, content_settings=ContentSettings(content_type=content_type))
        digest, size = await self.digest(path)
        await blob.set_blob_metadata({DIGEST_METADATA: digest})
        return StoredFile(path, size, digest, content_type)

    async def digest(self, path: str) -> tuple[str, int]:
        """SHA-256 and size of a blob, streamed."""
        downloader = await self.container.get_blob_client(path).download_blob()
        digest = hashlib.sha256()
        size = 0
        async for chunk in downloader.chunks():
            digest.update(chunk)
            size += len(chunk)
        return digest.hexdigest(), size

    async def read_bytes(self, path: str) -> bytes:
        downloader = await self.container.get_blob_client(path).download_blob()
        data: bytes = await downloader.readall()
        return data

    async def read_json(self, path: str) -> Any:
        return json.loads(await self.read_bytes(path))

    async def exists(self, path: str) -> bool:
        return bool(await self.container.get_blob_client(path).exists())

    async def list_files(self, prefix: str) -> AsyncIterator[StoredFile]:
        """Every blob under ``prefix`` with its recorded digest (computed now where it is missing)."""
        async for item in self.container.list_blobs(name_starts_with=prefix, include=["metadata"]):
            digest = (item.metadata or {}).get(DIGEST_METADATA)
            size = int(item.size or 0)
            if not digest:
                digest, size = await self.digest(item.name)
            content_type = item.content_settings.content_type or "application/octet-stream"
            yield StoredFile(item.name, size, digest, content_type)
