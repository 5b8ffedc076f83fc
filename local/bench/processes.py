"""Starting and stopping what one run measures: the simulator, a fresh Azurite and a host process, each
started for the run and stopped at its end, also on failure or Ctrl-C."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from local.bench.options import REPO, RESOURCE

if TYPE_CHECKING:
    from local.azurite import AzuriteProcess
    from local.host import HostProcess
    from local.simulator import SimulatorConfig
    from local.simulator.server import RunningSimulator


@contextlib.contextmanager
def fresh_azurite(progress: Callable[[str], None]) -> Iterator[AzuriteProcess]:
    """A new, empty Azurite for one measurement: its cost per blob grows with what it already holds, so
    runs that shared one would not be comparable."""
    from local.azurite import start_azurite

    azurite = start_azurite()
    try:
        yield azurite
    finally:
        progress("  stopping its Azurite")
        azurite.stop(graceful=False)


def host_settings(connection_string: str, endpoint: str, key: str, hub: str, app_rate: float | None) -> dict[str, str]:
    """The host's settings: Azurite, one resource named ``bench``, the events queue; no Service Bus, no
    webhook (empty values switch them off even if the calling shell has them set)."""
    settings = {
        "AzureWebJobsStorage": connection_string,
        "FUNCTIONS_WORKER_RUNTIME": "python",
        "CVDSR_TASK_HUB": hub,
        "CVDSR_SWEEP_SCHEDULE": "0 */5 * * * *",
        # Its own installation on its own Azurite, whatever the calling shell has set.
        "CVDSR_RESULTS_CONTAINER": "dsr-results",
        "CVDSR_STATE_CONTAINER": "cvdsr-state",
        f"CUSTOMVISION__{RESOURCE.upper()}__ENDPOINT": endpoint,
        f"CUSTOMVISION__{RESOURCE.upper()}__TRAININGKEY": key,
        "CVDSR_EVENTS_QUEUE": f"ev-{hub}",
        "ServiceBusConnection": "",
        "CVDSR_WEBHOOK_URL": "",
        "CVDSR_EVENTS_TOPIC": "",
    }
    if app_rate is not None:
        settings["CVDSR_API_RATE_PER_SECOND"] = f"{app_rate:g}"
    return settings


@dataclass(frozen=True)
class Stack:
    """The simulator (in this process), Azurite and the host (child processes) of one run."""

    sim: RunningSimulator
    azurite: AzuriteProcess
    host: HostProcess


@contextlib.contextmanager
def cvdsr_stack(
    config: SimulatorConfig,
    key: str,
    hub: str,
    app_rate: float | None,
    workdir: Path,
    progress: Callable[[str], None],
) -> Iterator[Stack]:
    """A fresh simulator, Azurite and host process (its log in ``workdir``), stopped when the block ends,
    also on failure; then, unless on Ctrl-C, the host's last output is shown, the key redacted."""
    from local.host import start_host_process
    from local.simulator import run_simulator

    host: HostProcess | None = None
    try:
        with run_simulator(config) as sim, fresh_azurite(progress) as azurite:
            settings = host_settings(azurite.connection_string, sim.base_url, key, hub, app_rate)
            host = start_host_process(
                REPO, env=settings, extra_args=["--no-azurite"], log_path=workdir / "host.log", ready_timeout=120
            )
            progress(f"  host pid {host.pid}, simulator {sim.base_url}, task hub {hub}")
            yield Stack(sim, azurite, host)
    except BaseException as error:
        if host is not None and not isinstance(error, KeyboardInterrupt):
            progress(f"host output (last lines):\n{redact(host.output()[-3000:], key)}")
        raise
    finally:
        if host is not None:
            host.stop()


def redact(text: str, key: str) -> str:
    """A child's output as it may be shown: without the run's key."""
    return text.replace(key, "REDACTED")
