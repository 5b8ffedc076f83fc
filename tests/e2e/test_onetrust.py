"""A OneTrust workflow drives cvdsr: the fake (local/platforms/onetrust.py) posts the workflow-mapped
subtask and checks the DSAR and documents API calls; the development host runs the real app against
the simulator's demo account (images with metadata ``subject``)."""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from local.http_server import serve
from local.platforms.onetrust import FakeOneTrust

from .ground_truth import subjects_images
from .support import Environment, environment, stored_texts, wait_for

CLIENT_SECRET = "ot-client-secret-93e1"
WEBHOOK_SECRET = "ot-workflow-secret-5a7c"


@pytest.fixture(scope="module")
def onetrust() -> FakeOneTrust:
    return FakeOneTrust(client_id="cvdsr", client_secret=CLIENT_SECRET, webhook_secret=WEBHOOK_SECRET)


@pytest.fixture(scope="module")
def env(azurite: Any, onetrust: FakeOneTrust) -> Iterator[Environment]:
    with (
        serve(onetrust.app()) as url,
        environment(
            azurite,
            CVDSR_ONETRUST__BASE_URL=url,
            CVDSR_ONETRUST__CLIENT_ID="cvdsr",
            CVDSR_ONETRUST__CLIENT_SECRET=CLIENT_SECRET,
            CVDSR_ONETRUST__WEBHOOK_SECRET=WEBHOOK_SECRET,
            CVDSR_ONETRUST__RESOURCES="demo",
            CUSTOMVISION__DEMO__SUBJECT_METADATA_KEY="subject",
        ) as running,
    ):
        yield running


def deliver(env: Environment, headers: dict[str, str], body: bytes) -> httpx.Response:
    return httpx.post(f"{env.host.base_url}/api/connectors/onetrust", content=body, headers=headers, timeout=60)


def settled(onetrust: FakeOneTrust, subtask: str) -> Any:
    return wait_for(lambda: onetrust.subtasks[subtask].status != "OPEN", timeout=120, what="the subtask to settle")


def test_an_access_request_completes_the_subtask_with_the_persons_images_attached(
    env: Environment, onetrust: FakeOneTrust
) -> None:
    expected = subjects_images(env, "alice")
    headers, body, subtask = onetrust.webhook("alice", ["Get My Data"])
    answer = deliver(env, headers, body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["request_id"] == f"ot-{json.loads(body)['requestQueueRefId']}-{subtask}"
    settled(onetrust, subtask)
    task = onetrust.subtasks[subtask]
    assert task.status == "COMPLETED"
    assert f"{len(expected)} image(s)" in (task.comment or "")
    ((file_name, data, meta),) = [onetrust.files[a["fileId"]] for a in task.attachments]
    assert file_name == "images.csv"
    assert meta["RefIds"] == [subtask]
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    assert {row["image_id"] for row in rows} == set(expected)
    assert all(json.loads(row["metadata"])["subject"] == "alice" for row in rows)
    assert "http" not in data.decode(), "no file URL in the list"


def test_an_erasure_completes_the_subtask_with_the_certificate(env: Environment, onetrust: FakeOneTrust) -> None:
    bobs = subjects_images(env, "bob")
    headers, body, subtask = onetrust.webhook("bob", ["Data Deletion"])
    assert deliver(env, headers, body).status_code == 200
    settled(onetrust, subtask)
    task = onetrust.subtasks[subtask]
    assert task.status == "COMPLETED"
    assert "verified" in (task.comment or "")
    ((file_name, data, _),) = [onetrust.files[a["fileId"]] for a in task.attachments]
    assert file_name == "erasure-certificate.txt"
    certificate = json.loads(data)["certificate"]
    assert certificate["verified"] is True
    assert certificate["deleted"]["images"] == len(bobs)
    assert subjects_images(env, "bob") == {}


def test_a_wrong_secret_or_payload_starts_nothing(env: Environment, onetrust: FakeOneTrust) -> None:
    calls = env.api_calls()
    headers, body, subtask = onetrust.webhook("carol", ["Data Deletion"], secret="not-the-secret")
    answer = deliver(env, headers, body)
    assert answer.status_code == 401
    assert WEBHOOK_SECRET not in answer.text
    good_headers, good_body, _ = onetrust.webhook("carol", ["Data Deletion"])
    for change, error in [
        ({"requestQueueRefId": "short"}, "requestQueueRefId"),
        ({"subtaskId": "not-a-uuid"}, "subtaskId: not a UUID"),
        ({"requestTypes": ["Get My Data", "Data Deletion"]}, "both an export and an erase"),
        ({"email": None}, "no identifier"),
    ]:
        answer = deliver(env, good_headers, json.dumps(json.loads(good_body) | change).encode())
        assert answer.status_code == 400, change
        assert error in answer.json()["error"]
    assert env.api_calls() == calls
    assert onetrust.subtasks[subtask].status == "OPEN"
    assert subjects_images(env, "carol")


def test_rate_limits_and_an_expired_token_delay_the_answer_but_do_not_lose_it(
    env: Environment, onetrust: FakeOneTrust
) -> None:
    headers, body, subtask = onetrust.webhook("nobody@example.test", ["Get My Data"])
    onetrust.expire_tokens()
    fetches = onetrust.token_fetches
    onetrust.fail_next[:] = [429, 429]
    assert deliver(env, headers, body).status_code == 200
    settled(onetrust, subtask)
    task = onetrust.subtasks[subtask]
    assert task.status == "COMPLETED"
    assert "no images of this person" in (task.comment or "")
    assert onetrust.fail_next == []
    assert onetrust.token_fetches == fetches + 1, "a token refused with 401 is fetched again, once"


def test_a_type_that_does_not_apply_is_answered_on_the_subtask(env: Environment, onetrust: FakeOneTrust) -> None:
    headers, body, subtask = onetrust.webhook("alice", ["Do Not Sell"])
    answer = deliver(env, headers, body)
    assert answer.json()["outcome"] == "not_applicable"
    assert onetrust.subtasks[subtask].status == "COMPLETED"
    assert "do not apply" in (onetrust.subtasks[subtask].comment or "")
    assert env.status(answer.json()["request_id"]) is None


def test_a_redelivered_subtask_starts_nothing_new_and_no_secret_is_kept(
    env: Environment, onetrust: FakeOneTrust, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    headers, body, subtask = onetrust.webhook("carol", ["Get My Data"])
    first = deliver(env, headers, body)
    settled(onetrust, subtask)
    request_id = first.json()["request_id"]
    wait_for(lambda: (env.status(request_id) or {}).get("runtime_status") == "Completed", what="the request to end")
    calls = env.api_calls()
    onetrust.subtasks[subtask].status = "OPEN"  # the workflow runs its step again
    again = deliver(env, headers, body)
    assert again.json() == {"outcome": "resent", "request_id": first.json()["request_id"], "reasons": []}
    settled(onetrust, subtask)
    assert env.api_calls() == calls, "nothing read from Custom Vision again"
    texts = {"logs": "\n".join(record.getMessage() for record in caplog.records)}
    texts |= stored_texts(env.connection_string, hub=env.settings["CVDSR_TASK_HUB"])
    texts["events"] = json.dumps(env.events(first.json()["request_id"]))
    tokens = list(onetrust.tokens)
    for where, text in texts.items():
        for secret in (CLIENT_SECRET, WEBHOOK_SECRET, *tokens):
            assert secret not in text, where
