"""``cvdsr bench export|erase``: how close cvdsr gets to the Training API's rate limit (a benchmark, not a test).

One run starts a fresh Azurite, the Custom Vision simulator (seeded, rate-limited to ``--tps`` calls/s
per key, ``--latency-ms`` per call) and the development host as a child process, submits one request
through ``POST /api/requests`` and waits until ``GET /api/requests/{id}`` reports it finished. It
prints, as figures measured in the same run:

* the wall time, and the API bound: the successful Training API calls the run needed (from the
  simulator's request log: ``/customvision/`` paths, not 429 or 5xx) divided by ``--tps``; their ratio;
* the 429 answers seen, and the image/model file downloads (storage URIs: outside the rate limit);
* the peak memory of the host process (``VmHWM`` of the host and any descendants, in MiB);
* when files were copied, the copy floor: the same downloads copied once more by a bare loop (one
  process like the host, ``COPY_FLOOR_CONCURRENCY`` at a time, no orchestration, no API calls, no
  digests) from the same simulator into another fresh Azurite, right after the run. It is a reference
  measured in the same run, not a proof: a copier spread over more processes could beat it. Here
  Azurite, the simulator and the host share two cores, and storing a file costs more than the API's
  rate limit leaves per file, so the bound the run is held to is ``max(calls / tps, copy floor)``; the
  ratio to ``calls / tps`` alone is printed as well;
* unless ``--no-baseline``: the same request on a smaller account (``--small-seed``, default a fifth of
  the images), to show whether peak memory grows with the image count (ratio of the two peaks), and a
  naive sequential script with the official SDK (``azure-cognitiveservices-vision-customvision``) on a
  fresh copy of the same account, in its own process, writing to local disk: its wall time, its ratio
  to the API bound and cvdsr's ratio to it.

Everything it starts is stopped at the end, also on Ctrl-C, SIGTERM or failure. Keys are random per run
and never printed. ``python -m local.bench export`` runs it without the ``cvdsr`` command.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from local.simulator.config import parse_seed

REPO = Path(__file__).resolve().parent.parent
RESOURCE = "bench"
KINDS = ("export", "erase")
DATA_KINDS = ("projects", "iterations", "performance", "tags", "images", "image_files", "exports", "predictions")
TERMINAL = frozenset({"Completed", "Failed", "Terminated"})
TARGET_RATIO = 1.5
KEY_ENV = "CVDSR_BENCH_TRAINING_KEY"  # hands the key to the baseline worker without a command line
STORAGE_ENV = "CVDSR_BENCH_STORAGE"  # hands the storage connection to the copy-floor worker
WORKER_FLAG = "--baseline-worker"
FLOOR_WORKER_FLAG = "--copy-floor-worker"
COPY_FLOOR_CONCURRENCY = 16
POLL_SECONDS = 0.25
PROGRESS_SECONDS = 15.0


class BenchError(RuntimeError):
    """The benchmark could not run (a component did not start, the request did not finish)."""


# --- command line ---------------------------------------------------------------------------------------


def _seed(value: str) -> str:
    try:
        spec = parse_seed(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if spec.kind == "none":
        raise argparse.ArgumentTypeError("a benchmark needs data: use demo or synthetic:PROJECTS:IMAGES")
    return value


def _include(value: str) -> list[str]:
    kinds = [kind.strip() for kind in value.split(",") if kind.strip()]
    unknown = [kind for kind in kinds if kind not in DATA_KINDS]
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(f"--include takes a comma-separated list of {', '.join(DATA_KINDS)}")
    return kinds


def _positive(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return number


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", choices=KINDS, help="which request to measure")
    parser.add_argument(
        "--seed", type=_seed, default="synthetic:5:10000", help="the simulated account (default: %(default)s)"
    )
    parser.add_argument(
        "--tps", type=_positive, default=10.0, help="simulator rate limit, calls/s per key (default: %(default)s)"
    )
    parser.add_argument(
        "--latency-ms", type=float, default=20.0, help="simulator latency per API call (default: %(default)s)"
    )
    parser.add_argument(
        "--no-baseline",
        action="store_true",
        help="skip the smaller-account run (memory growth) and the sequential SDK script",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON document")
    parser.add_argument(
        "--timeout", type=_positive, default=3600.0, help="seconds to wait for each run (default: %(default)s)"
    )
    parser.add_argument(
        "--include",
        type=_include,
        default=None,
        help=f"export only these data kinds, comma-separated ({','.join(DATA_KINDS)}; default: all)",
    )
    parser.add_argument(
        "--small-seed",
        type=_seed,
        default=None,
        help="the smaller account for the memory comparison (default: the seed with a fifth of the images)",
    )
    parser.add_argument(
        "--no-copy-floor",
        action="store_true",
        help="skip measuring the copy floor (the run's file copies by a bare loop)",
    )
    parser.add_argument(
        "--app-rate",
        type=_positive,
        default=None,
        help="CVDSR_API_RATE_PER_SECOND for the host (default: the app's own default)",
    )


@dataclass(frozen=True)
class BenchOptions:
    kind: str
    seed: str = "synthetic:5:10000"
    tps: float = 10.0
    latency_ms: float = 20.0
    baseline: bool = True
    include: tuple[str, ...] | None = None
    timeout: float = 3600.0
    small_seed: str | None = None
    app_rate: float | None = None
    copy_floor: bool = True

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> BenchOptions:
        return cls(
            kind=args.kind,
            seed=args.seed,
            tps=args.tps,
            latency_ms=args.latency_ms,
            baseline=not args.no_baseline,
            include=tuple(args.include) if args.include else None,
            timeout=args.timeout,
            small_seed=args.small_seed,
            app_rate=args.app_rate,
            copy_floor=not args.no_copy_floor,
        )


def run_from_args(args: argparse.Namespace) -> int:
    options = BenchOptions.from_args(args)
    if not getattr(args, "verbose", False):
        # The status polling and the baseline's calls would log every request under `cvdsr`'s INFO level.
        for noisy in ("httpx", "httpcore", "urllib3", "msrest", "azure"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    if options.kind == "erase" and options.include:
        print("cvdsr bench: --include applies to exports only", file=sys.stderr)
        return 2
    with _terminate_as_interrupt():
        try:
            figures = run_bench(options, progress=_stderr)
        except KeyboardInterrupt:
            print("cvdsr bench: interrupted; everything it started was stopped", file=sys.stderr)
            return 130
        except BenchError as error:
            print(f"cvdsr bench: {error}", file=sys.stderr)
            return 1
    if args.json:
        print(json.dumps(figures, indent=2, sort_keys=True))
    else:
        print(render(figures))
    return 0 if figures["result_status"] == "succeeded" else 1


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (and SIGINT) unwind as KeyboardInterrupt, so the ``finally`` blocks stop what was started."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous_term = signal.signal(signal.SIGTERM, handler)
    # Also when started in the background of a script, where SIGINT arrives ignored.
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous_term)
        signal.signal(signal.SIGINT, previous_int)


def _stderr(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _quiet(message: str) -> None:
    pass


# --- the benchmark --------------------------------------------------------------------------------------


def default_small_seed(seed: str) -> str | None:
    """The same projects with a fifth of the images (None when there is nothing smaller to compare)."""
    spec = parse_seed(seed)
    if spec.kind != "synthetic" or spec.images < 5:
        return None
    return f"synthetic:{spec.projects}:{spec.images // 5}"


def seed_images(seed: str) -> int | None:
    spec = parse_seed(seed)
    return spec.projects * spec.images if spec.kind == "synthetic" else None


def run_bench(options: BenchOptions, progress: Callable[[str], None] = _quiet) -> dict[str, Any]:
    """Run the benchmark; return its figures (see ``render`` for what they mean)."""
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
            "ratio_peak_rss": _ratio(main["peak_rss_mib"], small["peak_rss_mib"]),
            "small_result_status": small["result_status"],
        }
    else:
        figures["memory"] = None
    if options.baseline:
        progress(f"baseline: a sequential SDK {options.kind} on a fresh {options.seed}")
        base = run_baseline(options, key, progress)
        # Its files go to local disk, not to Blob Storage: hold it to the API's bound only.
        base["ratio_to_bound"] = _ratio(base["wall_seconds"], main["api_bound_seconds"])
        figures["baseline"] = base
        figures["ratio_to_baseline"] = _ratio(main["wall_seconds"], base["wall_seconds"])
    else:
        figures["baseline"] = None
        figures["ratio_to_baseline"] = None
    # Other work on the machine skews every time above; this says how busy it was.
    figures["load_average_at_end"] = [round(value, 2) for value in os.getloadavg()]
    return figures


@contextlib.contextmanager
def fresh_azurite(progress: Callable[[str], None]) -> Iterator[Any]:
    """A new, empty Azurite for one measurement: its cost per blob grows with what it already holds, so
    runs that shared one would not be comparable."""
    from local.azurite import start_azurite

    azurite = start_azurite()
    try:
        yield azurite
    finally:
        progress("  stopping its Azurite")
        azurite.stop(graceful=False)


def _ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 3) if denominator else None


def host_settings(connection_string: str, endpoint: str, key: str, hub: str, app_rate: float | None) -> dict[str, str]:
    """The host's settings: Azurite, one resource named ``bench``, the events queue; no Service Bus, no
    webhook (empty values switch them off even if the calling shell has them set)."""
    settings = {
        "AzureWebJobsStorage": connection_string,
        "FUNCTIONS_WORKER_RUNTIME": "python",
        "CVDSR_TASK_HUB": hub,
        "CVDSR_SWEEP_SCHEDULE": "0 */5 * * * *",
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

    from local.host import start_host_process
    from local.simulator import SimulatorConfig, run_simulator

    config = SimulatorConfig(training_key=key, tps=options.tps, latency_ms=options.latency_ms, seed=seed)
    hub = f"bench{uuid.uuid4().hex[:10]}"
    request_id = f"BENCH-{options.kind.upper()}-{uuid.uuid4().hex[:8]}"
    workdir = Path(tempfile.mkdtemp(prefix="cvdsr-bench-"))
    host: Any = None
    sampler: RssSampler | None = None
    try:
        with run_simulator(config) as sim, fresh_azurite(progress) as azurite:
            settings = host_settings(azurite.connection_string, sim.base_url, key, hub, options.app_rate)
            host = start_host_process(
                REPO, env=settings, extra_args=["--no-azurite"], log_path=workdir / "host.log", ready_timeout=120
            )
            progress(f"  host pid {host.pid}, simulator {sim.base_url}, task hub {hub}")
            sampler = RssSampler(host.pid)
            sampler.start()
            log = sim.simulator.request_log
            before = len(log)
            body = request_body(options.kind, request_id, options.include)
            cpu = CpuMeter({"host": host.pid, "azurite": azurite.process.pid})
            with httpx.Client(base_url=host.base_url, timeout=60) as http:
                started = time.monotonic()
                response = http.post("/api/requests", content=json.dumps(body).encode())
                if response.status_code != 202:
                    raise BenchError(f"the host did not accept the request: HTTP {response.status_code}")
                document = _wait(http, request_id, started + options.timeout, progress)
                wall = time.monotonic() - started
            cpu_seconds = cpu.used()
            peak = sampler.stop()
            entries = log.entries()[before:]
            dropped = log.dropped
            host.stop()  # idle, but it polls its queues: the floor gets the machine to itself
            floor = measure_copy_floor(sim, entries, workdir, options.timeout, progress) if options.copy_floor else None
    except BaseException as error:
        if host is not None and not isinstance(error, KeyboardInterrupt):
            tail = _redact(host.output()[-3000:], key)
            progress(f"host output (last lines):\n{tail}")
        raise
    finally:
        if sampler is not None:
            sampler.stop()
        if host is not None:
            host.stop()
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
        "ratio_to_api_bound": _ratio(wall, api_bound),
        "copy_floor": floor,
        "lower_bound_seconds": round(bound, 3),
        "ratio_to_bound": _ratio(wall, bound),
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


def _wait(http: Any, request_id: str, deadline: float, progress: Callable[[str], None]) -> dict[str, Any]:
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


def count_calls(entries: list[Any]) -> dict[str, int]:
    """API calls (``/customvision/``: Training and Prediction API) by outcome, and file downloads."""
    api_ok = throttled = server_errors = other = downloads = 0
    for entry in entries:
        if entry.path.startswith("/customvision/"):
            status = entry.status
            if status == 429:
                throttled += 1
            elif status is None or status >= 500:
                server_errors += 1
            else:
                api_ok += 1
                if status >= 400:
                    other += 1
        elif entry.path.startswith("/_blobs/"):
            downloads += 1
    return {
        "api_calls": api_ok,
        "api_calls_4xx": other,
        "throttled_429": throttled,
        "server_errors": server_errors,
        "downloads": downloads,
    }


def _redact(text: str, key: str) -> str:
    return text.replace(key, "REDACTED")


# --- the copy floor: the run's file copies by a bare loop ----------------------------------------------------


def measure_copy_floor(
    sim: Any, entries: list[Any], workdir: Path, timeout: float, progress: Callable[[str], None]
) -> dict[str, Any] | None:
    """Copy every file the run downloaded once more, simulator to a fresh Azurite, in a worker process
    that does nothing else; its wall time is what this machine needs for the files alone (None: no
    files)."""
    paths = sorted({entry.path for entry in entries if entry.path.startswith("/_blobs/") and entry.status == 200})
    if not paths:
        return None
    progress(f"  copy floor: {len(paths)} files by a bare loop")
    now = sim.simulator.now()
    # Freshly signed: the run's own URIs may have expired. The list is a file in the run's private temp
    # directory (mkdtemp: mode 0700), removed with it.
    url_file = workdir / "floor-urls.txt"
    url_file.write_text("".join(sim.simulator.signer.sign(sim.base_url, path, now) + "\n" for path in paths))
    args = [sys.executable, "-m", "local.bench", FLOOR_WORKER_FLAG, str(url_file)]
    with fresh_azurite(progress) as azurite:
        env = {**os.environ, STORAGE_ENV: azurite.connection_string, "PYTHONPATH": str(REPO)}
        process = subprocess.run(args, cwd=str(REPO), env=env, capture_output=True, timeout=timeout, check=False)
    if process.returncode != 0:
        raise BenchError(f"the copy-floor worker failed:\n{process.stderr.decode(errors='replace')[-3000:]}")
    report: dict[str, Any] = json.loads(process.stdout)
    return {**report, "concurrency": COPY_FLOOR_CONCURRENCY}


async def copy_floor(
    urls: list[str], connection_string: str, concurrency: int = COPY_FLOOR_CONCURRENCY
) -> dict[str, Any]:
    """GET each URL and put its bytes into a scratch container, ``concurrency`` at a time; the container
    is deleted afterwards. Times the copies only (not creating or deleting the container)."""
    import asyncio

    import httpx
    from azure.storage.blob.aio import BlobServiceClient

    container_name = f"bench-floor-{uuid.uuid4().hex[:12]}"
    semaphore = asyncio.Semaphore(concurrency)
    total_bytes = 0
    async with (
        httpx.AsyncClient(timeout=60) as http,
        BlobServiceClient.from_connection_string(connection_string) as service,
    ):
        container = await service.create_container(container_name)
        try:

            async def copy(index: int, url: str) -> None:
                nonlocal total_bytes
                async with semaphore:
                    for attempt in range(3):  # a kept-alive connection the server just closed: try again
                        try:
                            response = await http.get(url)
                            break
                        except httpx.TransportError:
                            if attempt == 2:
                                raise
                    response.raise_for_status()
                    await container.upload_blob(f"{index:08d}", response.content, overwrite=True)
                    total_bytes += len(response.content)

            started = time.monotonic()
            await asyncio.gather(*(copy(index, url) for index, url in enumerate(urls)))
            seconds = time.monotonic() - started
        finally:
            await container.delete_container()
    return {"seconds": round(seconds, 3), "files": len(urls), "file_bytes": total_bytes}


def copy_floor_worker(argv: list[str]) -> int:
    """``python -m local.bench --copy-floor-worker URLFILE``; the storage connection from the environment.
    Prints one JSON line: seconds, files, bytes."""
    import asyncio

    parser = argparse.ArgumentParser(prog=f"local.bench {FLOOR_WORKER_FLAG}")
    parser.add_argument("url_file", type=Path)
    args = parser.parse_args(argv)
    connection_string = os.environ.pop(STORAGE_ENV, "")
    if not connection_string:
        print(f"{STORAGE_ENV} is not set", file=sys.stderr)
        return 2
    urls = [line for line in args.url_file.read_text().splitlines() if line]
    print(json.dumps(asyncio.run(copy_floor(urls, connection_string))))
    return 0


# --- CPU time per component ------------------------------------------------------------------------------


def _cpu_ticks(pid: int) -> int:
    """utime + stime of ``pid`` and its descendants, in clock ticks (0 for a process that is gone)."""
    total = 0
    for one in [pid, *descendants(pid)]:
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total


class CpuMeter:
    """CPU seconds each named process tree (and this process: the simulator and the polling) used from
    construction to ``used()``; with the wall time, it shows which part of the machine was busy."""

    def __init__(self, pids: dict[str, int]) -> None:
        self._pids = pids
        self._start = {name: _cpu_ticks(pid) for name, pid in pids.items()}
        self._own = time.process_time()

    def used(self) -> dict[str, float]:
        ticks = os.sysconf("SC_CLK_TCK")
        result = {name: round((_cpu_ticks(pid) - self._start[name]) / ticks, 2) for name, pid in self._pids.items()}
        result["simulator_and_bench"] = round(time.process_time() - self._own, 2)
        return result


# --- peak memory of the host process tree -----------------------------------------------------------------


def _status_kib(pid: int, field_name: str) -> int | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(rf"^{field_name}:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else None


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (from /proc's parent ids)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found: list[int] = []
    queue = [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


@dataclass
class RssSampler:
    """Keeps the high-water mark (``VmHWM``) of a process and of every descendant it saw."""

    pid: int
    interval: float = 1.0
    peaks: dict[int, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def sample(self) -> None:
        for pid in [self.pid, *descendants(self.pid)]:
            value = _status_kib(pid, "VmHWM")
            if value is not None:
                with self._lock:
                    self.peaks[pid] = max(self.peaks.get(pid, 0), value)

    def start(self) -> None:
        self.sample()

        def loop() -> None:
            while not self._stop.wait(self.interval):
                self.sample()

        self._thread = threading.Thread(target=loop, name="bench-rss", daemon=True)
        self._thread.start()

    def stop(self) -> dict[str, Any]:
        """Stop sampling (after one last sample); the sum of the high-water marks, in MiB."""
        if not self._stop.is_set():
            self._stop.set()
            if self._thread is not None:
                self._thread.join(timeout=5)
            self.sample()
        with self._lock:
            total = sum(self.peaks.values())
            return {"peak_rss_mib": round(total / 1024, 1), "processes": len(self.peaks)}


# --- the baseline: a naive sequential script with the official SDK -----------------------------------


def run_baseline(options: BenchOptions, key: str, progress: Callable[[str], None]) -> dict[str, Any]:
    """The same request as a plain sequential SDK script, in its own process, on a fresh account."""
    from local.simulator import SimulatorConfig, run_simulator

    config = SimulatorConfig(training_key=key, tps=options.tps, latency_ms=options.latency_ms, seed=options.seed)
    workdir = Path(tempfile.mkdtemp(prefix="cvdsr-bench-baseline-"))
    try:
        with run_simulator(config) as sim:
            log = sim.simulator.request_log
            before = len(log)
            args = [sys.executable, "-m", "local.bench", WORKER_FLAG, options.kind, sim.base_url, str(workdir)]
            if options.include:
                args += ["--include", ",".join(options.include)]
            env = {**os.environ, KEY_ENV: key, "PYTHONPATH": str(REPO)}
            started = time.monotonic()
            process = subprocess.Popen(args, cwd=str(REPO), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            try:
                out, err = process.communicate(timeout=options.timeout)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait(timeout=10)
            wall = time.monotonic() - started
            entries = log.entries()[before:]
        if process.returncode != 0:
            raise BenchError(f"the baseline script failed:\n{_redact(err.decode(errors='replace')[-3000:], key)}")
        report: dict[str, Any] = json.loads(out)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    calls = count_calls(entries)
    return {
        "wall_seconds": round(wall, 3),
        "script_seconds": report["seconds"],
        **calls,
        "own_lower_bound_seconds": round(calls["api_calls"] / options.tps, 3),
        "peak_rss_mib": report["peak_rss_mib"],
        "files": report["files"],
        "file_bytes": report["file_bytes"],
        "images": report["images"],
        "deleted_images": report["deleted_images"],
        "projects": report["projects"],
    }


class _Sdk:
    """The calls a naive script makes: SDK methods, with a retry when the SDK's own retries gave up on 429."""

    def __init__(self, endpoint: str, key: str) -> None:
        from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
        from msrest.authentication import ApiKeyCredentials

        credentials = ApiKeyCredentials(in_headers={"Training-key": key})
        self.client: Any = CustomVisionTrainingClient(endpoint, credentials)  # type: ignore[no-untyped-call]

    def __call__(self, method: str, *args: Any, **kwargs: Any) -> Any:
        from msrest.exceptions import HttpOperationError

        for attempt in range(20):
            try:
                return getattr(self.client, method)(*args, **kwargs)
            except HttpOperationError as error:
                response: Any = getattr(error, "response", None)
                if response is None or response.status_code != 429 or attempt == 19:
                    raise
                time.sleep(float(response.headers.get("Retry-After", "1")))
        raise AssertionError("unreachable")


