"""Erase requests end to end: ordering, selective erasure, read-back, certificate, dry run, crash."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient

from local.certificate_cli import verify_file
from local.simulator import SimulatorConfig
from shared.dsr_request import ALL_KINDS
from shared.erase.certificate import digest

from . import ground_truth
from .support import REPO, TRAINING_KEY, Environment, environment, wait_for

ORDER = ["UnpublishIteration", "DeleteImages", "DeletePrediction", "DeleteTag", "DeleteIteration", "DeleteProject"]


@pytest.fixture
def env(azurite) -> Iterator[Environment]:
    with environment(azurite) as running:
        yield running


def erase(env: Environment, request_id: str, **fields: Any) -> dict[str, Any]:
    body = env.request(request_id, type="erase", **fields)
    env.send_queue(body)
    env.wait(request_id)
    (event,) = env.events(request_id)
    return event


def certificate(env: Environment, request_id: str) -> dict[str, Any]:
    document: dict[str, Any] = env.json(f"{request_id}/erasure-certificate.json")
    assert document["sha256"] == digest(document["certificate"]), "the certificate's digest verifies"
    body: dict[str, Any] = document["certificate"]
    return body


def test_whole_resource_erase_in_order_with_published_iterations(env: Environment) -> None:
    before = ground_truth.account(env.simulator.base_url)
    event = erase(env, "ERA-ALL-1", confirm="demo")
    assert event["type"] == "cvdsr.erase.completed"
    assert event["data"]["status"] == "succeeded", event["data"]["errors"]
    assert ground_truth.sdk(env.simulator.base_url).get_projects() == []
    cert = certificate(env, "ERA-ALL-1")
    assert cert["verified"] is True
    assert all(check["passed"] for check in cert["verification"])
    assert {c["target"] for c in cert["verification"] if c["check"] == "GetProject"} == set(before)
    assert cert["deleted"]["projects"] == len(before)
    assert cert["deleted"]["images"] == sum(len(p["images"]) for p in before.values())
    assert any(p["published_iterations"] for p in cert["projects"]), "the demo has a published iteration"
    # Per project, mutations happen in the order the API accepts.
    for project_id in before:
        operations = [m["operation"] for m in cert["mutations"] if f"/projects/{project_id}" in m["target"]]
        ranks = [ORDER.index(op) for op in operations]
        assert ranks == sorted(ranks), operations
        assert operations[-1] == "DeleteProject"
    assert {"UnpublishIteration", "DeletePrediction"} <= {m["operation"] for m in cert["mutations"]}
    # One event per channel, and exported models are reported as not deletable by API.
    assert len(env.bus_events("ERA-ALL-1")) == len(env.hook_events("ERA-ALL-1")) == 1
    assert any(item["kind"] == "exported models" for item in cert["not_deletable_by_api"])
    # The evidence is also in the write-once audit container.
    evidence = BlobServiceClient.from_connection_string(env.connection_string).get_container_client(
        env.settings["CVDSR_AUDIT_CONTAINER"]
    )
    assert evidence.download_blob("ERA-ALL-1/erasure-certificate.json").readall() == env.blob(
        "ERA-ALL-1/erasure-certificate.json"
    )
    assert evidence.download_blob("ERA-ALL-1/audit.jsonl").readall() == env.blob("ERA-ALL-1/audit.jsonl")


def test_listed_projects_only(env: Environment) -> None:
    before = ground_truth.account(env.simulator.base_url)
    target = next(pid for pid, p in before.items() if p["name"] == "Sandbox")
    event = erase(env, "ERA-LIST-1", scope={"projects": [target], "images": None}, confirm="demo")
    assert event["data"]["status"] == "succeeded"
    after = ground_truth.account(env.simulator.base_url)
    assert set(after) == set(before) - {target}
    for project_id, project in after.items():
        assert project == before[project_id], "other projects untouched"


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ({"metadata": {"subject": "alice"}}, lambda image: image.metadata and image.metadata.get("subject") == "alice"),
        ({"tag_names": ["Dog"]}, lambda image: any(t.tag_name == "dog" for t in image.tags or [])),
    ],
)
def test_a_data_subjects_images_across_projects(env: Environment, selector: dict[str, Any], matches: Any) -> None:
    sdk = ground_truth.sdk(env.simulator.base_url)
    projects = sdk.get_projects()
    chosen: dict[str, set[str]] = {}
    workspace: dict[str, set[str]] = {}
    trained: dict[str, list[str]] = {}
    for project in projects:
        trained[project.id] = [i.id for i in sdk.get_iterations(project.id) if i.status == "Completed"]
        workspace[project.id] = {i.id for i in sdk.get_images(project.id, take=256)}
        for iteration_id in [None, *trained[project.id]]:
            for image in sdk.get_images(project.id, iteration_id=iteration_id, take=256):
                if matches(image):
                    chosen.setdefault(project.id, set()).add(image.id)
    assert len(chosen) >= 1, "the demo holds matching images"
    event = erase(env, "ERA-SUBJ-1", scope={"projects": "all", "images": selector})
    assert event["data"]["status"] == "succeeded", event["data"]["errors"]
    for project in projects:
        for iteration_id in [None, *trained[project.id]]:
            left = {i.id for i in sdk.get_images(project.id, iteration_id=iteration_id, take=256)}
            assert not left & chosen.get(project.id, set()), "the subject's images are gone everywhere"
    for project in projects:
        after = {i.id for i in sdk.get_images(project.id, take=256)}
        assert after == workspace[project.id] - chosen.get(project.id, set()), "every other image is untouched"
    cert = certificate(env, "ERA-SUBJ-1")
    assert cert["verified"] is True
    affected = {p["project_id"]: p["trained_on_erased_images"] for p in cert["projects"]}
    assert any(affected.values()), "the certificate names the iterations that learned from the images"
    assert event["data"]["counts"]["images"] == len(set().union(*chosen.values()))
    assert ground_truth.sdk(env.simulator.base_url).get_projects(), "projects stay"
    # Erasure writes no erased content: no metadata values, no image bytes.
    for name in env.blob_names("ERA-SUBJ-1/"):
        body = env.blob(name)
        assert b"alice" not in body or name.endswith("request.json"), name
        assert not body.startswith(b"\x89PNG"), name


def test_dry_run_mutates_nothing(env: Environment) -> None:
    before = ground_truth.account(env.simulator.base_url)
    calls_before = env.mutations()
    event = erase(env, "ERA-DRY-1", dry_run=True)
    assert event["data"]["status"] == "succeeded"
    assert env.mutations() == calls_before, "a dry run sends no mutating call"
    assert ground_truth.account(env.simulator.base_url) == before
    plan = env.json("ERA-DRY-1/erase-plan.json")
    assert plan["would_delete"]["projects"] == len(before)
    assert plan["would_delete"]["images"] == sum(len(p["images"]) for p in before.values())
    assert plan["would_delete"]["published_iterations"] >= 1
    assert event["data"]["counts"] == plan["would_delete"]
    assert not env.blob_names("ERA-DRY-1/erasure-certificate.json")


def test_a_second_identical_request_resends_the_event_without_deleting(env: Environment) -> None:
    erase(env, "ERA-DUP-1", confirm="demo")
    deletes = env.mutations()
    env.send_queue(env.request("ERA-DUP-1", type="erase", confirm="demo"))
    events = wait_for(lambda: env.events("ERA-DUP-1") if len(env.events("ERA-DUP-1")) == 2 else None)
    assert events[0]["id"] == events[1]["id"]
    assert env.mutations() == deletes, "no delete for a duplicate"


def test_throttling_and_faults_still_end_verified(azurite) -> None:
    config = SimulatorConfig(seed="demo", training_key=TRAINING_KEY, tps=6, fault_rate=0.1, random_seed=5)
    with environment(azurite, simulator=config) as env:
        event = erase(env, "ERA-FAULT-1", confirm="demo")
        assert event["data"]["status"] == "succeeded", event["data"]["errors"]
        assert certificate(env, "ERA-FAULT-1")["verified"] is True
        statuses = [e.status for e in env.simulator.simulator.request_log.entries()]
        assert statuses.count(429) > 0
        assert sum(1 for s in statuses if s is None or s >= 500) > 0


def test_sigkill_during_erase_then_restart_completes_verified(azurite) -> None:
    config = SimulatorConfig(seed="demo", training_key=TRAINING_KEY, latency_ms=150)
    with environment(azurite, simulator=config, process=True) as env:
        env.send_queue(env.request("ERA-KILL-1", type="erase", confirm="demo"))
        wait_for(lambda: any(m.startswith("DELETE") for m in env.mutations()), timeout=60, what="a first delete")
        env.host.kill()
        env.restart_host()
        env.wait("ERA-KILL-1", timeout=180)
        (event,) = env.events("ERA-KILL-1")
        assert event["data"]["status"] == "succeeded", event["data"]["errors"]
        assert certificate(env, "ERA-KILL-1")["verified"] is True
        assert ground_truth.sdk(env.simulator.base_url).get_projects() == []


def test_certificate_json_is_well_formed(env: Environment, tmp_path: Path) -> None:
    erase(env, "ERA-CERT-1", scope={"projects": "all", "images": {"metadata": {"subject": "bob"}}})
    raw = env.blob("ERA-CERT-1/erasure-certificate.json")
    document = json.loads(raw)
    # `cvdsr host` with no signing key configured signs with the development key (README).
    assert set(document) == {"certificate", "sha256", "digest_of", "signature"}
    (tmp_path / "certificate.json").write_bytes(raw)
    proof = verify_file(tmp_path / "certificate.json", key_file=REPO / ".signing" / "dev-key.pem")
    assert proof.ok, proof.problems
    assert proof.kid == document["signature"]["kid"]
    # What the activity adds: the configuration's hash (never the settings), the tool, the law.
    body = document["certificate"]
    assert len(body["configuration_sha256"]) == 64
    assert body["tool"]["name"] == "cvdsr"
    assert body["counts"]["deleted"] == body["deleted"]
    times = body["times"]
    assert times["received_at"] <= times["acknowledged_at"] <= times["completed_at"], times
    assert TRAINING_KEY not in raw.decode()
    tampered = {**document["certificate"], "status": "succeeded", "verified": not document["certificate"]["verified"]}
    assert digest(tampered) != document["sha256"]


def test_the_account_goes_last_and_only_when_confirmed(env: Environment) -> None:
    import httpx

    from .support import ARM_ACCOUNT

    arm = f"{env.simulator.base_url}/_arm{ARM_ACCOUNT}?api-version=2023-05-01"
    headers = {"Authorization": "Bearer test"}
    everything = list(ALL_KINDS)
    dry = erase(env, "ERA-ACC-DRY", include=everything, dry_run=True)
    assert dry["data"]["counts"]["accounts"] == 1
    assert httpx.get(arm, headers=headers).status_code == 200, "a dry run deletes no account"
    event = erase(env, "ERA-ACC-1", include=everything, confirm="demo")
    assert event["data"]["status"] == "succeeded", event["data"]["errors"]
    assert httpx.get(arm, headers=headers).status_code == 404
    cert = certificate(env, "ERA-ACC-1")
    assert cert["deleted"]["accounts"] == 1
    checks = [c["check"] for c in cert["verification"]]
    assert checks[-2:] == ["GetAccount", "GetDeletedAccount"], "the account is verified gone, after the projects"
    assert cert["verified"] is True
    operations = [m["operation"] for m in cert["mutations"]]
    assert operations[-2:] == ["ARM DELETE Account", "ARM DELETE DeletedAccount"], operations
    assert operations.index("ARM DELETE Account") > max(i for i, op in enumerate(operations) if op == "DeleteProject")


def test_the_status_shows_each_projects_steps_while_an_erase_runs(azurite) -> None:
    # Slow API calls and one project at a time, so the erase can be watched step by step.
    config = SimulatorConfig(seed="synthetic:2:600", training_key=TRAINING_KEY, latency_ms=150)
    with environment(azurite, simulator=config, process=True, CVDSR_PROJECT_PARALLELISM="1") as env:
        env.send_queue(env.request("ERA-PROG-1", type="erase", confirm="demo"))
        seen = env.watch("ERA-PROG-1")
        resources = [
            d["progress"]["resources"][0] for d in seen if d["phase"] == "erasing" and d["progress"].get("resources")
        ]
        assert resources, f"no progress while erasing: {seen[:3]}"
        running = [project for r in resources for project in r["running"]]
        assert len({p["project_id"] for p in running}) == 2, "each project is seen while it runs"
        assert all(len(r["running"]) <= 1 for r in resources), "one project at a time, as configured"
        under_way = [p for p in running if p.get("step") in ORDER_OF_STEPS]
        assert under_way, "a running project shows the step under way"
        assert all(p["step"] not in p["steps_done"] for p in under_way), "under way means not yet done"
        steps = [p["steps_done"] for p in running if "steps_done" in p]
        assert any("delete_images" in s and "delete_project" not in s for s in steps), "seen part way through"
        for done in steps:
            assert done == [step for step in ORDER_OF_STEPS if step in done], f"steps in order: {done}"
        assert any(r["projects_done"] == 1 for r in resources)
        assert seen[-1]["status"] == "succeeded"


ORDER_OF_STEPS = [
    "unpublish",
    "delete_images",
    "wait_for_images",
    "delete_predictions",
    "delete_tags",
    "delete_iterations",
    "delete_project",
]


def test_a_lower_prediction_page_cap_still_exports_and_erases_every_prediction(azurite) -> None:
    """QueryPredictions' largest page is not documented: with a service that refuses more than 2 a page,
    the export still has every stored prediction, and the erase deletes them all."""
    config = SimulatorConfig(seed="demo", training_key=TRAINING_KEY, prediction_page_cap=2)
    with environment(azurite, simulator=config) as env:
        truth = ground_truth.account(env.simulator.base_url)
        assert sum(len(p["predictions"]) for p in truth.values()) > 2, "more predictions than one page holds"
        env.send_queue(env.request("PRED-CAP-EXP", type="export", include=["projects", "predictions"]))
        env.wait("PRED-CAP-EXP")
        manifest = env.json("PRED-CAP-EXP/manifest.json")
        assert manifest["status"] == "succeeded", manifest["errors"]
        for project_id, expected in truth.items():
            lines = env.jsonl(f"PRED-CAP-EXP/data/projects/{project_id}/predictions.jsonl")
            assert sorted(p["id"] for p in lines) == expected["predictions"]
        event = erase(env, "PRED-CAP-ERA", confirm="demo")
        assert event["data"]["status"] == "succeeded"
        assert certificate(env, "PRED-CAP-ERA")["deleted"]["predictions"] == sum(
            len(p["predictions"]) for p in truth.values()
        )
        refused = [
            line
            for line in env.jsonl("PRED-CAP-EXP/audit.jsonl")
            if line.get("operation") == "QueryPredictions" and line.get("status") == 400
        ]
        assert refused, "the first pages were refused and asked again smaller"
