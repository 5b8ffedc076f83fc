"""``audit.jsonl``: every Training API call that read or changed data, for the request's record.

An append blob, so parallel activities add lines without coordinating. Each step collects its calls
(through the client's observer) and appends them in one block when it ends; a step that re-runs after
a crash appends its calls again, which is what happened. Lines hold operation, target ids, status and
``apim-request-id``: the client redacts credentials before a call is reported.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob.aio import ContainerClient

from shared.customvision import ApiCall

from . import layout

MAX_APPEND = 4 * 1024 * 1024  # the append-block limit


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
        container when one is configured (appends are what such a container still allows)."""
        if not self.lines:
            return
        for target in (container, evidence):
            if target is not None:
                await self._append(target)
        self.lines.clear()

    async def _append(self, container: ContainerClient) -> None:
        blob = container.get_blob_client(layout.audit_log(self.request_id))
        try:
            await blob.create_append_blob(if_none_match="*")
        except ResourceExistsError:
            pass
        except ResourceNotFoundError:  # the container itself (locally nothing provisions it)
            with contextlib.suppress(ResourceExistsError):
                await container.create_container()
            await blob.create_append_blob(if_none_match="*")
        # Whole lines per block, each block under the append limit.
        block = bytearray()
        for line in self.lines:
            encoded = json.dumps(line, sort_keys=True).encode() + b"\n"
            if block and len(block) + len(encoded) > MAX_APPEND:
                await blob.append_block(bytes(block))
                block.clear()
            block.extend(encoded)
        if block:
            await blob.append_block(bytes(block))
