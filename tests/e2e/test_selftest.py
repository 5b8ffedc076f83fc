"""``cvdsr selftest`` against the simulator through the development host: it passes on a healthy
deployment, names the check that failed when something breaks, and leaves no scratch project behind."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient

from local.selftest.run import Selftest, Target
from local.simulator import SimulatorConfig

from .support import TRAINING_KEY, Environment, environment


@pytest.fixture(scope="module")
def env(azurite) -> Iterator[Environment]:
    config = SimulatorConfig(seed="demo", training_key=TRAINING_KEY, export_seconds=0.1)
    with environment(azurite, simulator=config) as running:
        yield running


def run(env: Environment, *, train: bool = False, on_line: Callable[[str], None] | None = None) -> list[str]:
    lines: list[str] = []

    def out(line: str) -> None:
        lines.append(line)
        if on_line is not None:
            on_line(line)

    target = Target(env.host.base_url, None, env.settings, timeout=120)
    asyncio.run(Selftest(target, "demo", train=train, out=out).run())
    return lines


def scratch_projects(env: Environment) -> list[str]:
    return [p.name for p in env.simulator.simulator.projects.values() if p.name.startswith("cvdsr-selftest-")]


def test_the_selftest_passes_on_a_healthy_deployment_and_touches_nothing_else(env: Environment) -> None:
    before = {project_id: project.name for project_id, project in env.simulator.simulator.projects.items()}
    env.simulator.simulator.request_log.clear()
    lines = run(env, train=True)
    assert lines[-2] == "selftest passed", lines
    assert lines[-1].startswith("ok   cleanup")
    checks = [line.split(" (")[0] for line in lines if line.startswith("ok   ")]
    assert checks[:4] == [
        "ok   project list readable",
        "ok   scratch project created",
        "ok   images uploaded",
        "ok   project trained",
    ]
    assert "ok   export files match" in checks
    assert "ok   erasure certificate verified" in checks
    assert {project_id: project.name for project_id, project in env.simulator.simulator.projects.items()} == before
    # Of the account's own data it read the project list, and nothing of the other projects.
    touched = {e.path for e in env.simulator.simulator.request_log.entries() if e.api == "training"}
    assert not [path for path in touched if any(project_id in path for project_id in before)]


def test_a_fault_it_cannot_absorb_names_the_check_and_the_project_is_removed(env: Environment) -> None:
    simulator = env.simulator.simulator

    def on_line(line: str) -> None:
        settings = simulator.settings
        if line.startswith("ok   scratch project created"):  # every call fails from now on
            simulator.update_settings(tps=settings.tps, burst=settings.burst, latency_ms=0, fault_rate=1.0)
        if line.startswith("FAIL"):  # the service recovers: the cleanup must still run
            simulator.update_settings(tps=settings.tps, burst=settings.burst, latency_ms=0, fault_rate=0.0)

    lines = run(env, on_line=on_line)
    assert lines[-2] == "selftest failed: images uploaded", lines
    assert lines[-1].startswith("ok   cleanup")
    assert scratch_projects(env) == []


def test_a_file_changed_after_the_export_fails_the_file_check(env: Environment, azurite) -> None:
    export: list[str] = []

    def on_line(line: str) -> None:
        if line.startswith("ok   export finished"):  # "(request selftest-<run>-export)": this run's
            export.append(line.split("request ")[1].rstrip(")"))
        if not line.startswith("ok   export counts match"):
            return
        service = BlobServiceClient.from_connection_string(azurite.connection_string)
        container = service.get_container_client(env.settings["CVDSR_RESULTS_CONTAINER"])
        image = next(b.name for b in container.list_blobs(name_starts_with=f"{export[0]}/") if "/images/" in b.name)
        container.get_blob_client(image).upload_blob(b"not the uploaded image", overwrite=True)

    lines = run(env, on_line=on_line)
    assert lines[-2] == "selftest failed: export files match", lines
    assert "the stored file is not the uploaded file" in next(line for line in lines if line.startswith("FAIL"))
    assert scratch_projects(env) == []


def test_the_command_prints_one_line_per_check_and_exits_0(env: Environment) -> None:
    ran = subprocess.run(
        [sys.executable, "-m", "local.cli", "selftest", "--resource", "demo", "--url", env.host.base_url],
        env={**os.environ, **env.settings},
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    lines = ran.stdout.splitlines()
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert lines[0].startswith("ok   project list readable")
    assert "selftest passed" in lines
    assert TRAINING_KEY not in ran.stdout + ran.stderr


def test_the_command_exits_1_naming_an_unknown_resource(env: Environment) -> None:
    ran = subprocess.run(
        [sys.executable, "-m", "local.cli", "selftest", "--resource", "nosuch", "--url", env.host.base_url],
        env={**os.environ, **env.settings},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ran.returncode == 1
    assert "selftest failed: resource 'nosuch' is not configured" in ran.stdout
