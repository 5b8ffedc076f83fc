"""The copy floor: the run's file copies once more by a bare loop, in a worker process that does nothing
else. Its wall time is what this machine needs for the files alone, a reference for a run with files."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from local.bench.options import REPO, BenchError
from local.bench.processes import fresh_azurite

if TYPE_CHECKING:
    from local.simulator.request_log import RequestLogEntry
    from local.simulator.server import RunningSimulator

STORAGE_ENV = "CVDSR_BENCH_STORAGE"  # hands the storage connection to the copy-floor worker
FLOOR_WORKER_FLAG = "--copy-floor-worker"
COPY_FLOOR_CONCURRENCY = 16


def measure_copy_floor(
    sim: RunningSimulator,
    entries: Sequence[RequestLogEntry],
    workdir: Path,
    timeout: float,
    progress: Callable[[str], None],
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
