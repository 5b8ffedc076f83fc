"""Host configuration: ``host.json``, ``local.settings.json`` / the environment, binding expressions."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.azurite import expand_development_storage


class HostConfigError(RuntimeError):
    """The project cannot be hosted as configured (message says why)."""


_TIMESPAN = re.compile(r"^(?:(?P<d>\d+)\.)?(?P<h>\d{1,2}):(?P<m>\d{1,2}):(?P<s>\d{1,2}(?:\.\d+)?)$")


def parse_timespan(value: Any, default: float) -> float:
    """A .NET TimeSpan string (``[d.]hh:mm:ss[.fff]``) or a number of seconds → seconds."""
    if value is None:
        return default
    if isinstance(value, int | float):
        return float(value)
    match = _TIMESPAN.match(str(value).strip())
    if not match:
        raise HostConfigError(f"host.json: {value!r} is not a TimeSpan (hh:mm:ss)")
    days = int(match.group("d") or 0)
    return days * 86400 + int(match.group("h")) * 3600 + int(match.group("m")) * 60 + float(match.group("s"))


_SETTING_EXPR = re.compile(r"%([^%]+)%")


def resolve_expression(value: str, settings: dict[str, str], what: str) -> str:
    """Replace ``%NAME%`` with the app setting NAME, as the Functions host does for binding properties."""

    def repl(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in settings:
            raise HostConfigError(f"{what}: app setting '{name}' (from '%{name}%') is not defined")
        return settings[name]

    return _SETTING_EXPR.sub(repl, value)


_SECRET_PATTERNS = [
    re.compile(r"(AccountKey=)[^;\s\"']+", re.IGNORECASE),
    re.compile(r"(SharedAccessKey=)[^;\s\"']+", re.IGNORECASE),
    re.compile(r"(SharedAccessSignature=)[^;\s\"']+", re.IGNORECASE),
    re.compile(r"([?&]sig=)[^&\s\"']+", re.IGNORECASE),
    re.compile(r"([?&]code=)[^&\s\"']+", re.IGNORECASE),
]


def mask_secrets(text: str) -> str:
    """Mask AccountKey=, SharedAccessKey=, SAS ``sig=`` and function keys in a string meant for logs."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(r"\1***", text)
    return text


# The largest HTTP request body the host reads (setting CVDSR_HOST_MAX_BODY_BYTES); over it, 413.
MAX_BODY_SETTING = "CVDSR_HOST_MAX_BODY_BYTES"
DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024


def parse_max_body_bytes(settings: dict[str, str]) -> int:
    """``CVDSR_HOST_MAX_BODY_BYTES`` (a positive number of bytes), or the default when it is unset or empty."""
    raw = (settings.get(MAX_BODY_SETTING) or "").strip()
    if not raw:
        return DEFAULT_MAX_BODY_BYTES
    if not (raw.isascii() and raw.isdigit()) or int(raw) <= 0:
        raise HostConfigError(f"{MAX_BODY_SETTING} must be a positive number of bytes, not {raw!r}")
    return int(raw)


@dataclass(frozen=True)
class QueuesOptions:
    max_polling_interval: float = 60.0
    visibility_timeout: float = 0.0
    batch_size: int = 16
    max_dequeue_count: int = 5
    new_batch_threshold: int | None = None
    message_encoding: str = "base64"


@dataclass(frozen=True)
class DurableOptions:
    hub_name: str = "TestHubName"
    max_concurrent_activities: int = 10
    max_concurrent_orchestrators: int = 10


@dataclass(frozen=True)
class ServiceBusOptions:
    max_concurrent_calls: int = 16
    auto_complete_messages: bool = True
    max_auto_lock_renewal_duration: float = 300.0


