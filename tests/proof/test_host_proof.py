"""(b) Hostile bodies through the host on HTTP and the Storage queue, (c) SIGKILLs of the host at
random points across exports and erases with faults and 429 storms, (d) the secret scan of all the
system wrote. The full suite (``make proof``) prints the figures; ``make test`` runs a slice.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from typing import Any

import httpx
import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.queue import QueueClient

from local.simulator import SimulatorConfig
from shared.dsr_request import RequestRejected, parse_request
from shared.events.callbacks import CallbackPolicy
from tests.e2e.support import TRAINING_KEY, WEBHOOK_SECRET, Environment, environment, wait_for

from . import figures, scan
from .bodies import EMAIL, SECRET, bodies

BODIES = 1_000 if figures.FULL else 24
KILLS = 12  # per phase: exports, then erases
QUEUE_LIMIT = 48 * 1024  # a Storage queue message is 64 KiB after base64


def record_of(raw: bytes) -> str:
    """Where intake records this body's rejection (as ``shared.intake`` does)."""
    try:
        parse_request(raw, configured_resources={"demo": None}, callbacks=CallbackPolicy())
    except RequestRejected as rejection:
        return rejection.record_id
    raise AssertionError("a hostile body parsed")


def test_hostile_bodies_are_rejected_recorded_and_never_retried(azurite: Any) -> None:
    part = "hostile bodies (HTTP + queue)"
    sent = list(bodies(BODIES))
    with environment(azurite, process=True) as env:
        answers = []
        for raw in sent:
            response = httpx.post(f"{env.host.base_url}/api/requests", content=raw, timeout=60)
            answers.append(response.status_code)
        figures.add(part, inputs_tried=len(sent), **{"5xx_answers": sum(1 for code in answers if code >= 500)})
        assert [code for code in answers if code != 400] == []
        queued = [raw for raw in sent if len(raw) < QUEUE_LIMIT]
        for raw in queued:
            env.send_queue(raw)
        figures.add(part, inputs_tried=len(queued))
        expected = {record_of(raw): raw for raw in sent}
        deliveries = len(sent) + len(queued)

        def all_announced() -> bool:
            return len([e for e in env.webhook.received if e["type"] == "cvdsr.request.rejected"]) >= deliveries

        wait_for(all_announced, timeout=120 + BODIES * 0.3, what="a rejection event per delivery")
        recorded = [rid for rid in expected if env.blob_names(f"{rid}/manifest.json")]
        figures.add(part, rejections_recorded=len(recorded), requests_lost=len(expected) - len(recorded))
        assert sorted(recorded) == sorted(expected)
        started = [rid for rid in expected if env.status(rid) is not None]
        figures.add(part, work_done_twice=len(started))
        assert started == [], "no hostile body started an orchestration"
        poison = QueueClient.from_connection_string(env.connection_string, "dsr-requests-poison")
        try:
            poisoned = len(poison.peek_messages(max_messages=32))
        except ResourceNotFoundError:
            poisoned = 0
        figures.add(part, requests_lost=poisoned)
        assert poisoned == 0, "a rejection is final: nothing is retried into the poison queue"
        crashed = env.host.process.poll() is not None
        figures.add(part, host_crashes=int(crashed))
        texts = scan.places(env.connection_string, env.host.output(), env.webhook.received)
        found = scan.hits(texts, [TRAINING_KEY, WEBHOOK_SECRET, SECRET, EMAIL])
        figures.add(part, secret_hits=len(found))
        assert found == []
        assert not crashed


def _digests(env: Environment, request_id: str) -> dict[str, str]:
    manifest = env.json(f"{request_id}/manifest.json")
    return {f["path"].split("/", 1)[1]: f["sha256"] for f in manifest["files"] if "/data/" in "/" + f["path"]}


def _duplicates(env: Environment, request_id: str) -> int:
    """Records written twice: a manifest listing a file twice, an id twice in one JSONL listing."""
    manifest = env.json(f"{request_id}/manifest.json")
    paths = [f["path"] for f in manifest.get("files", [])]
    twice = len(paths) - len(set(paths))
    for path in paths:
        if path.endswith(".jsonl"):
            ids = [line.get("id") for line in env.jsonl(path) if "id" in line]
            twice += len(ids) - len(set(ids))
    return twice


@pytest.mark.skipif(not figures.FULL, reason="make proof only: make test's SIGKILL tests are tests/e2e/*resilience*")
def test_host_killed_at_random_points_loses_nothing_and_does_nothing_twice(azurite: Any) -> None:
    part = "SIGKILLs (export + erase)"
    rng = random.Random(20)
    config = SimulatorConfig(
        seed="synthetic:2:400", training_key=TRAINING_KEY, tps=6, fault_rate=0.1, random_seed=7, latency_ms=15
    )
    with environment(azurite, simulator=config, process=True) as env:
        kills = 0
        requests: list[str] = []

        def run_with_kills(request_id: str, body: dict[str, Any], target: int) -> None:
            nonlocal kills
            env.send_queue(body)
            requests.append(request_id)
            done = kills + target
            while kills < done:
                time.sleep(rng.uniform(0.5, 4.0))
                status = env.status(request_id)
                if status and status["runtime_status"] == "Completed":
                    break
                if env.host.process.poll() is not None:
                    figures.add(part, host_crashes=1)
                env.host.kill()
                kills += 1
                env.restart_host()
            env.wait(request_id, timeout=300)

        index = 0
        while kills < KILLS:
            index += 1
            run_with_kills(f"KILL-EXP-{index}", env.request(f"KILL-EXP-{index}"), KILLS - kills)
        erase_kills_from = kills
        subject = 0
        while kills < erase_kills_from + KILLS:
            subject += 1
            selector = {"metadata": {"subject": f"subject-{subject:02d}"}}
            body = env.request(f"KILL-ERA-{subject}", type="erase", scope={"projects": "all", "images": selector})
            run_with_kills(f"KILL-ERA-{subject}", body, erase_kills_from + KILLS - kills)
        figures.add(part, inputs_tried=len(requests), kills_survived=kills)

        lost = twice = 0
        for request_id in requests:
            events = {e["id"]: e for e in env.hook_events(request_id)}
            outcome = env.status(request_id) or {}
            if outcome.get("status") not in ("succeeded", "partially_succeeded") or not events:
                lost += 1
            twice += len({e["data"]["status"] for e in events.values()}) - 1  # one outcome per request
            twice += _duplicates(env, request_id)
        for request_id in requests:
            if request_id.startswith("KILL-ERA-"):
                certificate = env.json(f"{request_id}/erasure-certificate.json")["certificate"]
                lost += int(not certificate["verified"])
        figures.add(part, requests_lost=lost, work_done_twice=twice)
        assert lost == 0
        assert twice == 0
        exports = [r for r in requests if r.startswith("KILL-EXP-")]
        assert len({json.dumps(_digests(env, r), sort_keys=True) for r in exports}) == 1, "kills change no file"
        texts = scan.places(env.connection_string, env.host.output(), env.webhook.received)
        found = scan.hits(texts, [TRAINING_KEY, WEBHOOK_SECRET])
        figures.add(part, secret_hits=len(found))
        assert found == []
        assert hashlib.sha256(b"").hexdigest()  # the digests compared above are SHA-256 of each file
