"""The status document's progress (shared/status.py) on the edges the end-to-end test does not reach:
a resource not started yet, a sub-orchestration that cannot be read, a request that has finished.
The client is an in-memory stand-in for the Durable client: a table of instance statuses."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

import pytest

from shared import status

REQUEST = {"request": {"request_id": "R-1", "type": "export", "resources": ["Prod", "Test"], "due_at": None}}


class Instances:
    def __init__(self, table: dict[str, Any], broken: frozenset[str] = frozenset()) -> None:
        self.table = table
        self.broken = broken
        self.asked: list[str] = []

    async def get_status(self, instance_id: str, *, show_input: bool = False) -> Any:
        self.asked.append(instance_id)
        if instance_id in self.broken:
            raise ConnectionError("the extension did not answer")
        return self.table.get(instance_id, SimpleNamespace(runtime_status=None, custom_status=None))

    async def start_new(self, *args: Any, **kwargs: Any) -> str:
        raise AssertionError("the status reader never starts anything")


def instance(runtime: str, custom: Any, **fields: Any) -> SimpleNamespace:
    return SimpleNamespace(runtime_status=runtime, custom_status=custom, **fields)


def running_request() -> dict[str, Any]:
    return {
        "R-1": instance("Running", {"phase": "exporting", "due_at": None}, input_=json.dumps(REQUEST)),
        "R-1:prod": instance(
            "Running",
            {"phase": "exporting", "projects": 3, "projects_done": 1, "running": ["p2"], "done": {"images": 5}},
        ),
        # The extension may hand custom status back as JSON text.
        "R-1:prod:p2": instance(
            "Running", json.dumps({"project_id": "p2", "step": "images", "pages": 4, "pages_done": 1})
        ),
    }


def test_a_running_export_shows_each_resource_and_its_running_projects() -> None:
    client = Instances(running_request())
    document = asyncio.run(status.read(client, "R-1"))
    assert document is not None
    prod, test = document["progress"]["resources"]
    assert prod == {
        "resource": "prod",
        "runtime_status": "Running",
        "projects": 3,
        "projects_done": 1,
        "done": {"images": 5},
        "running": [{"project_id": "p2", "step": "images", "pages": 4, "pages_done": 1}],
    }
    # "test" has not started its orchestration yet: nothing known, nothing invented.
    assert test == {
        "resource": "test",
        "runtime_status": None,
        "projects": None,
        "projects_done": 0,
        "done": {},
        "running": [],
    }
    assert sorted(client.asked) == ["R-1", "R-1:prod", "R-1:prod:p2", "R-1:test"]
    assert status.summary(document) == "exporting; prod: 1/3 projects, p2 images 1/4 pages; test: 0/? projects"


def test_progress_that_cannot_be_read_leaves_the_phase() -> None:
    client = Instances(running_request(), broken=frozenset({"R-1:prod:p2"}))
    document = asyncio.run(status.read(client, "R-1"))
    assert document is not None
    assert document["phase"] == "exporting"
    assert "resources" not in document["progress"]


def test_the_request_itself_unreadable_raises_for_a_503() -> None:
    client = Instances(running_request(), broken=frozenset({"R-1"}))
    with pytest.raises(ConnectionError):
        asyncio.run(status.read(client, "R-1"))


def test_a_finished_request_is_answered_from_its_own_status() -> None:
    table = {
        "R-1": instance(
            "Completed",
            {"phase": "done", "status": "succeeded"},
            input_=REQUEST,
            output={"status": "succeeded", "counts": {"images": 9}, "result": {"manifest": "R-1/manifest.json"}},
        )
    }
    client = Instances(table)
    document = asyncio.run(status.read(client, "R-1"))
    assert document is not None
    assert document["status"] == "succeeded"
    assert document["counts"] == {"images": 9}
    assert client.asked == ["R-1"], "no sub-orchestration is asked once the request is done"


def test_an_unknown_request_is_none() -> None:
    assert asyncio.run(status.read(Instances({}), "NOPE")) is None
