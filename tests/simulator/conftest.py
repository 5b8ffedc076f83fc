"""Fixtures: an in-process simulator (httpx over ASGI) with an optional manual clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from local.simulator import SimulatorConfig, create_app
from local.simulator.clock import ManualClock
from tests.simulator.support import Api

MakeApi = Callable[..., Awaitable[Api]]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def make_api() -> AsyncIterator[MakeApi]:
    """`await make_api(clock=..., **config)`: a fresh simulator and an Api bound to it."""
    clients: list[httpx.AsyncClient] = []

    async def factory(*, clock: ManualClock | None = None, **config: Any) -> Api:
        app = create_app(SimulatorConfig(**config), clock=clock)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://simulator.test")
        clients.append(client)
        return Api(client, app.state.simulator)

    yield factory
    for client in clients:
        await client.aclose()


@pytest.fixture
async def api(make_api: MakeApi, clock: ManualClock) -> Api:
    return await make_api(clock=clock)
