"""Smoke tests of ``cvdsr bench`` (local/bench/) on tiny accounts: the code path runs end to end and
reports sane figures. These test the benchmark's code, not cvdsr's speed: nothing here asserts a time."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.bench import bound, cli, options, report

pytestmark = pytest.mark.slow

FIGURES = {
    "kind",
    "seed",
    "tps",
    "wall_seconds",
    "api_calls",
    "throttled_429",
    "downloads",
    "api_bound_seconds",
    "copy_floor",
    "lower_bound_seconds",
    "ratio_to_bound",
    "peak_rss_mib",
    "cpu_seconds",
    "result_status",
    "memory",
    "baseline",
    "ratio_to_baseline",
}


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    code = cli.main([*argv, "--json", "--timeout", "45"])
    out, err = capsys.readouterr()
    assert code == 0, err
    figures: dict[str, Any] = json.loads(out)
    return figures


def assert_sane(figures: dict[str, Any]) -> None:
    assert figures["wall_seconds"] > 0
    assert figures["api_calls"] > 0
    assert figures["api_bound_seconds"] == pytest.approx(figures["api_calls"] / figures["tps"], abs=0.001)
    floor = figures["copy_floor"]
    expected_bound = max(figures["api_bound_seconds"], floor["seconds"] if floor else 0.0)
    assert figures["lower_bound_seconds"] == pytest.approx(expected_bound, abs=0.001)
    assert figures["lower_bound_seconds"] > 0
    assert figures["ratio_to_bound"] > 0
    assert figures["peak_rss_mib"] > 10
    assert figures["throttled_429"] >= 0
    assert figures["runtime_status"] == "Completed"
    assert figures["result_status"] == "succeeded"


def test_export_without_baseline(capsys: pytest.CaptureFixture[str]) -> None:
    figures = run_json(capsys, "export", "--seed", "synthetic:1:300", "--tps", "50", "--no-baseline")
    assert set(figures) >= FIGURES
    assert_sane(figures)
    assert figures["downloads"] == 300, "every image file is downloaded once"
    floor = figures["copy_floor"]
    assert floor["files"] == 300, "the floor copies the same files once more"
    assert floor["file_bytes"] > 300 * 100
    assert floor["seconds"] > 0
    assert figures["counts"]["image_files"] == 300
    assert figures["memory"] is None
    assert figures["baseline"] is None
    assert figures["ratio_to_baseline"] is None


def test_erase_with_memory_comparison_and_sdk_baseline(capsys: pytest.CaptureFixture[str]) -> None:
    figures = run_json(capsys, "erase", "--seed", "synthetic:1:300", "--tps", "50")
    assert set(figures) >= FIGURES
    assert_sane(figures)
    memory = figures["memory"]
    assert memory["small_seed"] == "synthetic:1:60"
    assert memory["small_peak_rss_mib"] > 10
    assert memory["ratio_peak_rss"] > 0
    assert figures["copy_floor"] is None, "an erase copies no files"
    baseline = figures["baseline"]
    assert baseline["wall_seconds"] > 0
    assert baseline["api_calls"] > 0
    assert baseline["deleted_images"] == 300
    assert baseline["projects"] == 1
    assert figures["ratio_to_baseline"] > 0


def test_text_report_names_every_ratio() -> None:
    figures: dict[str, Any] = {
        "kind": "export",
        "seed": "synthetic:1:10",
        "tps": 10.0,
        "latency_ms": 20.0,
        "include": "all",
        "cpus": 2,
        "target_ratio": 1.5,
        "runtime_status": "Completed",
        "result_status": "succeeded",
        "wall_seconds": 3.0,
        "api_calls": 20,
        "api_calls_4xx": 0,
        "throttled_429": 1,
        "server_errors": 0,
        "downloads": 10,
        "api_bound_seconds": 1.0,
        "ratio_to_api_bound": 3.0,
        "copy_floor": {"seconds": 2.0, "files": 10, "file_bytes": 1000, "concurrency": 16},
        "lower_bound_seconds": 2.0,
        "ratio_to_bound": 1.5,
        "peak_rss_mib": 90.0,
        "host_processes": 1,
        "cpu_seconds": {"host": 1.0, "azurite": 0.5, "simulator_and_bench": 0.1},
        "memory": {
            "small_seed": "synthetic:1:2",
            "small_images": 2,
            "images": 10,
            "peak_rss_mib": 90.0,
            "small_peak_rss_mib": 90.0,
            "ratio_peak_rss": 1.0,
        },
        "baseline": {
            "wall_seconds": 6.0,
            "api_calls": 12,
            "throttled_429": 3,
            "downloads": 10,
            "peak_rss_mib": 70.0,
            "ratio_to_bound": 3.0,
        },
        "ratio_to_baseline": 0.5,
    }
    text = report.render(figures)
    for expected in (
        "wall / bound",
        "1.50x",
        "wall / API bound 3.00x",
        "copy floor",
        "5.00/s",
        "ratio 1.00x",
        "cvdsr / baseline",
        "0.50x",
        "baseline / bound",
    ):
        assert expected in text


def test_counting_and_seeds() -> None:
    class Entry:
        def __init__(self, path: str, status: int | None) -> None:
            self.path, self.status = path, status

    entries = [
        Entry("/customvision/v3.3/training/projects", 200),
        Entry("/customvision/v3.3/training/projects", 429),
        Entry("/customvision/v3.3/training/projects/x", 404),
        Entry("/customvision/v3.3/training/projects/x", 503),
        Entry("/customvision/v3.3/training/projects/x", None),
        Entry("/_blobs/images/x", 200),
        Entry("/_simulator/summary", 200),
    ]
    assert bound.count_calls(entries) == {
        "api_calls": 2,
        "api_calls_4xx": 1,
        "throttled_429": 1,
        "server_errors": 2,
        "downloads": 1,
    }
    assert options.default_small_seed("synthetic:5:10000") == "synthetic:5:2000"
    assert options.default_small_seed("demo") is None
    assert options.seed_images("synthetic:5:10000") == 50_000
