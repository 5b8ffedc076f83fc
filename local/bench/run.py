"""The benchmark: one request through the host on a fresh stack, measured (wall time, calls, CPU, peak
memory, the copy floor), and, unless ``--no-baseline``, the same on a smaller account and as the SDK
script; returns the figures :mod:`local.bench.report` prints."""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from local.bench.baseline import run_baseline
from local.bench.bound import TARGET_RATIO, count_calls, ratio
from local.bench.floor import measure_copy_floor
from local.bench.meters import CpuMeter, RssSampler
from local.bench.options import RESOURCE, BenchError, BenchOptions, default_small_seed, seed_images
from local.bench.processes import cvdsr_stack

if TYPE_CHECKING:
    import httpx

TERMINAL = frozenset({"Completed", "Failed", "Terminated"})
POLL_SECONDS = 0.25
PROGRESS_SECONDS = 15.0


def _quiet(message: str) -> None:
    pass


def run_bench(options: BenchOptions, progress: Callable[[str], None] = _quiet) -> dict[str, Any]:
    """Run the benchmark; return its figures (see ``report.render`` for what they mean)."""
    key = secrets.token_urlsafe(24)
    figures: dict[str, Any] = {
        "kind": options.kind,
        "seed": options.seed,
        "tps": options.tps,
        "latency_ms": options.latency_ms,
        "include": list(options.include) if options.include else "all",
        "target_ratio": TARGET_RATIO,
        "cpus": os.cpu_count(),
        "load_average_at_start": [round(value, 2) for value in os.getloadavg()],
    }
    small_seed = (options.small_seed or default_small_seed(options.seed)) if options.baseline else None
    small: dict[str, Any] | None = None
    if small_seed:
        progress(f"cvdsr {options.kind} on the smaller account {small_seed} (for the memory comparison)")
        # Only its memory is compared: no copy floor for it.
        small = run_cvdsr(dataclasses.replace(options, copy_floor=False), small_seed, key, progress)
    progress(f"cvdsr {options.kind} on {options.seed}")
    main = run_cvdsr(options, options.seed, key, progress)
    figures.update(main)
    if small is not None:
        figures["memory"] = {
            "small_seed": small_seed,
            "small_images": seed_images(small_seed) if small_seed else None,
            "images": seed_images(options.seed),
            "small_wall_seconds": small["wall_seconds"],
            "small_peak_rss_mib": small["peak_rss_mib"],
            "peak_rss_mib": main["peak_rss_mib"],
            "ratio_peak_rss": ratio(main["peak_rss_mib"], small["peak_rss_mib"]),
            "small_result_status": small["result_status"],
        }
    else:
        figures["memory"] = None
    if options.baseline:
        progress(f"baseline: a sequential SDK {options.kind} on a fresh {options.seed}")
        base = run_baseline(options, key, progress)
        # Its files go to local disk, not to Blob Storage: hold it to the API's bound only.
        base["ratio_to_bound"] = ratio(base["wall_seconds"], main["api_bound_seconds"])
        figures["baseline"] = base
        figures["ratio_to_baseline"] = ratio(main["wall_seconds"], base["wall_seconds"])
    else:
        figures["baseline"] = None
        figures["ratio_to_baseline"] = None
    # Other work on the machine skews every time above; this says how busy it was.
    figures["load_average_at_end"] = [round(value, 2) for value in os.getloadavg()]
    return figures


def request_body(kind: str, request_id: str, include: tuple[str, ...] | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schema_version": 1,
        "request_id": request_id,
        "type": kind,
        "resources": [RESOURCE],
        "ticket": {"system": "bench", "id": request_id},
    }
    if kind == "erase":
        body["confirm"] = RESOURCE
    elif include:
        body["include"] = list(include)
    return body


def run_cvdsr(options: BenchOptions, seed: str, key: str, progress: Callable[[str], None]) -> dict[str, Any]:
    """One request through the host, on a fresh simulator, a fresh Azurite and a fresh host process."""
    import httpx

    from local.simulator import SimulatorConfig

    config = SimulatorConfig(training_key=key, tps=options.tps, latency_ms=options.latency_ms, seed=seed)
    hub = f"bench{uuid.uuid4().hex[:10]}"
    request_id = f"BENCH-{options.kind.upper()}-{uuid.uuid4().hex[:8]}"
    workdir = Path(tempfile.mkdtemp(prefix="cvdsr-bench-"))
    try:
        with cvdsr_stack(config, key, hub, options.app_rate, workdir, progress) as stack:
            sampler = RssSampler(stack.host.pid)
            sampler.start()
            try:
                log = stack.sim.simulator.request_log
                before = len(log)
                body = request_body(options.kind, request_id, options.include)
                cpu = CpuMeter({"host": stack.host.pid, "azurite": stack.azurite.process.pid})
                with httpx.Client(base_url=stack.host.base_url, timeout=60) as http:
                    started = time.monotonic()
                    response = http.post("/api/requests", content=json.dumps(body).encode())
                    if response.status_code != 202:
                        raise BenchError(f"the host did not accept the request: HTTP {response.status_code}")
                    document = _wait(http, request_id, started + options.timeout, progress)
                    wall = time.monotonic() - started
                cpu_seconds = cpu.used()
            finally:  # also on failure: no sampling thread outlives the host
                peak = sampler.stop()
            entries = log.entries()[before:]
            dropped = log.dropped
            stack.host.stop()  # idle, but it polls its queues: the floor gets the machine to itself
            floor = (
                measure_copy_floor(stack.sim, entries, workdir, options.timeout, progress)
                if options.copy_floor
                else None
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    calls = count_calls(entries)
    api_bound = calls["api_calls"] / options.tps
    bound = max(api_bound, floor["seconds"] if floor else 0.0)
    files = calls["downloads"]
    return {
        "request_id": request_id,
        "runtime_status": document.get("runtime_status"),
        "result_status": document.get("status"),
        "counts": document.get("counts"),
        "wall_seconds": round(wall, 3),
        **calls,
        "api_bound_seconds": round(api_bound, 3),
        "ratio_to_api_bound": ratio(wall, api_bound),
        "copy_floor": floor,
        "lower_bound_seconds": round(bound, 3),
        "ratio_to_bound": ratio(wall, bound),
        "peak_rss_mib": peak["peak_rss_mib"],
        "host_processes": peak["processes"],
        "cpu_seconds": cpu_seconds,
        # File copies are outside the API's rate limit: their throughput and CPU cost per file.
        "downloads_per_second": round(files / wall, 1) if wall else None,
        "cpu_ms_per_download": {name: round(1000 * value / files, 2) for name, value in cpu_seconds.items()}
        if files
        else None,
        "request_log_dropped": dropped,
    }


def _wait(http: httpx.Client, request_id: str, deadline: float, progress: Callable[[str], None]) -> dict[str, Any]:
    """Poll the request's status until it is terminal; BenchError at ``deadline``."""
    from shared.status import summary

    last_report = time.monotonic()
    document: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = http.get(f"/api/requests/{request_id}")
        if response.status_code == 200:
            document = response.json()
            if document.get("runtime_status") in TERMINAL:
                return document
        if time.monotonic() - last_report >= PROGRESS_SECONDS:
            last_report = time.monotonic()
            progress(f"  {request_id}: {document.get('runtime_status')}, {summary(document)}")
        time.sleep(POLL_SECONDS)
    raise BenchError(f"{request_id} did not finish in time; last status: {document.get('runtime_status')}")
