"""Transcend drives cvdsr through its "Server Webhook": the fake Sombra (local/platforms/transcend.py)
signs and sends the webhooks and checks the results, the development host runs the real app, the
simulator holds the demo account (images with metadata ``subject`` = alice/bob/carol)."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from azure.storage.blob import BlobServiceClient
from cryptography.hazmat.primitives.asymmetric import ec

from local.http_server import serve
from local.platforms.transcend import FakeSombra

from .ground_truth import subjects_images
from .support import TRAINING_KEY, Environment, environment, stored_texts, wait_for

API_KEY = "tk_live_e2e-8d1f0c6a2b"
AUDIENCE = "acme"


@pytest.fixture(scope="module")
def sombra() -> FakeSombra:
    return FakeSombra(api_key=API_KEY, audience=AUDIENCE)


@pytest.fixture(scope="module")
def env(azurite: Any, sombra: FakeSombra) -> Iterator[Environment]:
    with (
        serve(sombra.app()) as sombra_url,
        environment(
            azurite,
            CVDSR_TRANSCEND__SOMBRA_URL=sombra_url,
            CVDSR_TRANSCEND__API_KEY=API_KEY,
            CVDSR_TRANSCEND__AUDIENCE=AUDIENCE,
            CVDSR_TRANSCEND__RESOURCES="demo",
            CUSTOMVISION__DEMO__SUBJECT_METADATA_KEY="subject",
        ) as running,
    ):
        yield running


def deliver(env: Environment, headers: dict[str, str], body: bytes) -> httpx.Response:
    return httpx.post(f"{env.host.base_url}/api/connectors/transcend", content=body, headers=headers, timeout=60)


def finished(env: Environment, request_id: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        status = env.status(request_id)
        return status if status and status["runtime_status"] in ("Completed", "Failed") else None

    status: dict[str, Any] = wait_for(done, timeout=120, what=f"{request_id} to finish")
    return status


def test_an_access_request_resolves_in_sombra_with_the_persons_records_and_files(
    env: Environment, sombra: FakeSombra
) -> None:
    expected = subjects_images(env, "alice")
    assert expected, "the demo account holds alice's images"
    headers, body = sombra.webhook("ACCESS", "alice", request_id="3c9e6a1e-0d2b-4e6f-9a51-2f7d7c0b1e11")
    answer = deliver(env, headers, body)
    assert answer.status_code == 200, answer.text
    request_id = answer.json()["request_id"]
    assert answer.json()["outcome"] == "started"
    assert request_id.startswith("tr-access-3c9e6a1e-0d2b-4e6f-9a51-2f7d7c0b1e11-")
    assert finished(env, request_id)["status"] == "succeeded"
    manifest = env.json(f"{request_id}/manifest.json")
    assert manifest["count_mismatches"] == [], "only the images were asked for, and all of them came"

    job = sombra.jobs[headers["x-transcend-nonce"]]
    wait_for(lambda: job.state == "resolved", timeout=30, what="the job to resolve")
    assert job.status == "READY"
    records = job.records["images"]
    assert {record["id"] for record in records} == set(expected)
    assert all(record["metadata"]["subject"] == "alice" for record in records)
    files = {remote.rsplit("/", 1)[1].split(".")[0]: hashlib.sha256(data).hexdigest() for _, remote, data in job.files}
    assert files == expected, "every file, byte for byte, and no one else's"
    assert all(name == "image_files" for name, _, _ in job.files)

    # Transcend sends the webhook again (a new token and nonce): the same request, nothing done twice,
    # and the new job gets the answer too.
    calls = env.api_calls()
    again_headers, again_body = sombra.webhook("ACCESS", "alice", request_id="3c9e6a1e-0d2b-4e6f-9a51-2f7d7c0b1e11")
    again = deliver(env, again_headers, again_body)
    assert again.status_code == 200, again.text
    assert again.json() == {"outcome": "resent", "request_id": request_id, "reasons": []}
    second = sombra.jobs[again_headers["x-transcend-nonce"]]
    wait_for(lambda: second.state == "resolved", timeout=30, what="the redelivered job to resolve")
    assert {record["id"] for record in second.records["images"]} == set(expected)
    assert env.api_calls() == calls, "a redelivery reads nothing from Custom Vision again"


def test_an_erasure_is_resolved_only_after_it_is_verified(env: Environment, sombra: FakeSombra) -> None:
    bobs = subjects_images(env, "bob")
    assert bobs
    headers, body = sombra.webhook("ERASURE", "bob")
    answer = deliver(env, headers, body)
    assert answer.status_code == 200, answer.text
    request_id = answer.json()["request_id"]
    assert finished(env, request_id)["status"] == "succeeded"
    job = sombra.jobs[headers["x-transcend-nonce"]]
    wait_for(lambda: job.state == "resolved", timeout=30, what="the erasure job to resolve")
    assert job.status == "RESOLVED"
    assert subjects_images(env, "bob") == {}, "bob's images are gone"
    certificate = env.json(f"{request_id}/erasure-certificate.json")["certificate"]
    assert certificate["request_id"] == request_id
    assert certificate["verified"] is True
    assert certificate["deleted"]["images"] == len(bobs)
    assert subjects_images(env, "alice"), "nobody else's images were touched"


def test_a_person_with_no_images_gets_a_clean_no_data_answer(env: Environment, sombra: FakeSombra) -> None:
    headers, body = sombra.webhook("ACCESS", "nobody-here@example.test")
    answer = deliver(env, headers, body)
    assert answer.status_code == 200, answer.text
    assert finished(env, answer.json()["request_id"])["status"] == "succeeded"
    job = sombra.jobs[headers["x-transcend-nonce"]]
    wait_for(lambda: job.state == "resolved", timeout=30, what="the no-data job to resolve")
    assert job.status == "READY"
    assert job.records == {}
    assert job.files == []


def test_types_that_do_not_apply_are_skipped_with_a_reason(env: Environment, sombra: FakeSombra) -> None:
    headers, body = sombra.webhook("SALE_OPT_OUT", "alice")
    answer = deliver(env, headers, body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["outcome"] == "skipped"
    job = sombra.jobs[headers["x-transcend-nonce"]]
    assert job.status == "SKIPPED"
    assert job.message
    assert "SALE_OPT_OUT" in job.message
    assert env.status(answer.json()["request_id"]) is None, "nothing was started"


def test_forged_stale_or_replayed_webhooks_get_401_and_start_nothing(env: Environment, sombra: FakeSombra) -> None:
    other_key = ec.generate_private_key(ec.SECP384R1())
    forged = {
        "HS384 keyed with the public key": sombra.token("carol", algorithm="HS384"),
        "no algorithm": sombra.token("carol", algorithm="none"),
        "another organization": sombra.token("carol", audience="someone-else"),
        "another scope": sombra.token("carol", scope="profile"),
        "another key": sombra.token("carol", key=other_key),
        "too old": sombra.token("carol", iat=1_700_000_000),
        "not a JWT": "not-a-token",
    }
    mutations_before = env.mutations()
    calls_before = env.api_calls()
    for why, token in forged.items():
        headers, body = sombra.webhook("ERASURE", "carol", token=token)
        answer = deliver(env, headers, body)
        assert answer.status_code == 401, why
        assert "carol" not in answer.text, why
        assert token not in answer.text, why
    # A body naming another person than the signed token.
    headers, body = sombra.webhook("ERASURE", "carol", token=sombra.token("alice"))
    assert deliver(env, headers, body).status_code == 401
    # The same token twice: the second is a replay (a redelivery comes with a new token).
    headers, body = sombra.webhook("ACCESS", "nobody-else@example.test")
    assert deliver(env, headers, body).status_code == 200
    replay = deliver(env, headers, body)
    assert replay.status_code == 401
    assert "already used" in replay.json()["error"]
    missing = deliver(env, {"x-transcend-nonce": "nz_1"}, body)
    assert missing.status_code == 401
    assert env.mutations() == mutations_before, "nothing was erased"
    assert subjects_images(env, "carol"), "carol's images are all there"
    unknown_type = sombra.webhook("ACCESS", "carol")
    document = json.loads(unknown_type[1])
    document["type"] = "DELETE_EVERYTHING"
    assert deliver(env, unknown_type[0], json.dumps(document).encode()).status_code == 400
    assert env.api_calls() - calls_before < 60, "only the one accepted access request read the account"


def test_sombra_throttling_delays_the_report_without_losing_it(env: Environment, sombra: FakeSombra) -> None:
    headers, body = sombra.webhook("ACCESS", "carol")
    answer = deliver(env, headers, body)
    request_id = answer.json()["request_id"]
    sombra.fail_next[:] = [429, 503, 429]
    status = finished(env, request_id)
    job = sombra.jobs[headers["x-transcend-nonce"]]
    wait_for(lambda: job.state == "resolved", timeout=60, what="the throttled job to resolve")
    assert sombra.fail_next == [], "the fake answered 429, 503 and 429 before it took the results"
    assert {record["id"] for record in job.records["images"]} == set(subjects_images(env, "carol"))
    assert status["status"] == "succeeded"


def test_a_request_no_longer_modifiable_is_recorded_and_not_retried(env: Environment, sombra: FakeSombra) -> None:
    headers, body = sombra.webhook("ACCESS", "alice")
    nonce = headers["x-transcend-nonce"]
    sombra.revoke(nonce)  # the request was cancelled in Transcend while cvdsr worked
    before = len(sombra.calls)
    answer = deliver(env, headers, body)
    request_id = answer.json()["request_id"]
    finished(env, request_id)
    record = wait_for(lambda: _connector_record(env, request_id).get("reported"), what="the report to be recorded")
    assert record["answer"] == "not_modifiable"
    refused = [call for call in sombra.calls[before:] if call[2] == 409]
    assert len(refused) == 1, "a 409 is final: never sent again"


def _connector_record(env: Environment, request_id: str) -> dict[str, Any]:
    service = BlobServiceClient.from_connection_string(env.connection_string)
    blob = service.get_blob_client(
        env.settings["CVDSR_STATE_CONTAINER"], f"connectors/transcend/requests/{request_id}.json"
    )
    if not blob.exists():
        return {}
    document: dict[str, Any] = json.loads(blob.download_blob().readall())
    return document


def test_no_api_key_token_or_subject_value_in_logs_history_or_events(
    env: Environment, sombra: FakeSombra, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    headers, body = sombra.webhook("ACCESS", "carol", profile=("email", "carol@example.test"))
    answer = deliver(env, headers, body)
    request_id = answer.json()["request_id"]
    finished(env, request_id)
    wait_for(lambda: sombra.jobs[headers["x-transcend-nonce"]].state == "resolved", what="the job to resolve")
    texts = {"logs": "\n".join(record.getMessage() for record in caplog.records)}
    assert request_id in texts["logs"], "the host's logs were captured"
    texts |= stored_texts(env.connection_string, hub=env.settings["CVDSR_TASK_HUB"])
    assert any("History" in name for name in texts), "the task hub's history was scanned"
    texts["events"] = json.dumps(env.events(request_id) + env.hook_events(request_id))
    token, nonce = headers["x-sombra-token"], headers["x-transcend-nonce"]
    for where, text in texts.items():
        assert API_KEY not in text, where
        assert token not in text, where
        assert "carol@example.test" not in text, where
        results = f"blob {env.settings['CVDSR_RESULTS_CONTAINER']}/"
        personal = where.startswith(results) and ("/data/" in where or where.endswith("/report.html"))
        if not personal:  # a person's own exported records and report name them
            assert '"carol"' not in text, where
            assert "'carol'" not in text, where
        if nonce in text:
            assert where.endswith(f"connectors/transcend/requests/{request_id}.json"), where
    assert TRAINING_KEY not in texts["logs"]


def test_a_legal_hold_makes_an_erasure_wait_and_its_removal_starts_it(env: Environment, sombra: FakeSombra) -> None:
    carols = subjects_images(env, "carol")
    assert carols
    headers, body = sombra.webhook("PLACE_ON_LEGAL_HOLD", "carol")
    placed = deliver(env, headers, body)
    assert placed.status_code == 200, placed.text
    assert placed.json()["outcome"] == "hold placed"
    assert sombra.jobs[headers["x-transcend-nonce"]].status == "RESOLVED"

    mutations = env.mutations()
    erase_headers, erase_body = sombra.webhook("ERASURE", "carol")
    waiting = deliver(env, erase_headers, erase_body)
    assert waiting.json()["outcome"] == "waiting"
    job = sombra.jobs[erase_headers["x-transcend-nonce"]]
    assert job.status == "WAITING"
    assert job.message
    assert "legal hold" in job.message
    assert job.state == "open", "the erasure is not answered yet"
    # The same person through the generic intake: refused, with the reason.
    direct = env.post(
        env.request("TR-HOLD-1", type="erase", scope={"projects": "all", "images": {"metadata": {"subject": "carol"}}})
    )
    assert direct.status_code == 400
    assert "legal hold" in direct.json()["reasons"][0]
    assert "carol" not in direct.text
    assert env.mutations() == mutations, "nothing was erased during the hold"
    assert subjects_images(env, "carol") == carols

    remove_headers, remove_body = sombra.webhook("REMOVE_FROM_LEGAL_HOLD", "carol")
    removed = deliver(env, remove_headers, remove_body)
    assert removed.json()["outcome"] == "hold removed"
    (started,) = removed.json()["started"]
    assert started == waiting.json()["request_id"]
    assert finished(env, started)["status"] == "succeeded"
    wait_for(lambda: job.state == "resolved", timeout=30, what="the erasure to be answered")
    assert job.status == "RESOLVED"
    assert subjects_images(env, "carol") == {}
