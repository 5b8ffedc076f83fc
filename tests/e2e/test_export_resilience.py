"""Export under stress: throttling and faults, a SIGKILL mid-export, a data subject's export, and a
secret scan over everything the system wrote."""

from __future__ import annotations

import json
import logging
import re

import pytest

from local.simulator import SimulatorConfig

from .support import TRAINING_KEY, WEBHOOK_SECRET, Environment, environment, stored_texts, wait_for

STABLE = re.compile(r"/data/")  # report.html and request.json differ per request id and time


def data_digests(env: Environment, request_id: str) -> dict[str, str]:
    manifest = env.json(f"{request_id}/manifest.json")
    prefix = f"{request_id}/"
    return {f["path"].removeprefix(prefix): f["sha256"] for f in manifest["files"] if STABLE.search(f["path"])}


def test_throttling_and_faults_still_give_a_complete_export(azurite) -> None:
    # The key allows 3 calls/s without a burst: below where cvdsr's adaptive pacing starts (3.2/s),
    # so it meets 429s at once and must come down to the key's rate.
    config = SimulatorConfig(seed="demo", training_key=TRAINING_KEY, tps=3, burst=1, fault_rate=0.1, random_seed=9)
    # A host process of its own: the module's in-process host runs alongside, and the Durable client
    # library keeps one HTTP session per process, bound to the event loop that created it.
    with environment(azurite, simulator=config, process=True) as env:
        env.send_queue(env.request("EXP-FAULT-1"))
        status = env.wait("EXP-FAULT-1", timeout=180)
        manifest = env.json("EXP-FAULT-1/manifest.json")
        assert status["status"] == "succeeded", manifest["errors"]
        assert manifest["count_mismatches"] == []
        statuses = [e.status for e in env.simulator.simulator.request_log.entries()]
        assert statuses.count(429) > 0, "throttled"
        assert sum(1 for s in statuses if s is None or s >= 500) > 0, "faults injected"


def test_a_host_killed_mid_export_resumes_and_writes_the_same_files(azurite) -> None:
    config = SimulatorConfig(seed="demo", training_key=TRAINING_KEY, latency_ms=120)
    with environment(azurite, simulator=config, process=True) as env:
        env.send_queue(env.request("EXP-REF-1"))
        env.wait("EXP-REF-1", timeout=180)
        env.send_queue(env.request("EXP-KILL-1"))

        def pages_started() -> bool:
            names = env.blob_names("EXP-KILL-1/data/")
            return any("/images/" in name for name in names)

        wait_for(pages_started, timeout=90, what="image pages under way")
        env.host.kill()
        env.restart_host()
        env.wait("EXP-KILL-1", timeout=180)
        assert env.json("EXP-KILL-1/manifest.json")["status"] == "succeeded"
        assert data_digests(env, "EXP-KILL-1") == data_digests(env, "EXP-REF-1")
        assert len(env.events("EXP-KILL-1")) == 1


def test_a_data_subjects_export_holds_only_their_images(env: Environment) -> None:
    selector = {"metadata": {"subject": "alice"}}
    env.send_queue(env.request("EXP-SUBJ-1", scope={"projects": "all", "images": selector}))
    env.wait("EXP-SUBJ-1")
    manifest = env.json("EXP-SUBJ-1/manifest.json")
    assert manifest["status"] == "succeeded", manifest["errors"]
    assert manifest["notes"], "the manifest says what a selective export leaves out"
    lines = [
        line
        for name in env.blob_names("EXP-SUBJ-1/data/projects/")
        if name.endswith("/images.jsonl") and "/iterations/" not in name
        for line in env.jsonl(name)
    ]
    assert lines, "alice's images were exported"
    assert all(line["metadata"]["subject"] == "alice" for line in lines)
    files = [n for n in env.blob_names("EXP-SUBJ-1/data/projects/") if "/images/" in n]
    exported_ids = {line["id"] for line in lines}
    assert {name.rsplit("/", 1)[1].split(".")[0] for name in files} >= exported_ids
    assert not [n for n in env.blob_names("EXP-SUBJ-1/data/") if "predictions" in n or "image-performances" in n]


SIG = re.compile(r"sig=([^&\"'\s\\]+)")


def leaked(text: str, *, allowed_signatures: set[str]) -> list[str]:
    found = [secret for secret in (TRAINING_KEY, WEBHOOK_SECRET) if secret in text]
    found += [s for s in SIG.findall(text) if s != "REDACTED" and s not in allowed_signatures]
    return found


