"""Pacing across processes (``make pacing``): three development hosts, three installations with their
own task hubs, export the same account through one key limited to 10 calls/s, as three Flex
Consumption instances would. Each process paces itself adaptively (shared.customvision.throttle); the
figures are the share of calls the service refused with 429 and the throughput while all three ran,
each against its bound."""

from __future__ import annotations

import os
from contextlib import ExitStack
from datetime import datetime
from typing import Any

import pytest

from local.simulator import SimulatorConfig, run_simulator
from tests.e2e.support import TRAINING_KEY, environment

pytestmark = pytest.mark.skipif(os.environ.get("CVDSR_PACING") != "full", reason="make pacing only")

LIMIT = 10.0  # calls/s on the key, as the service allows per resource
HOSTS = 3
MAX_429_SHARE = 0.02
MIN_THROUGHPUT = 0.85
INCLUDE = ["projects", "tags", "iterations", "images"]  # API calls only: image files come from storage


def test_three_hosts_on_one_key_share_its_limit_with_few_429s(azurite: Any) -> None:
    config = SimulatorConfig(seed="synthetic:12:2000", training_key=TRAINING_KEY, tps=LIMIT, burst=int(LIMIT))
    with run_simulator(config) as sim, ExitStack() as stack:
        envs = [stack.enter_context(environment(azurite, simulator=sim, process=True)) for _ in range(HOSTS)]
        sim.simulator.request_log.clear()
        for index, env in enumerate(envs):
            answer = env.post(env.request(f"PACE-{index}", include=INCLUDE))  # its own host: the queue is shared
            assert answer.status_code == 202, answer.text
        finished = []
        for index, env in enumerate(envs):
            env.wait(f"PACE-{index}", timeout=900)
            manifest = env.json(f"PACE-{index}/manifest.json")
            assert manifest["status"] == "succeeded", manifest["errors"]
            assert manifest["count_mismatches"] == []
            finished.append(datetime.fromisoformat(manifest["completed_at"]))
        calls = [e for e in sim.simulator.request_log.entries() if e.api == "training"]

    throttled = sum(1 for e in calls if e.status == 429)
    start_time = min(e.time for e in calls)
    when = [round((e.time - start_time).total_seconds(), 1) for e in calls if e.status == 429]
    share = throttled / len(calls)
    start = min(e.time for e in calls)
    all_running = [e for e in calls if e.time <= min(finished) and e.status == 200]
    seconds = (min(finished) - start).total_seconds()
    throughput = len(all_running) / seconds / LIMIT
    print(
        f"\npacing: {HOSTS} hosts, {len(calls)} calls, {throttled} answered 429: "
        f"{share:.2%} of calls (bound {MAX_429_SHARE:.0%}, ratio {share / MAX_429_SHARE:.2f}); "
        f"while all ran ({seconds:.0f} s): {throughput:.2f} of the key's {LIMIT:g} calls/s "
        f"(bound {MIN_THROUGHPUT:.2f}, ratio {throughput / MIN_THROUGHPUT:.2f}); 429s at {when} s"
    )
    assert share < MAX_429_SHARE
    assert throughput >= MIN_THROUGHPUT