@dataclass
class ProjectConfig:
    """Everything read from the project directory and the environment."""

    project_dir: Path
    settings: dict[str, str]
    host_json: dict[str, Any]
    queues: QueuesOptions
    durable: DurableOptions
    service_bus: ServiceBusOptions
    route_prefix: str
    settings_from_file: dict[str, str] = field(default_factory=dict)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES

    def setting(self, name: str) -> str | None:
        return self.settings.get(name)

    def storage_connection(self, name: str = "AzureWebJobsStorage") -> str:
        """The connection string for a connection setting name (``X`` or ``AzureWebJobsX``)."""
        for candidate in (name, f"AzureWebJobs{name}"):
            value = self.settings.get(candidate)
            if value:
                return expand_development_storage(value)
        raise HostConfigError(f"connection setting '{name}' is not defined (local.settings.json Values or env)")


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise HostConfigError(f"{what} ({path}) is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise HostConfigError(f"{what} ({path}) must be a JSON object")
    return data


def _ci_get(obj: dict[str, Any], key: str) -> Any:
    """host.json keys are case-insensitive in the real host."""
    for k, v in obj.items():
        if k.lower() == key.lower():
            return v
    return None


def load_project_config(project_dir: Path, env: dict[str, str] | None = None) -> ProjectConfig:
    """Read host.json and local.settings.json (Values) merged with the environment (the environment wins,
    as with Core Tools, which skips local.settings.json values already defined in the environment)."""
    project_dir = project_dir.resolve()
    if not (project_dir / "function_app.py").exists():
        raise HostConfigError(f"{project_dir} has no function_app.py")
    host_json_path = project_dir / "host.json"
    host_json = _read_json(host_json_path, "host.json") if host_json_path.exists() else {"version": "2.0"}
    if str(host_json.get("version", "")) != "2.0":
        raise HostConfigError('host.json must have "version": "2.0"')
    file_values: dict[str, str] = {}
    settings_path = project_dir / "local.settings.json"
    if settings_path.exists():
        local_settings = _read_json(settings_path, "local.settings.json")
        values = local_settings.get("Values") or {}
        if not isinstance(values, dict):
            raise HostConfigError("local.settings.json: Values must be an object")
        file_values = {str(k): "" if v is None else str(v) for k, v in values.items()}
    environ = dict(os.environ if env is None else env)
    settings = {**file_values, **environ}

    extensions = _ci_get(host_json, "extensions") or {}
    q = _ci_get(extensions, "queues") or {}
    batch_size = int(_ci_get(q, "batchSize") or 16)
    encoding = str(_ci_get(q, "messageEncoding") or "base64").lower()
    if encoding not in ("base64", "none"):
        raise HostConfigError(f"host.json: queues.messageEncoding must be base64 or none, not {encoding!r}")
    queues = QueuesOptions(
        max_polling_interval=parse_timespan(_ci_get(q, "maxPollingInterval"), 60.0),
        visibility_timeout=parse_timespan(_ci_get(q, "visibilityTimeout"), 0.0),
        batch_size=max(1, min(32, batch_size)),
        max_dequeue_count=int(_ci_get(q, "maxDequeueCount") or 5),
        new_batch_threshold=_ci_get(q, "newBatchThreshold"),
        message_encoding=encoding,
    )
    dt = _ci_get(extensions, "durableTask") or {}
    hub = str(_ci_get(dt, "hubName") or "TestHubName")
    hub = resolve_expression(hub, settings, "host.json durableTask.hubName")
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]{2,44}", hub):
        raise HostConfigError(f"task hub name {hub!r} is invalid: 3-45 letters or digits, starting with a letter")
    cores = os.cpu_count() or 1
    durable = DurableOptions(
        hub_name=hub,
        max_concurrent_activities=int(_ci_get(dt, "maxConcurrentActivityFunctions") or 10 * cores),
        max_concurrent_orchestrators=int(_ci_get(dt, "maxConcurrentOrchestratorFunctions") or 10 * cores),
    )
    sb = _ci_get(extensions, "serviceBus") or {}
    auto_complete = _ci_get(sb, "autoCompleteMessages")
    service_bus = ServiceBusOptions(
        max_concurrent_calls=int(_ci_get(sb, "maxConcurrentCalls") or 16 * cores),
        auto_complete_messages=True if auto_complete is None else bool(auto_complete),
        max_auto_lock_renewal_duration=parse_timespan(_ci_get(sb, "maxAutoLockRenewalDuration"), 300.0),
    )
    http = _ci_get(extensions, "http") or {}
    prefix = _ci_get(http, "routePrefix")
    route_prefix = "api" if prefix is None else str(prefix).strip("/")
    return ProjectConfig(
        project_dir=project_dir,
        settings=settings,
        host_json=host_json,
        queues=queues,
        durable=durable,
        service_bus=service_bus,
        route_prefix=route_prefix,
        settings_from_file=file_values,
        max_body_bytes=parse_max_body_bytes(settings),
    )
