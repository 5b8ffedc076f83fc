"""What every export or erase step works with: a Training API client, the result store, the audit."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

from azure.storage.blob.aio import BlobServiceClient

from shared.connections import blob_service, evidence_container, results_container, training_client
from shared.customvision import TrainingClient
from shared.results.audit import AuditTrail
from shared.results.store import ResultStore


@dataclass
class Step:
    request_id: str
    client: TrainingClient
    store: ResultStore
    audit: AuditTrail
    service: BlobServiceClient


@asynccontextmanager
async def open_step(
    request_id: str, step: str, resource: str, environ: Mapping[str, str] | None = None
) -> AsyncIterator[Step]:
    """Clients for one activity run; the audit lines are appended when the step ends, even on failure."""
    audit = AuditTrail(request_id, step, resource)
    async with blob_service(environ) as service:
        container = results_container(service, environ)
        evidence = evidence_container(service, environ)
        async with training_client(resource, observer=audit.record, environ=environ) as client:
            try:
                yield Step(request_id, client, ResultStore(container), audit, service)
            finally:
                await audit.flush(container, evidence)
