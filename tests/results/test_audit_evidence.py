"""The evidence copy of ``audit.jsonl`` (a write-once container) is the log, byte for byte: steps that
flush at the same moment land in one order in both, and a gap left by a step that died between its
two appends is filled from the log."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from azure.storage.blob.aio import ContainerClient

from shared.results import audit as audit_module
from shared.results import layout
from shared.results.audit import AuditTrail

from .conftest import new_container


@pytest.fixture
async def evidence(azurite) -> AsyncIterator[ContainerClient]:
    """The write-once evidence container beside the results container (``container``)."""
    async for client in new_container(azurite, "e"):
        yield client


async def read(container: ContainerClient, request_id: str) -> bytes:
    return await (await container.get_blob_client(layout.audit_log(request_id)).download_blob()).readall()


def trail(step: str, lines: int) -> AuditTrail:
    audit = AuditTrail("R-1", step, "demo")
    for n in range(lines):
        audit.note(operation=f"{step}-{n}", status=200)
    return audit


async def test_concurrent_steps_land_in_one_order_in_both(
    container: ContainerClient, evidence: ContainerClient
) -> None:
    await asyncio.gather(*(trail(f"step{n}", 5).flush(container, evidence) for n in range(12)))
    log = await read(container, "R-1")
    assert log.count(b"\n") == 60
    assert await read(evidence, "R-1") == log


async def test_a_gap_left_by_a_dead_step_is_filled_from_the_log(
    container: ContainerClient, evidence: ContainerClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_module, "GAP_WAIT_SECONDS", 0.3)
    await trail("first", 2).flush(container, evidence)
    await trail("died", 3).flush(container, None)  # reached the log, never the evidence
    await trail("after", 2).flush(container, evidence)
    assert await read(evidence, "R-1") == await read(container, "R-1")


async def test_a_block_already_in_the_copy_is_not_appended_twice(
    container: ContainerClient, evidence: ContainerClient
) -> None:
    step = trail("once", 3)
    (block,) = step._blocks()
    await step.flush(container, evidence)
    # The same block again at the same offset, as a retried append whose answer was lost would be.
    copy = evidence.get_blob_client(layout.audit_log("R-1"))
    log = container.get_blob_client(layout.audit_log("R-1"))
    await audit_module._append_at(copy, log, block, 0)
    assert await read(evidence, "R-1") == await read(container, "R-1")
