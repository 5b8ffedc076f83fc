"""Load ``function_app.py`` and index it the way the Functions host does (worker indexing).

``app.get_functions()`` is the metadata the real host receives from the Python worker; it can be called
only once per app object, so the result is cached here.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import HostConfigError

TRIGGERS = {
    "httpTrigger",
    "queueTrigger",
    "serviceBusTrigger",
    "timerTrigger",
    "orchestrationTrigger",
    "activityTrigger",
}
INPUT_BINDINGS = {"durableClient"}
OUTPUT_BINDINGS = {"http", "queue"}


class UnsupportedBindingError(HostConfigError):
    """The app uses a binding type the development host does not implement."""


@dataclass
class FunctionInfo:
    """One indexed function."""

    name: str
    trigger: dict[str, Any]
    bindings: list[dict[str, Any]]
    func: Callable[..., Any]
    is_async: bool
    parameters: list[str] = field(default_factory=list)

    @property
    def trigger_type(self) -> str:
        return str(self.trigger["type"])

    @property
    def trigger_name(self) -> str:
        return str(self.trigger["name"])

    def bindings_of(self, binding_type: str) -> list[dict[str, Any]]:
        return [b for b in self.bindings if b.get("type") == binding_type]


@dataclass
class FunctionApp:
    """The indexed app: functions by name and by trigger type."""

    functions: dict[str, FunctionInfo]
    app: Any

    def of_trigger(self, trigger_type: str) -> list[FunctionInfo]:
        return [f for f in self.functions.values() if f.trigger_type == trigger_type]

    def orchestrator(self, name: str) -> FunctionInfo | None:
        fn = self.functions.get(name)
        if fn is None:
            # Function names are case-insensitive in the Functions host.
            fn = next((f for f in self.functions.values() if f.name.lower() == name.lower()), None)
        return fn if fn is not None and fn.trigger_type == "orchestrationTrigger" else None

    def activity(self, name: str) -> FunctionInfo | None:
        fn = self.functions.get(name)
        if fn is None:
            fn = next((f for f in self.functions.values() if f.name.lower() == name.lower()), None)
        return fn if fn is not None and fn.trigger_type == "activityTrigger" else None


_INDEX_CACHE: dict[int, list[Any]] = {}


def get_functions_once(app: Any) -> list[Any]:
    """``app.get_functions()``, cached per app object (a second call raises in azure-functions)."""
    key = id(app)
    if key not in _INDEX_CACHE:
        _INDEX_CACHE[key] = list(app.get_functions())
    return _INDEX_CACHE[key]


def import_function_app(project_dir: Path) -> Any:
    """Import ``function_app.py`` from ``project_dir`` under a module name unique to that directory.

    The project directory goes first on ``sys.path`` so the app's own packages (``functions``,
    ``shared``) import as they do under the real worker.
    """
    project_dir = project_dir.resolve()
    path = project_dir / "function_app.py"
    if str(project_dir) not in sys.path:
        sys.path.insert(0, str(project_dir))
    digest = hashlib.sha256(str(project_dir).encode()).hexdigest()[:12]
    module_name = f"_cvdsr_host_function_app_{digest}"
    if module_name in sys.modules:
        module = sys.modules[module_name]
    else:
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise HostConfigError(f"cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except Exception:
            del sys.modules[module_name]
            raise
    app = getattr(module, "app", None)
    if app is None or not hasattr(app, "get_functions"):
        apps = [v for v in vars(module).values() if hasattr(v, "get_functions") and hasattr(v, "route")]
        if len(apps) != 1:
            raise HostConfigError(f"{path} must define one FunctionApp (conventionally named `app`)")
        app = apps[0]
    return app


def index_app(app: Any) -> FunctionApp:
    """Index the app and refuse binding types the development host does not support."""
    functions: dict[str, FunctionInfo] = {}
    problems: list[str] = []
    for fn in get_functions_once(app):
        name = fn.get_function_name()
        meta = json.loads(fn.get_function_json())
        bindings: list[dict[str, Any]] = meta.get("bindings", [])
        triggers = [b for b in bindings if str(b.get("type", "")).endswith("Trigger")]
        if len(triggers) != 1:
            problems.append(f"function '{name}' must have exactly one trigger")
            continue
        trigger = triggers[0]
        for b in bindings:
            btype = str(b.get("type"))
            direction = str(b.get("direction", "")).upper()
            if b is trigger:
                if btype not in TRIGGERS:
                    problems.append(
                        f"function '{name}': trigger type '{btype}' is not supported by the development host "
                        f"(supported: {', '.join(sorted(TRIGGERS))})"
                    )
            elif direction == "IN" and btype not in INPUT_BINDINGS:
                problems.append(
                    f"function '{name}': input binding type '{btype}' is not supported by the development "
                    f"host (supported: {', '.join(sorted(INPUT_BINDINGS))})"
                )
            elif direction == "OUT" and btype not in OUTPUT_BINDINGS:
                problems.append(
                    f"function '{name}': output binding type '{btype}' is not supported by the development "
                    f"host (supported: {', '.join(sorted(OUTPUT_BINDINGS))})"
                )
            elif direction not in ("IN", "OUT"):
                problems.append(f"function '{name}': binding '{b.get('name')}' has direction {direction!r}")
        if name in functions:
            problems.append(f"function name '{name}' is defined twice")
        user = fn.get_user_function()
        target = getattr(user, "client_function", None) or user
        try:
            params = list(inspect.signature(user).parameters)
        except (TypeError, ValueError):
            params = []
        functions[name] = FunctionInfo(
            name=name,
            trigger=trigger,
            bindings=bindings,
            func=user,
            is_async=inspect.iscoroutinefunction(user) or inspect.iscoroutinefunction(target),
            parameters=params,
        )
    if problems:
        raise UnsupportedBindingError("cannot host this function app:\n  - " + "\n  - ".join(problems))
    return FunctionApp(functions=functions, app=app)


def load_function_app(project_dir: Path) -> FunctionApp:
    return index_app(import_function_app(project_dir))
