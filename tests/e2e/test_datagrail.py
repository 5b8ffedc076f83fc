"""DataGrail drives cvdsr through its signed webhook: the fake (local/platforms/datagrail.py) signs the
notifications and records what cvdsr posts to the callback URL; the development host runs the real app
against the simulator's demo account (images with metadata ``subject``)."""

from __future__ import annotations

import io
import json
import logging
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from local.http_server import serve
from local.platforms.datagrail import FakeDataGrail

from .ground_truth import subjects_images
from .support import Environment, environment, stored_texts, wait_for

SECRET = "dg-e2e-secret-0c7b41"


@pytest.fixture(scope="module")
def datagrail() -> Iterator[FakeDataGrail]:
    fake = FakeDataGrail(secret=SECRET)
    with serve(fake.app()) as url:
        fake.base_url = url
        yield fake


@pytest.fixture(scope="module")
def env(azurite: Any, datagrail: FakeDataGrail) -> Iterator[Environment]:
    with environment(
        azurite,
        CVDSR_DATAGRAIL__SECRET=SECRET,
        CVDSR_DATAGRAIL__RESOURCES="demo",
        CVDSR_CALLBACK_DEV_HOSTS="127.0.0.1",
        CUSTOMVISION__DEMO__SUBJECT_METADATA_KEY="subject",
    ) as running:
        yield running


def deliver(env: Environment, notification: tuple[dict[str, str], bytes]) -> httpx.Response:
    headers, body = notification
    return httpx.post(f"{env.host.base_url}/api/connectors/datagrail", content=body, headers=headers, timeout=60)


def callbacks(datagrail: FakeDataGrail, webhook_id: str, count: int = 1) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = wait_for(
        lambda: len(datagrail.callbacks.get(webhook_id, [])) >= count and datagrail.callbacks[webhook_id],
        timeout=120,
        what=f"{count} callback(s) for {webhook_id}",
    )
    return found


def test_a_health_check_is_answered_and_starts_nothing(env: Environment, datagrail: FakeDataGrail) -> None:
    calls = env.api_calls()
    answer = deliver(env, datagrail.notification("Health Check"))
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}
    assert env.api_calls() == calls


def test_an_access_request_calls_back_with_a_link_to_the_persons_package(
    env: Environment, datagrail: FakeDataGrail
) -> None:
    expected = subjects_images(env, "alice")
    notification = datagrail.notification("access", email="alice", v1_prefix=True)
    webhook_id = json.loads(notification[1])["webhook_request_id"]
    answer = deliver(env, notification)
    assert answer.status_code == 200, answer.text
    assert answer.json()["request_id"] == f"dg-{webhook_id}"
    (body,) = callbacks(datagrail, webhook_id)
    assert body["status"] == "completed"
    assert body["cvdsr_status"] == "succeeded"
    assert body["counts"]["image_files"] == len(expected), "workspace and snapshot images, each file once"
    assert body["no_data"] is False
    package = zipfile.ZipFile(io.BytesIO(httpx.get(body["result_url"], timeout=30).content))
    files = {name.rsplit("/", 1)[1].split(".")[0] for name in package.namelist() if "/images/" in name}
    assert files == set(expected), "the package holds the person's image files, and no one else's"

    # DataGrail sends the notification again, once the request has ended: the same request, no work
    # done twice, answered again. (The callback goes out before the orchestration's last steps.)
    request_id = f"dg-{webhook_id}"
    wait_for(lambda: (env.status(request_id) or {}).get("runtime_status") == "Completed", what="the request to end")
    calls = env.api_calls()
    again = deliver(env, datagrail.notification("access", email="alice", webhook_request_id=webhook_id))
    assert again.json()["outcome"] == "resent"
    assert len(callbacks(datagrail, webhook_id, count=2)) == 2
    assert env.api_calls() == calls


def test_a_deletion_calls_back_completed_once_verified(env: Environment, datagrail: FakeDataGrail) -> None:
    assert subjects_images(env, "carol")
    notification = datagrail.notification("deletion", email="carol")
    webhook_id = json.loads(notification[1])["webhook_request_id"]
    assert deliver(env, notification).status_code == 200
    (body,) = callbacks(datagrail, webhook_id)
    assert body["status"] == "completed"
    assert subjects_images(env, "carol") == {}
    certificate = env.json(f"dg-{webhook_id}/erasure-certificate.json")["certificate"]
    assert certificate["verified"] is True


