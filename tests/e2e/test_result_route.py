"""``GET /api/health`` and ``GET /api/requests/{id}/result``: what a platform that polls (Fides) reads."""

from __future__ import annotations

from typing import Any

import httpx

from .ground_truth import subjects_images
from .support import Environment, wait_for

MISSING_PROJECT = "00000000-0000-4000-8000-000000000bad"


def result(env: Environment, request_id: str) -> httpx.Response:
    return httpx.get(f"{env.host.base_url}/api/requests/{request_id}/result", timeout=30)


def settled(env: Environment, request_id: str) -> httpx.Response:
    def ended() -> httpx.Response | None:
        answer = result(env, request_id)
        return answer if answer.status_code != 200 or answer.json()["status"] != "running" else None

    answer: httpx.Response = wait_for(ended, timeout=120, what=f"{request_id} to settle")
    return answer


def test_health_answers_when_storage_does(env: Environment) -> None:
    answer = httpx.get(f"{env.host.base_url}/api/health", timeout=30)
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}


def test_a_finished_export_answers_the_persons_records(env: Environment) -> None:
    expected = subjects_images(env, "alice")
    scope: dict[str, Any] = {"projects": "all", "images": {"metadata": {"subject": "alice"}}}
    assert env.post(env.request("RES-EXP-1", scope=scope, include=["images", "image_files"])).status_code == 202
    first = result(env, "RES-EXP-1")
    assert first.status_code == 200
    answer = settled(env, "RES-EXP-1")
    assert answer.status_code == 200, answer.text
    document = answer.json()
    assert (document["status"], document["type"]) == ("succeeded", "export")
    assert {item["id"] for item in document["items"]} == set(expected), "each image once, no one else's"
    assert all(item["metadata"]["subject"] == "alice" for item in document["items"])
    assert "sig=" not in answer.text, "no signed link in the rows"


def test_failed_partial_or_rejected_requests_answer_409_so_polling_stops(env: Environment) -> None:
    env.post(env.request("RES-PART-1", scope={"projects": [MISSING_PROJECT]}, include=["projects"]))
    partial = settled(env, "RES-PART-1")
    assert partial.status_code == 409
    assert partial.json()["status"] in ("failed", "partially_succeeded")
    rejected = env.post({"schema_version": 1, "request_id": "RES-REJ-1", "type": "export", "resources": ["nope"]})
    assert rejected.status_code == 400
    answer = result(env, "RES-REJ-1")
    assert answer.status_code == 409
    assert answer.json()["status"] == "rejected"
    assert result(env, "RES-NONE-1").status_code == 404
    assert result(env, "x" * 101).status_code == 400, "not a request id (over 100 characters)"
