"""Timer triggers on the development host (tests/host/apps/timer): runs on a schedule read from an app
setting, once at start with run_on_startup, one run at a time, failures logged (masked) without stopping the
timer, the durable client binding, and a clean stop."""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from local.host import HostConfig, RunningHost, run_host, start_host_process

from .helpers import APPS, records, wait_for_status, wait_until


@pytest.fixture(scope="module")
def record_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("timer") / "record.txt"


def timer_env(azurite, record_file: Path) -> dict[str, str]:
    return {
        "AzureWebJobsStorage": azurite.connection_string,
        "TEST_TASK_HUB": "timer" + uuid.uuid4().hex[:8],
        "TEST_TICK_SCHEDULE": "* * * * * *",
        "HOST_TEST_RECORD": str(record_file),
    }


@pytest.fixture(scope="module")
def host(azurite, record_file: Path) -> Iterator[RunningHost]:
    with run_host(HostConfig(project_dir=APPS / "timer", port=0, env=timer_env(azurite, record_file))) as running:
        yield running


def lines(record_file: Path, prefix: str) -> list[str]:
    return [line for line in records(record_file) if line.startswith(prefix)]


def test_timer_runs_every_second_on_a_schedule_from_a_setting(host, record_file):
    wait_until(lambda: len(lines(record_file, "tick ")) >= 4, 20, "four ticks")
    fields = [line.split() for line in lines(record_file, "tick ")[:4]]
    times = [float(f[1]) for f in fields]
    assert times[3] - times[0] >= 2  # once a second, not faster (a run may start a little late)
    assert {f[2] for f in fields} <= {"False", "True"}  # TimerRequest.past_due is a bool
    # schedule_status.Next: the occurrence after each run, a whole second, one per run.
    following = [dt.datetime.fromisoformat(f[3]).timestamp() for f in fields]
    assert all(t == int(t) for t in following)
    assert all(b - a >= 1 for a, b in itertools.pairwise(following))
    assert all(0 < t - ran <= 2 for t, ran in zip(following, times, strict=True))


def test_run_on_startup_runs_once_at_start(host, record_file):
    wait_until(lambda: len(lines(record_file, "tick ")) >= 3, 20, "three ticks")
    # Its schedule is yearly (January 1, midnight): only the start ran it.
    assert lines(record_file, "startup") == ["startup"]
    assert records(record_file).index("startup") < records(record_file).index(lines(record_file, "tick ")[1])


def test_a_tick_while_the_previous_run_is_going_is_skipped(host, record_file, caplog):
    caplog.set_level(logging.INFO, logger="cvdsr.host")
    before = len(lines(record_file, "slow end"))
    wait_until(lambda: len(lines(record_file, "slow end")) >= before + 2, 20, "two more slow runs")
    slow = lines(record_file, "slow ")
    # A run takes 2.5 s on a schedule of every second: the runs never overlap.
    assert slow[: len(slow) // 2 * 2] == ["slow start", "slow end"] * (len(slow) // 2)
    assert any("timer 'slow': skipping the run due at" in r.getMessage() for r in caplog.records)


def test_a_failing_run_is_logged_masked_and_the_timer_goes_on(host, record_file, caplog):
    caplog.set_level(logging.INFO, logger="cvdsr.host")
    before = len(lines(record_file, "failing"))
    wait_until(lambda: len(lines(record_file, "failing")) >= max(before, 1) + 2, 20, "two more failing runs")
    failures = [r for r in caplog.records if "timer 'failing': the run failed (the timer goes on)" in r.getMessage()]
    assert len(failures) >= 2
    assert all(r.levelno == logging.ERROR for r in failures)
    assert "RuntimeError: cannot reach DefaultEndpointsProtocol=http;AccountName=a;AccountKey=***;" in (
        failures[0].getMessage()
    )
    assert not any("topsecret123" in r.getMessage() for r in caplog.records)


def test_timer_gets_a_durable_client(host, record_file):
    started = wait_until(lambda: lines(record_file, "started "), 20, "an orchestration started by a timer")
    instance_id = started[0].split()[1]
    done = wait_for_status(host.base_url, instance_id)
    assert done["runtimeStatus"] == "Completed"
    assert done["output"] == "hello from a timer"
    assert done["name"] == "hello"


@pytest.mark.slow
def test_host_stop_ends_the_timers(azurite, tmp_path):
    record_file = tmp_path / "record.txt"
    process = start_host_process(
        APPS / "timer", env=timer_env(azurite, record_file), log_path=tmp_path / "host.log", ready_timeout=60
    )
    try:
        wait_until(lambda: len(lines(record_file, "slow start")) >= 1 and len(lines(record_file, "tick ")) >= 2, 20)
    finally:
        started = time.monotonic()
        code = process.stop()
    assert code == 0, process.output()[-3000:]
    assert time.monotonic() - started < 10
    assert "Host stopped" in process.output()
    count = len(records(record_file))
    time.sleep(1.5)
    assert len(records(record_file)) == count
