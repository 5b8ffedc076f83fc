"""A faithful local simulator of the Azure Custom Vision Training API (v3.3 and v3.4-preview), the bits of
the Prediction API v3.1 that create stored predictions, and the ARM account resource. See README.md.

    from local.simulator import SimulatorConfig, run_simulator

    with run_simulator(SimulatorConfig(seed="demo")) as running:
        client = CustomVisionTrainingClient(running.base_url, credentials)

`create_app(config)` gives the ASGI app (its state: `app.state.simulator`); `run_simulator` serves it
with uvicorn in a background thread. Heavy modules load on first use, so importing the package (as
`cvdsr` does to build its parser) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from local.simulator.config import SimulatorConfig

if TYPE_CHECKING:
    from local.simulator.app import create_app
    from local.simulator.server import RunningSimulator, run_simulator
    from local.simulator.state import Simulator

__all__ = ["RunningSimulator", "Simulator", "SimulatorConfig", "create_app", "run_simulator"]

_LAZY = {
    "create_app": "local.simulator.app",
    "run_simulator": "local.simulator.server",
    "RunningSimulator": "local.simulator.server",
    "Simulator": "local.simulator.state",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'local.simulator' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
