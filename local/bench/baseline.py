"""The baseline: the same request as a naive sequential script with the official SDK
(``azure-cognitiveservices-vision-customvision``), one call after another, files to local disk, in its own
process (``python -m local.bench --baseline-worker``) on a fresh copy of the account."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from local.bench.bound import count_calls
from local.bench.options import DATA_KINDS, KINDS, REPO, BenchError, BenchOptions, include_kinds
from local.bench.processes import redact

KEY_ENV = "CVDSR_BENCH_TRAINING_KEY"  # hands the key to the baseline worker without a command line
WORKER_FLAG = "--baseline-worker"


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
            raise BenchError(f"the baseline script failed:\n{redact(err.decode(errors='replace')[-3000:], key)}")
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
    parser.add_argument("--include", type=include_kinds, default=None)
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
