"""``audit.jsonl``: every Training API call that read or changed data, for the request's record.

An append blob, so parallel activities add lines without coordinating. Each step collects its calls
(through the client's observer) and appends them in one block when it ends; a step that re-runs after
a crash appends its calls again, which is what happened. Lines hold operation, target ids, status and
``apim-request-id``: the client redacts credentials before a call is reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob.aio import BlobClient, ContainerClient

from shared.customvision import ApiCall

from . import layout

MAX_APPEND = 4 * 1024 * 1024  # the append-block limit
ORDER_WAIT_SECONDS = 30.0
# A copy that has not grown this long while behind has a gap no step will fill: it is filled from the log.
GAP_WAIT_SECONDS = 2.0

logger = logging.getLogger(__name__)


class AuditTrail:
    """Collects one step's API calls in memory (one step makes a bounded number of calls)."""

    def __init__(self, request_id: str, step: str, resource: str | None = None) -> None:
        self.request_id = request_id
        self.step = step
        self.resource = resource
        self.lines: list[dict[str, Any]] = []

    def record(self, call: ApiCall) -> None:
        self.lines.append({**call.to_json(), "step": self.step, "resource": self.resource})

    def note(self, **fields: Any) -> None:
        """A line that is not an API call (e.g. a storage download, or a decision)."""
        self.lines.append({"step": self.step, "resource": self.resource, **fields})

    async def flush(self, container: ContainerClient, evidence: ContainerClient | None = None) -> None:
        """Append the collected lines to ``audit.jsonl``, and to its copy in the write-once evidence
        container when one is configured (appends are what such a container still allows).

        The copy gets each block at the offset the block took in ``audit.jsonl``, so that steps
        flushing at the same moment land in the same order in both: the evidence is the log, byte for
        byte. A block whose predecessor never arrives there (its step died between the two appends)
        is appended after a bounded wait, and that is logged."""
        if not self.lines:
            return
        blocks = self._blocks()
        log = await _append_blob(container, self.request_id)
        offsets = [int(str((await log.append_block(block))["blob_append_offset"])) for block in blocks]
        if evidence is not None:
            copy = await _append_blob(evidence, self.request_id)
            for block, offset in zip(blocks, offsets, strict=True):
                await _append_at(copy, log, block, offset)
        self.lines.clear()

    def _blocks(self) -> list[bytes]:
        """Whole lines per block, each block under the append limit."""
        blocks: list[bytes] = []
        block = bytearray()
        for line in self.lines:
            encoded = json.dumps(line, sort_keys=True).encode() + b"\n"
            if block and len(block) + len(encoded) > MAX_APPEND:
                blocks.append(bytes(block))
                block.clear()
            block.extend(encoded)
        if block:
            blocks.append(bytes(block))
        return blocks


async def _append_blob(container: ContainerClient, request_id: str) -> BlobClient:
    blob = container.get_blob_client(layout.audit_log(request_id))
    try:
        await blob.create_append_blob(if_none_match="*")
    except ResourceExistsError:
        pass
    except ResourceNotFoundError:  # the container itself (locally nothing provisions it)
        with contextlib.suppress(ResourceExistsError):
            await container.create_container()
        await blob.create_append_blob(if_none_match="*")
    return blob


async def _append_at(copy: BlobClient, log: BlobClient, block: bytes, offset: int) -> None:
    """Append ``block`` to the evidence copy at ``offset``, where it stands in the log.

    Behind (a concurrent step's block is on its way): wait for it; when the copy stops growing (that
    step died between its two appends), fill the gap from the log itself. Ahead at this offset: the
    block is there already (a retried append whose answer was lost), or the copy went out of step;
    then the lines are appended where they fall, and that is logged. Bounded in time either way."""
    deadline = time.monotonic() + ORDER_WAIT_SECONDS
    last_size, still_since = -1, time.monotonic()
    while True:
        try:
            await copy.append_block(block, appendpos_condition=offset)
            return
        except HttpResponseError as error:
            if getattr(error, "error_code", None) != "AppendPositionConditionNotMet":
                raise
        size = int((await copy.get_blob_properties()).size)
        if size > offset:
            held = await (await copy.download_blob(offset=offset, length=len(block))).readall()
            if held != block:
                logger.warning("audit evidence of %s: a block appended out of order", copy.blob_name)
                await copy.append_block(block)
            return
        if size != last_size:
            last_size, still_since = size, time.monotonic()
        elif time.monotonic() - still_since > GAP_WAIT_SECONDS:
            gap = await (await log.download_blob(offset=size, length=offset - size)).readall()
            try:
                await copy.append_block(gap, appendpos_condition=size)
            except HttpResponseError as error:  # it arrived after all: look again
                if getattr(error, "error_code", None) != "AppendPositionConditionNotMet":
                    raise
            continue
        if time.monotonic() > deadline:
            logger.warning("audit evidence of %s: a block appended out of order", copy.blob_name)
            await copy.append_block(block)
            return
        await asyncio.sleep(0.1)