def _pages(sdk: _Sdk, method: str, *args: Any, take: int = 256, **kwargs: Any) -> Iterator[list[Any]]:
    """Pages of a ``take``/``skip`` listing until a short page."""
    skip = 0
    while True:
        page: list[Any] = sdk(method, *args, take=take, skip=skip, **kwargs)
        if page:
            yield page
        if len(page) < take:
            return
        skip += len(page)


def _dump(path: Path, items: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    value = [item.as_dict() for item in items] if isinstance(items, list) else items.as_dict()
    path.write_text(json.dumps(value, default=str))


def baseline_export(endpoint: str, key: str, workdir: Path, include: tuple[str, ...] | None) -> dict[str, Any]:
    """List everything, page by page, and download every file, one call after another."""
    import httpx
    from azure.cognitiveservices.vision.customvision.training.models import PredictionQueryToken

    kinds = set(include or DATA_KINDS)
    sdk = _Sdk(endpoint, key)
    totals = {"projects": 0, "images": 0, "files": 0, "file_bytes": 0, "deleted_images": 0}
    with httpx.Client(timeout=60) as http:

        def download(uri: str | None, path: Path) -> None:
            if not uri:
                return
            response = http.get(uri)
            response.raise_for_status()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(response.content)
            totals["files"] += 1
            totals["file_bytes"] += len(response.content)

        projects = sdk("get_projects")
        for project in projects:
            totals["projects"] += 1
            folder = workdir / project.id
            _dump(folder / "project.json", project)
            iterations = sdk("get_iterations", project.id)
            if "iterations" in kinds:
                _dump(folder / "iterations.json", iterations)
            if "tags" in kinds:
                _dump(folder / "tags.json", sdk("get_tags", project.id))
            trained = [it for it in iterations if it.status == "Completed"]
            listings: list[str | None] = [None, *(it.id for it in trained)]
            if "images" in kinds:
                for iteration_id in listings:
                    lines = folder / ("images.jsonl" if iteration_id is None else f"{iteration_id}/images.jsonl")
                    lines.parent.mkdir(parents=True, exist_ok=True)
                    with lines.open("w") as out:
                        for page in _pages(sdk, "get_images", project.id, iteration_id=iteration_id):
                            for image in page:
                                out.write(json.dumps(image.as_dict(), default=str) + "\n")
                                totals["images"] += 1
                                target = folder / "images" / f"{image.id}.png"
                                if "image_files" in kinds and not target.exists():
                                    download(image.original_image_uri, target)
            for iteration in trained:
                it_folder = folder / iteration.id
                if "performance" in kinds:
                    _dump(it_folder / "performance.json", sdk("get_iteration_performance", project.id, iteration.id))
                    with (it_folder / "image-performances.jsonl").open("w") as out:
                        for page in _pages(sdk, "get_image_performances", project.id, iteration.id):
                            out.writelines(json.dumps(item.as_dict(), default=str) + "\n" for item in page)
                if "exports" in kinds:
                    exports = sdk("get_exports", project.id, iteration.id)
                    _dump(it_folder / "exports.json", exports)
                    for export in exports:
                        download(export.download_uri, it_folder / "exports" / f"{export.platform}-{export.flavor}.zip")
            if "predictions" in kinds:
                token = PredictionQueryToken(max_count=256)
                with (folder / "predictions.jsonl").open("w") as out:
                    while True:
                        result = sdk("query_predictions", project.id, token)
                        for prediction in result.results or []:
                            out.write(json.dumps(prediction.as_dict(), default=str) + "\n")
                            if "image_files" in kinds:
                                download(prediction.original_image_uri, folder / "predictions" / f"{prediction.id}.png")
                        continuation = result.token.continuation if result.token else None
                        if not continuation:
                            break
                        token = PredictionQueryToken(continuation=continuation, max_count=256)
    return totals


def baseline_erase(endpoint: str, key: str) -> dict[str, Any]:
    """Unpublish, delete images (256 ids a call, all iterations), predictions, tags, iterations, project."""
    from azure.cognitiveservices.vision.customvision.training.models import PredictionQueryToken
    from msrest.exceptions import HttpOperationError

    sdk = _Sdk(endpoint, key)
    totals = {"projects": 0, "images": 0, "files": 0, "file_bytes": 0, "deleted_images": 0}
    for project in sdk("get_projects"):
        iterations = sdk("get_iterations", project.id)
        for iteration in iterations:
            if iteration.publish_name:
                sdk("unpublish_iteration", project.id, iteration.id)
        ids = [image.id for page in _pages(sdk, "get_images", project.id) for image in page]
        totals["images"] += len(ids)
        for start in range(0, len(ids), 256):
            sdk("delete_images", project.id, image_ids=ids[start : start + 256], all_iterations=True)
            totals["deleted_images"] += len(ids[start : start + 256])
        predictions = sdk("query_predictions", project.id, PredictionQueryToken(max_count=256)).results or []
        prediction_ids = [prediction.id for prediction in predictions]
        for start in range(0, len(prediction_ids), 64):
            sdk("delete_prediction", project.id, prediction_ids[start : start + 64])
        for tag in sdk("get_tags", project.id):
            sdk("delete_tag", project.id, tag.id)
        for iteration in iterations:
            sdk("delete_iteration", project.id, iteration.id)
        for attempt in range(30):  # image deletion may still be running in the background
            try:
                sdk("delete_project", project.id)
                break
            except HttpOperationError:
                if attempt == 29:
                    raise
                time.sleep(1)
        totals["projects"] += 1
    return totals


def baseline_worker(argv: list[str]) -> int:
    """``python -m local.bench --baseline-worker KIND ENDPOINT WORKDIR [--include K,K]``; key from the
    environment. Prints one JSON line: the script's own time, what it did, its peak RSS."""
    import resource

    parser = argparse.ArgumentParser(prog="local.bench --baseline-worker")
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("endpoint")
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--include", type=_include, default=None)
    args = parser.parse_args(argv)
    key = os.environ.pop(KEY_ENV, "")
    if not key:
        print(f"{KEY_ENV} is not set", file=sys.stderr)
        return 2
    started = time.monotonic()
    if args.kind == "export":
        totals = baseline_export(args.endpoint, key, args.workdir, tuple(args.include) if args.include else None)
    else:
        totals = baseline_erase(args.endpoint, key)
    seconds = time.monotonic() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({**totals, "seconds": round(seconds, 3), "peak_rss_mib": round(peak_kib / 1024, 1)}))
    return 0


