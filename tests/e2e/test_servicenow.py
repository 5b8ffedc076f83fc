"""ServiceNow hears of the requests that name one of its tasks: a flow posts the request to the generic
intake, cvdsr updates the task through the fake Table and Attachment APIs (local/platforms/servicenow.py)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest

from local.http_server import serve
from local.platforms.servicenow import FakeServiceNow

from .ground_truth import subjects_images
from .support import Environment, environment, wait_for

TABLE = "sn_privacy_action_task"
PASSWORD = "sn-e2e-password-77b2"


@pytest.fixture(scope="module")
def servicenow() -> FakeServiceNow:
    return FakeServiceNow(table=TABLE, username="cvdsr", password=PASSWORD)


@pytest.fixture(scope="module")
def env(azurite: Any, servicenow: FakeServiceNow) -> Iterator[Environment]:
    with (
        serve(servicenow.app()) as url,
        environment(
            azurite,
            CVDSR_SERVICENOW__INSTANCE_URL=url,
            CVDSR_SERVICENOW__TABLE=TABLE,
            CVDSR_SERVICENOW__USERNAME="cvdsr",
            CVDSR_SERVICENOW__PASSWORD=PASSWORD,
            CVDSR_SERVICENOW__STATE_SUCCEEDED="3",
        ) as running,
    ):
        yield running


def submit(env: Environment, request_id: str, ticket: str, **fields: Any) -> dict[str, Any]:
    body = env.request(request_id, ticket={"system": "servicenow", "id": ticket}, **fields)
    answer = env.post(body)
    assert answer.status_code == 202, answer.text
    return env.wait(request_id)


def test_an_export_attaches_the_package_and_notes_the_task(env: Environment, servicenow: FakeServiceNow) -> None:
    expected = subjects_images(env, "alice")
    servicenow.task("PRIV0012345")
    scope = {"projects": "all", "images": {"metadata": {"subject": "alice"}}}
    status = submit(env, "SN-EXP-1", "PRIV0012345", scope=scope, include=["images", "image_files"], export_zip=True)
    assert status["runtime_status"] == "Completed"
    task = servicenow.by_number("PRIV0012345")
    wait_for(lambda: task.work_notes, what="the work note")
    (note,) = task.work_notes
    assert "SN-EXP-1 succeeded" in note
    assert task.fields["state"] == "3"
    ((name, kind, data),) = task.attachments
    assert (name, kind) == ("export.zip", "application/zip")
    members = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert {m.rsplit("/", 1)[1].split(".")[0] for m in members if "/images/" in m} == set(expected)


def test_an_erase_attaches_the_certificate_to_the_task_named_by_sys_id(
    env: Environment, servicenow: FakeServiceNow
) -> None:
    sys_id = servicenow.task("PRIV0012346")
    scope = {"projects": "all", "images": {"metadata": {"subject": "bob"}}}
    submit(env, "SN-ERA-1", sys_id, type="erase", scope=scope)
    task = servicenow.records[sys_id]
    wait_for(lambda: task.work_notes, what="the work note")
    assert "verified gone" in task.work_notes[0]
    ((name, _, data),) = task.attachments
    assert name == "erasure-certificate.json"
    assert json.loads(data)["certificate"]["verified"] is True
    assert subjects_images(env, "bob") == {}


def test_an_unknown_task_or_a_throttled_instance_is_recorded_not_lost(
    env: Environment, servicenow: FakeServiceNow
) -> None:
    before = len(servicenow.calls)
    submit(env, "SN-EXP-2", "PRIV9999999", include=["tags"])
    wait_for(lambda: len(servicenow.calls) > before, what="the task looked up")
    assert [(m, status) for m, _, status in servicenow.calls[before:]] == [("GET", 200)], "no task, nothing written"
    assert env.events("SN-EXP-2"), "the event went out whatever ServiceNow said"
    assert PASSWORD not in json.dumps(env.events("SN-EXP-2"))

    servicenow.task("PRIV0012347")
    servicenow.fail_next[:] = [429, 503]
    submit(env, "SN-EXP-3", "PRIV0012347", include=["tags"])
    task = servicenow.by_number("PRIV0012347")
    wait_for(lambda: task.work_notes, what="the throttled work note")
    assert servicenow.fail_next == []
    assert len(task.work_notes) == 1
    assert task.fields["state"] == "3"
