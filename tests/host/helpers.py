"""Helpers for the development host's tests."""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Any

import httpx

APPS = Path(__file__).parent / "apps"
TERMINAL = {"Completed", "Failed", "Terminated", "Canceled"}


def status_url(base_url: str, instance_id: str, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"{base_url}/runtime/webhooks/durabletask/instances/{instance_id}" + (f"?{query}" if query else "")


def wait_for_status(
    base_url: str, instance_id: str, timeout: float = 30.0, statuses: set[str] = TERMINAL, **params: str
) -> dict[str, Any]:
    """Poll the extension's status API until the instance reaches one of ``statuses``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        response = httpx.get(status_url(base_url, instance_id, **params), timeout=10)
        if response.status_code in (200, 202):
            last = response.json()
            if last["runtimeStatus"] in statuses:
                return dict(last)
        time.sleep(0.1)
    raise AssertionError(f"{instance_id} did not reach {statuses} in {timeout}s; last status: {last}")


def wait_until(predicate: Any, timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def start(base_url: str, name: str, instance_id: str, value: Any = None) -> httpx.Response:
    return httpx.post(f"{base_url}/api/start/{name}/{instance_id}", json=value, timeout=30)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def records(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []
