"""The process's clients, reused across activity invocations.

The Functions guidance on managing connections: create clients once per process, not per invocation.
A Python worker runs every async invocation on one event loop, and an aiohttp or httpx session belongs
to the loop that opened it, so the clients are kept per loop and keyed by the settings they were built
from (a changed setting builds a new client, never reuses a stale one). They close when their loop
shuts down its async generators, as ``asyncio.run``, the worker and the development host do.

A Training API client is shared by every step on its resource; each step's calls still reach that
step's audit trail, through ``observing``, whose observer lives in the step's own context.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncGenerator, Hashable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

from azure.storage.blob.aio import BlobServiceClient

from shared.connections import (
    build_blob_service,
    build_training_client,
    resource_config,
    storage_config,
)
from shared.customvision import ApiCall, CallObserver, TrainingClient

logger = logging.getLogger(__name__)
_observer: ContextVar[CallObserver | None] = ContextVar("cvdsr_call_observer", default=None)


class _LoopClients:
    def __init__(self) -> None:
        # Keyed by the settings a client was built from: after a key rotation the old client stays (a
        # step may still be using it) and closes with the rest at shutdown.
        self.clients: dict[Hashable, BlobServiceClient | TrainingClient] = {}
        self.closer: AsyncGenerator[None, None] | None = None

    async def close_at_shutdown(self) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:  # the loop's shutdown_asyncgens() ends the generator: close what it opened
            clients, self.clients = list(self.clients.values()), {}
            for client in clients:
                await _close(client)


_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopClients] = weakref.WeakKeyDictionary()


async def _pool() -> _LoopClients:
    loop = asyncio.get_running_loop()
    pool = _by_loop.get(loop)
    if pool is None:
        pool = _by_loop[loop] = _LoopClients()
        pool.closer = pool.close_at_shutdown()
        await pool.closer.__anext__()  # started, so the loop finalizes it at shutdown
    return pool


async def _close(client: BlobServiceClient | TrainingClient) -> None:
    """Close one client (and an identity credential behind it); a failure does not stop the others."""
    try:
        if isinstance(client, TrainingClient):
            await client.aclose()
            return
        await client.close()
        credential = client.credential
        if hasattr(credential, "close"):
            await credential.close()
    except Exception:
        logger.warning("a client could not be closed", exc_info=False)


async def blob_service(environ: Mapping[str, str] | None = None) -> BlobServiceClient:
    """The results account's client for this process and loop. Do not close it."""
    config = storage_config(environ)
    pool = await _pool()
    client = pool.clients.get(("blob", config))
    if not isinstance(client, BlobServiceClient):
        client = pool.clients[("blob", config)] = build_blob_service(config)
    return client


async def training_client(resource: str, environ: Mapping[str, str] | None = None) -> TrainingClient:
    """The Training API client of ``resource`` for this process and loop. Do not close it."""
    settings, api_version, rate = config = resource_config(resource, environ)
    key = ("training", settings.name, settings.endpoint, settings.training_key, api_version, rate)
    pool = await _pool()
    client = pool.clients.get(key)
    if not isinstance(client, TrainingClient):
        client = pool.clients[key] = build_training_client(config, observer=_observe)
    return client


@contextmanager
def observing(observer: CallObserver) -> Iterator[None]:
    """Within this block (this task and the tasks it starts), shared clients report calls to ``observer``."""
    token = _observer.set(observer)
    try:
        yield
    finally:
        _observer.reset(token)


def _observe(call: ApiCall) -> None:
    observer = _observer.get()
    if observer is not None:
        observer(call)
