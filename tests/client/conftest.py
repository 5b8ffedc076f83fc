"""Helpers for client tests that need answers the simulator cannot produce (MockTransport)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import pytest

from shared.customvision import RetryPolicy, TrainingClient

KEY = "test-training-key-0123456789abcdef"
ENDPOINT = "https://contoso.cognitiveservices.azure.com"
BASE = f"{ENDPOINT}/customvision/v3.3/training"


@dataclass
class Recorder:
    """Records requests and the client's sleeps, so tests assert on what the client did."""

    requests: list[httpx.Request] = field(default_factory=list)
    sleeps: list[float] = field(default_factory=list)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def make_client(recorder: Recorder) -> Callable[..., TrainingClient]:
    def make(handler: Callable[[httpx.Request], httpx.Response], **kwargs: object) -> TrainingClient:
        def record(request: httpx.Request) -> httpx.Response:
            recorder.requests.append(request)
            return handler(request)

        options: dict[str, object] = {
            "retry": RetryPolicy(max_attempts=5, base_delay_seconds=0.1, max_delay_seconds=1.0),
            "transport": httpx.MockTransport(record),
            "sleep": recorder.sleep,
            "rng": random.Random(7),
        }
        options.update(kwargs)
        return TrainingClient(ENDPOINT, KEY, **options)  # type: ignore[arg-type]

    return make


def error(status: int, code: str, message: str = "", request_id: str = "req-1", **headers: str) -> httpx.Response:
    return httpx.Response(
        status, json={"code": code, "message": message}, headers={"apim-request-id": request_id, **headers}
    )


def gateway_error(status: int, message: str, **headers: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": str(status), "message": message}}, headers=headers)