# --- output ---------------------------------------------------------------------------------------------


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.2f}{unit}"
    return f"{value}{unit}"


def _per_file(values: dict[str, float] | None) -> str:
    return ", ".join(f"{name} {value:g}" for name, value in values.items()) if values else "n/a"


def _load(values: list[float] | None) -> str:
    return "/".join(f"{value:g}" for value in values) if values else "n/a"


def _floor_lines(floor: dict[str, Any] | None) -> list[str]:
    if not floor:
        return []
    rate = floor["files"] / floor["seconds"] if floor["seconds"] else None
    return [
        f"  copy floor             {_fmt(floor['seconds'], ' s')}  ({floor['files']} files by a bare loop, "
        f"{floor['concurrency']} at a time: {_fmt(rate, '/s')})"
    ]


def render(figures: dict[str, Any]) -> str:
    """The figures as text: every time as a ratio against the bound and the baseline of the same run."""
    ratio = figures["ratio_to_bound"]
    verdict = "" if ratio is None else (" (within target)" if ratio <= figures["target_ratio"] else " (over target)")
    lines = [
        f"cvdsr bench {figures['kind']}: seed {figures['seed']}, {figures['tps']:g} calls/s per key, "
        f"{figures['latency_ms']:g} ms latency, include {figures['include']}, {figures['cpus']} CPUs "
        f"(load average {_load(figures.get('load_average_at_start'))} at start, "
        f"{_load(figures.get('load_average_at_end'))} at end)",
        f"  result                 {figures['runtime_status']} / {figures['result_status']}",
        f"  wall time              {_fmt(figures['wall_seconds'], ' s')}",
        f"  API calls (succeeded)  {figures['api_calls']}  (429: {figures['throttled_429']}, "
        f"5xx/dropped: {figures['server_errors']}, 4xx among them: {figures['api_calls_4xx']})",
        f"  file downloads         {figures['downloads']}"
        + (
            f"  ({_fmt(figures.get('downloads_per_second'), '/s')}; "
            f"CPU ms per file: {_per_file(figures.get('cpu_ms_per_download'))})"
            if figures["downloads"]
            else ""
        ),
        f"  API bound              {_fmt(figures['api_bound_seconds'], ' s')}  (calls / tps); "
        f"wall / API bound {_fmt(figures['ratio_to_api_bound'], 'x')}",
        *_floor_lines(figures.get("copy_floor")),
        f"  lower bound            {_fmt(figures['lower_bound_seconds'], ' s')}  (the larger of the two)",
        f"  wall / bound           {_fmt(ratio, 'x')}  (target <= {figures['target_ratio']}x){verdict}",
        f"  host peak RSS          {_fmt(figures['peak_rss_mib'], ' MiB')}  ({figures['host_processes']} process(es))",
        "  CPU seconds            "
        + ", ".join(f"{name} {seconds:g}" for name, seconds in figures["cpu_seconds"].items()),
    ]
    memory = figures.get("memory")
    if memory:
        lines += [
            f"  memory vs image count  {_fmt(memory['peak_rss_mib'], ' MiB')} for {memory['images']} images, "
            f"{_fmt(memory['small_peak_rss_mib'], ' MiB')} for {memory['small_images']} ({memory['small_seed']}): "
            f"ratio {_fmt(memory['ratio_peak_rss'], 'x')}",
        ]
    baseline = figures.get("baseline")
    if baseline:
        lines += [
            f"  baseline (SDK, sequential) {_fmt(baseline['wall_seconds'], ' s')}, "
            f"{baseline['api_calls']} calls, 429: {baseline['throttled_429']}, "
            f"{baseline['downloads']} downloads, peak RSS {_fmt(baseline['peak_rss_mib'], ' MiB')}",
            f"  baseline / bound       {_fmt(baseline['ratio_to_bound'], 'x')}",
            f"  cvdsr / baseline       {_fmt(figures['ratio_to_baseline'], 'x')}",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    if arguments[:1] == [WORKER_FLAG]:
        return baseline_worker(arguments[1:])
    if arguments[:1] == [FLOOR_WORKER_FLAG]:
        return copy_floor_worker(arguments[1:])
    parser = argparse.ArgumentParser(prog="cvdsr bench", description="Benchmark an export or erase.")
    add_arguments(parser)
    return run_from_args(parser.parse_args(arguments))


if __name__ == "__main__":
    sys.exit(main())
