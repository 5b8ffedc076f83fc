"""The activity layer: what every activity works with, opened in one place.

- ``Step``: an export or erase step on one resource: the Training API client of that resource and the
  results store (both reused across invocations, ``shared.clients``), and the step's own audit trail
  (appended to ``audit.jsonl`` when the step ends, even on failure).
- ``in_step(name)``: makes ``body(step, payload)`` an activity ``(payload) -> result`` that opens the
  step from the payload's ``request_id`` and ``resource``.
- ``with_store``: makes ``body(service, store, payload)`` an activity that needs storage only.

``shared.activities`` holds the bodies; ``functions/activities.py`` binds each to a trigger.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from azure.storage.blob.aio import BlobServiceClient

from shared import clients
from shared.connections import evidence_container, results_container
from shared.customvision import TrainingClient
from shared.results.audit import AuditTrail
from shared.results.store import ResultStore

Payload = dict[str, Any]
Result = TypeVar("Result")
# A payload of ``shared.contracts`` (a TypedDict is a Mapping[str, object]).
P = TypeVar("P", bound=Mapping[str, object])


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
    """What one activity run works with: the process's clients (``shared.clients``) and its own audit
    trail, whose lines are appended when the step ends, even on failure."""
    audit = AuditTrail(request_id, step, resource)
    service = await clients.blob_service(environ)
    container = results_container(service, environ)
    client = await clients.training_client(resource, environ)
    with clients.observing(audit.record):
        try:
            yield Step(request_id, client, ResultStore(container), audit, service)
        finally:
            await audit.flush(container, evidence_container(service, environ))


def in_step(name: str) -> Callable[[Callable[[Step, P], Awaitable[Result]]], Callable[[P], Awaitable[Result]]]:
    """An activity on one resource (its payload holds ``request_id`` and ``resource``); ``name`` is
    the step as the audit log records it."""

    def wrap(body: Callable[[Step, P], Awaitable[Result]]) -> Callable[[P], Awaitable[Result]]:
        @functools.wraps(body)
        async def activity(payload: P) -> Result:
            async with open_step(str(payload["request_id"]), name, str(payload["resource"])) as step:
                return await body(step, payload)

        return activity

    return wrap


def with_store(
    body: Callable[[BlobServiceClient, ResultStore, P], Awaitable[Result]],
) -> Callable[[P], Awaitable[Result]]:
    """An activity that needs the results container and nothing of Custom Vision."""

    @functools.wraps(body)
    async def activity(payload: P) -> Result:
        service = await clients.blob_service()
        return await body(service, ResultStore(results_container(service)), payload)

    return activity
