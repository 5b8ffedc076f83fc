"""The host's HTTP body limit (CVDSR_HOST_MAX_BODY_BYTES): bodies are read as a stream and a body over the
limit is answered 413 without the function running and without the host buffering it."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from local.host import HostConfig, HostConfigError, RunningHost, run_host, start_host_process
from local.host.config import DEFAULT_MAX_BODY_BYTES, load_project_config

from .helpers import APPS, records

LIMIT = 256 * 1024
TOO_LARGE = {"error": "request body too large", "limit": LIMIT}


@pytest.fixture(scope="module")
def record_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("limits") / "record.txt"


@pytest.fixture(scope="module")
def host(azurite, record_file: Path) -> Iterator[RunningHost]:
    env = {
        "AzureWebJobsStorage": azurite.connection_string,
        "HOST_TEST_RECORD": str(record_file),
        "CVDSR_HOST_MAX_BODY_BYTES": str(LIMIT),
    }
    with run_host(HostConfig(project_dir=APPS / "limits", port=0, env=env)) as running:
        yield running


def chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    """A body without Content-Length (httpx sends an iterator chunked)."""
    sent = 0
    while sent < total:
        piece = min(size, total - sent)
        yield b"x" * piece
        sent += piece


def invocations(record_file: Path) -> list[str]:
    return [line for line in records(record_file) if line.startswith("size ")]


def test_body_over_the_limit_is_refused_and_the_function_not_invoked(host, record_file):
    before = invocations(record_file)
    response = httpx.post(f"{host.base_url}/api/size", content=b"x" * (LIMIT + 1), timeout=30)
    assert response.status_code == 413
    assert response.json() == TOO_LARGE
    assert invocations(record_file) == before


def test_body_at_the_limit_reaches_the_function(host, record_file):
    response = httpx.post(f"{host.base_url}/api/size", content=b"x" * LIMIT, timeout=30)
    assert response.status_code == 200
    assert response.text == str(LIMIT)
    streamed = httpx.post(f"{host.base_url}/api/size", content=chunks(LIMIT), timeout=30)
    assert streamed.status_code == 200
    assert streamed.text == str(LIMIT)
    assert invocations(record_file)[-2:] == [f"size {LIMIT}", f"size {LIMIT}"]


def test_chunked_body_over_the_limit_is_refused(host, record_file):
    before = invocations(record_file)
    response = httpx.post(f"{host.base_url}/api/size", content=chunks(4 * LIMIT), timeout=30)
    assert response.status_code == 413
    assert response.json() == TOO_LARGE
    assert invocations(record_file) == before


def test_content_length_over_the_limit_is_refused_before_the_body_is_sent(host, record_file):
    before = invocations(record_file)
    with socket.create_connection(("127.0.0.1", host.port), timeout=10) as sock:
        # Headers only: the body (1 GB) never comes, the answer must not wait for it.
        sock.sendall(b"POST /api/size HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n")
        reader = sock.makefile("rb")
        status = reader.readline()
        headers = {}
        while (line := reader.readline().strip()) != b"":
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        body = reader.read(int(headers[b"content-length"]))
    assert status.startswith(b"HTTP/1.1 413 ")
    assert json.loads(body) == TOO_LARGE
    assert invocations(record_file) == before


def test_the_connection_serves_the_next_request_after_a_413(host):
    with httpx.Client(base_url=host.base_url, timeout=30) as client:
        assert client.post("/api/size", content=chunks(2 * LIMIT)).status_code == 413
        after = client.post("/api/size", content=b"abc")
    assert after.status_code == 200
    assert after.text == "3"


def test_the_limit_setting(tmp_path):
    (tmp_path / "function_app.py").write_text("")
    assert load_project_config(tmp_path, env={}).max_body_bytes == DEFAULT_MAX_BODY_BYTES == 4 * 1024 * 1024
    assert load_project_config(tmp_path, env={"CVDSR_HOST_MAX_BODY_BYTES": "1024"}).max_body_bytes == 1024
    for bad in ("0", "-1", "4MB", "1e6"):
        with pytest.raises(HostConfigError, match="CVDSR_HOST_MAX_BODY_BYTES must be a positive number of bytes"):
            load_project_config(tmp_path, env={"CVDSR_HOST_MAX_BODY_BYTES": bad})


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmRSS/VmHWM from /proc")
def test_an_oversize_streamed_post_does_not_grow_the_host(azurite, tmp_path):
    record_file = tmp_path / "record.txt"
    # Empty: the default limit (the module's in-process host has exported its own to this environment).
    env = {
        "AzureWebJobsStorage": azurite.connection_string,
        "HOST_TEST_RECORD": str(record_file),
        "CVDSR_HOST_MAX_BODY_BYTES": "",
    }
    process = start_host_process(APPS / "limits", env=env, log_path=tmp_path / "host.log")
    try:
        assert httpx.post(f"{process.base_url}/api/size", content=b"warm up", timeout=30).status_code == 200
        baseline = _status_kib(process.pid, "VmRSS")
        try:  # reset the peak (VmHWM) to the current RSS, so the peak below is this request's
            Path(f"/proc/{process.pid}/clear_refs").write_text("5")
        except OSError:
            baseline = max(baseline, _status_kib(process.pid, "VmHWM"))
        response = httpx.post(f"{process.base_url}/api/size", content=chunks(64 * 1024 * 1024, 1024 * 1024), timeout=60)
        peak = _status_kib(process.pid, "VmHWM")
    finally:
        assert process.stop() == 0
    assert response.status_code == 413
    assert response.json() == {"error": "request body too large", "limit": DEFAULT_MAX_BODY_BYTES}
    assert invocations(record_file) == ["size 7"]
    grew_mib = (peak - baseline) / 1024
    assert grew_mib <= 16, f"the host's peak RSS grew by {grew_mib:.1f} MiB for a refused 64 MiB body"


def test_route_values_keep_what_the_path_decodes_to(host: RunningHost) -> None:
    """A tab or newline (%09, %0A) stays in the route value: urlsplit would drop it, so a status
    lookup of "R1%0A" would answer for "R1"."""
    for raw, value in (("R1%0A", "R1\n"), ("R1%09", "R1\t"), ("%2541", "%41")):
        response = httpx.get(f"{host.base_url}/api/echo/{raw}", timeout=10)
        assert response.text == repr(value)
