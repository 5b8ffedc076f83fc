"""The figures of a run as text (every time as a ratio against the bound and the baseline of the same
run) or as one JSON document (``--json``)."""

from __future__ import annotations

import json
from typing import Any


def as_json(figures: dict[str, Any]) -> str:
    return json.dumps(figures, indent=2, sort_keys=True)


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
