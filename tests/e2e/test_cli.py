"""The ``cvdsr`` command as a user runs it: submit and status against a running host, and the demo."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from .support import Environment

CVDSR = [sys.executable, "-m", "local.cli"]


def run(args: list[str], env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Run ``cvdsr``; on a timeout stop it with SIGTERM (so it stops what it started), not SIGKILL."""
    process = subprocess.Popen(
        [*CVDSR, *args], env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.terminate()
        stdout, stderr = process.communicate(timeout=60)
        raise AssertionError(f"cvdsr {args[0]} timed out:\n{stdout}\n{stderr}") from None
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def test_submit_wait_and_status(env: Environment, tmp_path: Path) -> None:
    settings = {"AzureWebJobsStorage": env.connection_string, "CVDSR_EVENTS_QUEUE": env.events_queue}
    submitted = run(
        [
            "submit",
            "export",
            "--resource",
            "demo",
            "--request-id",
            "CLI-EXP-1",
            "--ticket-id",
            "INC-9",
            "--format",
            "coco",
            "--format",
            "csv",
            "--host-url",
            env.host.base_url,
            "--wait",
            "--timeout",
            "120",
        ],
        settings,
    )
    assert submitted.returncode == 0, submitted.stderr
    event = json.loads(submitted.stdout)
    assert event["type"] == "cvdsr.export.completed"
    assert event["data"]["ticket"]["id"] == "INC-9"
    datasets = {name.rsplit("/", 1)[-1] for name in env.blob_names("CLI-EXP-1/data/projects/") if "/datasets/" in name}
    assert datasets == {"coco.json", "dataset.csv"}
    status = run(["status", "CLI-EXP-1", "--host-url", env.host.base_url], settings)
    assert status.returncode == 0
    assert json.loads(status.stdout)["status"] == "succeeded"
    missing = run(["status", "NO-SUCH-REQUEST", "--host-url", env.host.base_url], settings)
    assert missing.returncode == 1
    rejected = run(
        ["submit", "erase", "--resource", "demo", "--via", "http", "--host-url", env.host.base_url], settings
    )
    assert rejected.returncode == 1
    assert "confirm" in rejected.stdout


def test_the_demo_exports_and_erases_end_to_end(tmp_path: Path) -> None:
    result = run(["demo", "--output", str(tmp_path)], {}, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "status succeeded" in result.stdout
    assert "checks passed" in result.stdout
    exports = list(tmp_path.glob("DEMO-EXPORT-*"))
    assert len(exports) == 1
    assert (exports[0] / "report.html").exists()
    report = json.loads((exports[0] / "report.json").read_text())
    assert "not configured" not in json.dumps(report["resources"]), "the demo configures its Art. 15 information"
    assert (exports[0] / "export.zip").exists()
    datasets = {p.name for p in exports[0].glob("data/projects/*/datasets/**/*") if p.is_file()}
    assert datasets == {"coco.json", "images.jsonl", "MLTable", "dataset.csv"}
    assert re.search(r"datasets for other tools \(COCO, Azure ML, CSV\): [1-9]\d* files", result.stdout)
    erasures = list(tmp_path.glob("DEMO-ERASE-*"))
    certificate = json.loads((erasures[0] / "erasure-certificate.json").read_text())
    assert certificate["certificate"]["verified"] is True
    assert "cvdsr verify-certificate: the certificate verifies (seal and ES256 signature, signed by local:" in (
        result.stdout
    )
    assert certificate["signature"]["alg"] == "ES256"
    assert re.search(r"Sombra received [1-9]\d* image record\(s\) and [1-9]\d* file\(s\); job READY", result.stdout)
