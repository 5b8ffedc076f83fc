"""What the Durable client reports of an orchestration instance, read one way everywhere: its runtime
status, the input it was started with, its custom status. (The client hands back JSON text or parsed
values depending on the path; these helpers accept both.)"""

from __future__ import annotations

import json
from typing import Any, Protocol

RUNNING = frozenset({"Pending", "Running", "ContinuedAsNew", "Suspended"})


class StatusClient(Protocol):
    """What reading a request's status needs of ``azure.durable_functions.DurableOrchestrationClient``."""

    async def get_status(self, instance_id: str, *, show_input: bool = False) -> Any: ...


class DurableClient(StatusClient, Protocol):
    """What intake and the sweeper need of ``azure.durable_functions.DurableOrchestrationClient``."""

    async def start_new(
        self, orchestration_function_name: str, instance_id: str | None = None, client_input: Any = None
    ) -> str: ...

    async def terminate(self, instance_id: str, reason: str) -> Any: ...


def runtime_status(status: Any) -> str | None:
    """The status name of a ``DurableOrchestrationStatus`` (None when there is no such instance)."""
    value = getattr(status, "runtime_status", None)
    if value is None:
        return None
    return str(getattr(value, "value", value))


def _document(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


def started_input(status: Any) -> dict[str, Any]:
    """The orchestration input an instance was started with (``{"request", "binding", "settings"}``)."""
    return _document(getattr(status, "input_", None))


def custom_status(status: Any) -> dict[str, Any]:
    return _document(getattr(status, "custom_status", None))
