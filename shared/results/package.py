"""``export.zip``: the whole request folder as one portable package (GDPR Art. 20).

Built through a temporary file on local disk, one blob streamed in at a time, then uploaded in
blocks: memory stays at a chunk whatever the export's size.
"""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import AsyncIterator

from . import layout
from .store import ResultStore, StoredFile

CHUNK = 1024 * 1024


async def build_package(store: ResultStore, request_id: str) -> StoredFile:
    prefix = f"{request_id}/"
    with tempfile.TemporaryFile() as spool:
        with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
            for listed in (
                layout.data_prefix(request_id),
                layout.request_json(request_id),
                layout.report(request_id),
                layout.manifest(request_id),
            ):
                async for stored in store.list_files(listed):
                    downloader = await store.container.get_blob_client(stored.path).download_blob()
                    with archive.open(stored.path.removeprefix(prefix), "w", force_zip64=True) as entry:
                        async for chunk in downloader.chunks():
                            entry.write(chunk)
        spool.seek(0)

        async def read() -> AsyncIterator[bytes]:
            while chunk := spool.read(CHUNK):
                yield chunk

        return await store.put_stream(layout.export_zip(request_id), read(), "application/zip")