def test_no_key_or_signature_in_logs_history_blobs_or_events(
    env: Environment, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="shared")
    caplog.set_level(logging.DEBUG, logger="cvdsr")
    caplog.set_level(logging.DEBUG, logger="local")
    env.send_queue(env.request("EXP-SCAN-1", export_zip=True))
    env.send_servicebus(env.request("EXP-SCAN-2"))
    env.wait("EXP-SCAN-1")
    env.wait("EXP-SCAN-2")

    # Events: the result link is the one signature that may travel, and only in result.package_url.
    events = [*env.events("EXP-SCAN-1"), *env.bus_events("EXP-SCAN-1"), *env.hook_events("EXP-SCAN-1")]
    links = {e["data"]["result"]["package_url"] for e in events}
    assert len(links) == 1, "one event, the same on every channel"
    link_signatures = {s for link in links for s in SIG.findall(link)}
    for event in events:
        stripped = json.loads(json.dumps(event))
        stripped["data"]["result"]["package_url"] = None
        assert leaked(json.dumps(stripped), allowed_signatures=set()) == []

    texts: dict[str, str] = {}
    texts["logs"] = "\n".join(record.getMessage() for record in caplog.records)
    assert "EXP-SCAN-1" in texts["logs"], "the host's logs were captured"
    # Orchestration history and state: every table and blob in the storage account.
    texts |= stored_texts(env.connection_string)
    assert any("History" in name for name in texts), "the task hub's history was scanned"
    for where, text in texts.items():
        assert leaked(text, allowed_signatures=set()) == [], where
        assert not link_signatures & set(SIG.findall(text)), f"the result link leaked into {where}"


def test_an_export_that_cannot_read_anything_fails_with_the_reason(azurite) -> None:
    with environment(azurite, process=True, CUSTOMVISION__DEMO__TRAININGKEY="not-the-simulators-key") as env:
        env.send_queue(env.request("EXP-FAIL-1", include=["projects", "tags"]))
        status = env.wait("EXP-FAIL-1", timeout=240)
        assert status["status"] == "failed"
        (event,) = env.events("EXP-FAIL-1")
        assert event["type"] == "cvdsr.export.failed"
        (error,) = event["data"]["errors"]
        assert error["kind"] == "resource"
        assert "401" in error["error"]
        assert "not-the-simulators-key" not in json.dumps(event)
        assert env.json("EXP-FAIL-1/manifest.json")["status"] == "failed"


def test_the_status_shows_progress_while_an_export_runs(azurite) -> None:
    # Slow API calls and narrow widths (one project at a time, two pages), so the export runs long
    # enough to be watched page by page. Synthetic projects have no iterations: one listing each.
    config = SimulatorConfig(seed="synthetic:2:600", training_key=TRAINING_KEY, latency_ms=150)
    widths = {"CVDSR_PROJECT_PARALLELISM": "1", "CVDSR_PAGE_PARALLELISM": "2"}
    with environment(azurite, simulator=config, process=True, **widths) as env:
        env.send_queue(env.request("EXP-PROG-1", include=["projects", "images", "image_files"]))
        seen = env.watch("EXP-PROG-1", timeout=270)
        running = [d["progress"] for d in seen if d["runtime_status"] == "Running" and d["phase"] == "exporting"]
        resources = [p["resources"][0] for p in running if p.get("resources")]
        assert resources, f"no progress while exporting: {seen[:3]}"
        assert all(r["resource"] == "demo" for r in resources)
        # Before the resource has listed its projects, their number is not known yet.
        assert all(r["projects"] == 2 or (r["projects"] is None and not r["running"]) for r in resources)
        pages = [project for r in resources for project in r["running"] if project.get("step") == "images"]
        assert pages, "the running projects show their image pages"
        assert all(p["pages"] == 3 and 0 <= p["pages_done"] <= 3 for p in pages)  # 600 images: 3 pages of 256
        assert any(0 < p["pages_done"] < 3 for p in pages), "a listing seen part way through"
        files = [
            r["done"].get("image_files", 0) + sum(p.get("exported", {}).get("image_files", 0) for p in r["running"])
            for r in resources
        ]
        assert files == sorted(files), "counts only grow"
        assert any(r["projects_done"] == 1 and r["done"]["image_files"] == 600 for r in resources)
        final = seen[-1]
        assert final["counts"]["image_files"] == 1200
        assert "resources" not in final["progress"], "a finished request is answered from its own status"
