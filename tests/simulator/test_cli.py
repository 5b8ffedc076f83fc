"""`cvdsr simulate` (here `python -m local.simulator`): arguments, foreground run, Ctrl-C, no key output."""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from local.simulator.cli import add_arguments, config_from_args, run_from_args

ROOT = Path(__file__).resolve().parents[2]


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_arguments_map_onto_the_config() -> None:
    args = _parse(
        "--tps", "5", "--latency-ms", "20", "--fault-rate", "0.1", "--seed", "synthetic:2:10", "--uri-ttl-seconds", "60"
    )
    config = config_from_args(args)
    assert (config.tps, config.latency_ms, config.fault_rate, config.seed, config.uri_ttl_seconds) == (
        5,
        20,
        0.1,
        "synthetic:2:10",
        60,
    )
    assert (args.host, args.port) == ("127.0.0.1", 8089)


def test_invalid_values_are_rejected() -> None:
    with pytest.raises(SystemExit):
        _parse("--seed", "lots")
    assert run_from_args(_parse("--fault-rate", "2")) == 2


def test_foreground_run_prints_the_endpoint_and_stops_on_ctrl_c() -> None:
    secret = "cli-secret-training-key"
    process = subprocess.Popen(
        [sys.executable, "-m", "local.simulator", "--port", "0", "--seed", "demo", "--training-key", secret],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline()
        match = re.search(r"on (http://127\.0\.0\.1:\d+)", first_line)
        assert match, first_line
        lines = [first_line] + [process.stdout.readline() for _ in range(5)]
        response = httpx.get(
            f"{match.group(1)}/customvision/v3.3/training/projects", headers={"Training-Key": secret}, timeout=10
        )
        assert len(response.json()) == 3
        process.send_signal(signal.SIGINT)
        remaining, _ = process.communicate(timeout=15)
        assert process.returncode == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = "".join(lines) + remaining
    assert "Training-Key:  the value of --training-key" in output
    assert secret not in output
