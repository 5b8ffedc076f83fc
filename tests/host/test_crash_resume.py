"""A host SIGKILLed in the middle of a fan-out resumes the instance on restart: same output, and no
activity whose result had been recorded runs again."""

from __future__ import annotations

import uuid
from collections import Counter

import httpx
import pytest

from local.host import start_host_process

from .helpers import APPS, records, wait_for_status, wait_until

pytestmark = pytest.mark.slow


def test_sigkill_mid_fan_out_then_resume(azurite, tmp_path):
    record = tmp_path / "record.txt"
    env = {
        "AzureWebJobsStorage": azurite.connection_string,
        "TEST_TASK_HUB": "crash" + uuid.uuid4().hex[:8],
        "TEST_START_QUEUE": "starts-crash",
        "TEST_WORK_QUEUE": "work-crash",
        "HOST_TEST_RECORD": str(record),
        "HOST_TEST_SLOW": "1.5",  # each activity takes 1.5 s; 2 run at a time (host.json)
    }
    project = APPS / "durable"
    first = start_host_process(project, env=env, log_path=tmp_path / "first.log")
    try:
        response = httpx.post(f"{first.base_url}/api/start/fan_out/crashme", json=8, timeout=30)
        assert response.status_code == 202, response.text
        # Activities 0-3 done (their slots were freed after their results were stored), 4 and 5 running.
        wait_until(
            lambda: sum(line.startswith("start double") for line in records(record)) >= 6,
            timeout=60,
            what="six activity starts",
        )
        at_kill = records(record)
        first.kill()
        ended_before_kill = {int(line.split()[-1]) for line in at_kill if line.startswith("end double")}
    finally:
        first.kill()
    assert len(ended_before_kill) >= 4
    # maxConcurrentActivityFunctions is 2 in the sample's host.json: never more than 2 at once.
    running, most = 0, 0
    for line in at_kill:
        running += 1 if line.startswith("start double") else -1
        most = max(most, running)
    assert most == 2
    second = start_host_process(project, env=env, log_path=tmp_path / "second.log")
    try:
        done = wait_for_status(second.base_url, "crashme", timeout=60)
    finally:
        second.stop()
    assert done["runtimeStatus"] == "Completed", done
    assert done["output"] == {"sum": 56, "results": [0, 2, 4, 6, 8, 10, 12, 14]}
    starts = Counter(int(line.split()[-1]) for line in records(record) if line.startswith("start double"))
    assert set(starts) == set(range(8))
    for value in ended_before_kill:
        assert starts[value] == 1, f"activity {value} had completed before the kill but ran again: {starts}"
    assert "Resumed 1 running orchestration instance" in second.output()


def test_second_host_on_same_hub_is_refused(azurite, tmp_path):
    env = {
        "AzureWebJobsStorage": azurite.connection_string,
        "TEST_TASK_HUB": "lease" + uuid.uuid4().hex[:8],
        "TEST_START_QUEUE": "starts-lease",
        "TEST_WORK_QUEUE": "work-lease",
        "HOST_TEST_RECORD": str(tmp_path / "r.txt"),
    }
    first = start_host_process(APPS / "durable", env=env, log_path=tmp_path / "first.log")
    try:
        with pytest.raises(Exception, match="in use by another host"):
            start_host_process(APPS / "durable", env=env, log_path=tmp_path / "second.log", ready_timeout=30)
    finally:
        assert first.stop() == 0