def test_unsigned_stale_or_altered_notifications_get_401_and_start_nothing(
    env: Environment, datagrail: FakeDataGrail
) -> None:
    calls = env.api_calls()
    headers, body = datagrail.notification("deletion", email="bob")
    altered = body.replace(b'"bob"', b'"bot"')
    refused = {
        "stale": datagrail.notification("deletion", email="bob", timestamp=time.time() - 600),
        "from the future": datagrail.notification("deletion", email="bob", timestamp=time.time() + 600),
        "another secret": datagrail.notification("deletion", email="bob", secret="not-the-secret"),
        "a changed byte": (headers, altered),
        "no signature": ({"X-Webhook-Timestamp": headers["X-Webhook-Timestamp"]}, body),
    }
    for why, notification in refused.items():
        answer = deliver(env, notification)
        assert answer.status_code == 401, why
        assert SECRET not in answer.text, why
    unknown_host = datagrail.notification("deletion", email="bob", extra={"callback_url": "https://evil.example/cb"})
    answer = deliver(env, unknown_host)
    assert answer.status_code == 400
    assert "allow-list" in answer.json()["error"]
    assert env.api_calls() == calls, "nothing reached Custom Vision"
    assert subjects_images(env, "bob")


def test_a_throttled_callback_is_delayed_not_lost_and_a_closed_one_is_not_retried(
    env: Environment, datagrail: FakeDataGrail
) -> None:
    datagrail.fail_next[:] = [429, 503]
    notification = datagrail.notification("access", email="bob")
    webhook_id = json.loads(notification[1])["webhook_request_id"]
    assert deliver(env, notification).status_code == 200
    (body,) = callbacks(datagrail, webhook_id)
    assert body["status"] == "completed"
    assert datagrail.fail_next == []

    closed = datagrail.notification("access", email="nobody@example.test")
    closed_id = json.loads(closed[1])["webhook_request_id"]
    datagrail.closed.add(closed_id)
    before = len(datagrail.answers)
    assert deliver(env, closed).status_code == 200
    wait_for(lambda: 409 in datagrail.answers[before:], timeout=60, what="the closed request's callback")
    status = wait_for(lambda: (env.status(f"dg-{closed_id}") or {}).get("runtime_status") == "Completed", what="done")
    assert status
    time.sleep(1)
    assert datagrail.answers[before:].count(409) == 1, "a 409 is final"


def test_an_opt_out_is_answered_not_applicable(env: Environment, datagrail: FakeDataGrail) -> None:
    notification = datagrail.notification("opt_out", email="alice")
    webhook_id = json.loads(notification[1])["webhook_request_id"]
    answer = deliver(env, notification)
    assert answer.status_code == 200
    assert answer.json()["outcome"] == "not_applicable"
    (body,) = callbacks(datagrail, webhook_id)
    assert body["status"] == "not_applicable"
    assert env.status(f"dg-{webhook_id}") is None


def test_no_secret_in_logs_history_blobs_or_events(
    env: Environment, datagrail: FakeDataGrail, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    notification = datagrail.notification("access", email="nobody-at-all@example.test")
    request_id = deliver(env, notification).json()["request_id"]
    callbacks(datagrail, request_id.removeprefix("dg-"))
    # Once the request has ended: until then its private work blob holds the selector, by design.
    wait_for(lambda: (env.status(request_id) or {}).get("runtime_status") == "Completed", what="the request to end")
    texts = {"logs": "\n".join(record.getMessage() for record in caplog.records)}
    assert request_id in texts["logs"], "the host's logs were captured"
    texts |= stored_texts(env.connection_string, hub=env.settings["CVDSR_TASK_HUB"])
    texts["events"] = json.dumps(env.events(request_id))
    signature = notification[0]["X-Webhook-Signature"]
    for where, text in texts.items():
        assert SECRET not in text, where
        assert signature not in text, where
        assert "nobody-at-all@example.test" not in text, where
