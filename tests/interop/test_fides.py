"""The shipped Fides connector (integrations/fides) against a real Fides server (``make interop``).

Fides (ethyca-fides, PostgreSQL, Redis: ``fides_server``) runs the SaaS connector exactly as shipped,
except ``protocol: http`` (the development host has no TLS); cvdsr runs in the development host against
the simulator. Privacy requests are created through Fides' own API and must end ``complete`` in Fides:
an access with the person's image records as its access results, an erasure (polling, then callback)
with the person's images gone from Custom Vision and the rows masked reported.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from local.simulator.imaging import placeholder_png
from tests.e2e.ground_truth import sdk
from tests.e2e.support import Environment, environment, stored_texts, wait_for

from .fides_server import FidesServer, run_fides

pytestmark = pytest.mark.skipif(os.environ.get("CVDSR_INTEROP") != "full", reason="make interop only")

INTEGRATION = Path(__file__).resolve().parents[2] / "integrations" / "fides"
TOKEN = "fides-interop-token-8c2f0e"
FUNCTION_KEY = "interop-function-key-41a7"
HASH_SECRET = "interop-subject-pepper-93b1"


def pseudonym(email: str) -> str:
    """What the resource stores for the person: HMAC-SHA256 of the normalised email (hex)."""
    return hmac.new(HASH_SECRET.encode(), email.strip().lower().encode(), hashlib.sha256).hexdigest()


@pytest.fixture(scope="module")
def fides() -> Iterator[FidesServer]:
    with run_fides() as server:
        yield server


@pytest.fixture(scope="module")
def env(azurite: Any, fides: FidesServer) -> Iterator[Environment]:
    with environment(
        azurite,
        CVDSR_FIDES__TOKEN=TOKEN,
        CVDSR_FIDES__RESOURCES="demo",
        CVDSR_FIDES__URL=fides.base_url,
        CUSTOMVISION__DEMO__SUBJECT_METADATA_KEY="email",
        CUSTOMVISION__DEMO__SUBJECT_HASH="hmac-sha256",
        CUSTOMVISION__DEMO__SUBJECT_HASH_SECRET=HASH_SECRET,
    ) as running:
        yield running


def add_person(env: Environment, email: str, count: int) -> set[str]:
    """``count`` workspace images of the person (metadata ``email``: their pseudonym) in the first project."""
    client = sdk(env.simulator.base_url)
    project = client.get_projects()[0]
    ids = set()
    for n in range(count):
        created = client.create_images_from_data(project.id, placeholder_png(f"{email}-{n}"))
        ids.add(created.images[0].image.id)
    client.update_image_metadata(project.id, image_ids=sorted(ids), metadata={"email": pseudonym(email)})
    return ids


def remaining(env: Environment, ids: set[str]) -> set[str]:
    client = sdk(env.simulator.base_url)
    found: set[str] = set()
    for project in client.get_projects():
        found |= {image.id for image in client.get_images_by_ids(project.id, image_ids=sorted(ids))}
    return found


def connect(fides: FidesServer, env: Environment, config_file: str, dataset_file: str, token: str = TOKEN) -> str:
    """Create the connection in Fides from the shipped files; the other cvdsr connection is disabled."""
    config = yaml.safe_load((INTEGRATION / config_file).read_text())["saas_config"]
    dataset = yaml.safe_load((INTEGRATION / dataset_file).read_text())["dataset"][0]
    config["client_config"]["protocol"] = "http"  # the development host has no TLS; nothing else changes
    key = str(config["fides_key"])
    for other in fides.api("GET", "/connection", params={"size": 50}).json()["items"]:
        if other["key"] != key and other["key"].startswith("cvdsr"):
            succeeded(fides.api("PATCH", "/connection", json=[{**_connection(other["key"]), "disabled": True}]))
    succeeded(fides.api("PATCH", "/connection", json=[_connection(key)]))
    answer = fides.api("PATCH", f"/connection/{key}/saas_config", json=config)
    assert answer.status_code == 200, answer.text
    secrets = {"domain": env.host.base_url.removeprefix("http://"), "function_key": FUNCTION_KEY, "api_key": token}
    answer = fides.api("PUT", f"/connection/{key}/secret", json=secrets)
    assert answer.status_code == 200, answer.text
    assert answer.json()["test_status"] == "succeeded", f"Fides' connection test (GET /api/health): {answer.text}"
    succeeded(fides.api("PATCH", f"/connection/{key}/dataset", json=[dataset]))
    return key


def succeeded(answer: httpx.Response) -> list[dict[str, Any]]:
    """What Fides' bulk routes (200 with ``succeeded`` and ``failed`` lists) created."""
    assert answer.status_code == 200, answer.text
    assert not answer.json()["failed"], answer.text
    assert answer.json()["succeeded"], answer.text
    found: list[dict[str, Any]] = answer.json()["succeeded"]
    return found


def _connection(key: str) -> dict[str, Any]:
    return {"key": key, "name": key, "connection_type": "saas", "access": "write", "disabled": False}


def privacy_request(fides: FidesServer, email: str, policy: str) -> str:
    # Fides' public route (no token), as a privacy center uses it; it runs the request before answering.
    answer = httpx.post(
        f"{fides.base_url}/api/v1/privacy-request",
        json=[{"identity": {"email": email}, "policy_key": policy}],
        timeout=300,
    )
    return str(succeeded(answer)[0]["id"])


def ended(fides: FidesServer, privacy_request_id: str, timeout: float = 300) -> str:
    deadline = time.monotonic() + timeout
    status = "unknown"
    while time.monotonic() < deadline:
        items = fides.api("GET", "/privacy-request", params={"request_id": privacy_request_id}).json()["items"]
        status = items[0]["status"]
        if status in ("complete", "error", "canceled", "denied"):
            return str(status)
        time.sleep(1)
    raise TimeoutError(f"privacy request {privacy_request_id} still {status}\n{fides.log_tail()}")


def tasks(fides: FidesServer, privacy_request_id: str) -> dict[str, dict[str, Any]]:
    """Fides' request tasks of the request, by ``<action> <collection address>``."""
    code = f"""
import json
from fides.api.api.deps import get_autoclose_db_session
from fides.api.models.privacy_request import PrivacyRequest
with get_autoclose_db_session() as db:
    request = PrivacyRequest.get(db, object_id={privacy_request_id!r})
    text = lambda value: getattr(value, "value", value)  # an enum, or its value
    print(json.dumps({{f"{{text(t.action_type)}} {{t.collection_address}}": {{"status": text(t.status),
        "rows_masked": t.rows_masked}} for t in request.request_tasks}}))
"""
    found: dict[str, dict[str, Any]] = fides.query(code)
    return found


def access_rows(fides: FidesServer, privacy_request_id: str) -> dict[str, list[dict[str, Any]]]:
    """What Fides uploads to the person: its filtered final upload, by collection address."""
    code = f"""
import json
from fides.api.api.deps import get_autoclose_db_session
from fides.api.models.privacy_request import PrivacyRequest
with get_autoclose_db_session() as db:
    request = PrivacyRequest.get(db, object_id={privacy_request_id!r})
    upload = request.get_filtered_final_upload()
    print(json.dumps({{address: rows for rule in upload.values() for address, rows in rule.items()}}, default=str))
"""
    found: dict[str, list[dict[str, Any]]] = fides.query(code)
    return found


def test_an_access_request_in_fides_ends_complete_with_the_persons_image_records(
    fides: FidesServer, env: Environment
) -> None:
    dana = add_person(env, "Dana@Example.com", 3)
    add_person(env, "someone.else@example.com", 2)
    key = connect(fides, env, "cvdsr_config.yml", "cvdsr_dataset.yml")
    request_id = privacy_request(fides, "dana@example.com", "default_access_policy")
    assert ended(fides, request_id) == "complete", fides.log_tail()
    rows = access_rows(fides, request_id)[f"{key}:images"]
    assert {row["id"] for row in rows} == dana, "the person's images, and no one else's"
    assert all(row["metadata"]["email"] == pseudonym("dana@example.com") for row in rows)
    assert all("?" not in row["originalImageUri"] for row in rows), "no SAS token reaches Fides"
    status = env.status(f"fides-{request_id}-access") or {}
    assert status.get("status") == "succeeded"
    assert env.status(f"fides-{request_id}-erasure") is None, "an access policy starts no erasure"

    # Someone cvdsr has no images of: a clean "no data" in Fides, not a failure.
    nobody = privacy_request(fides, "nobody@example.com", "default_access_policy")
    assert ended(fides, nobody) == "complete", fides.log_tail()
    assert access_rows(fides, nobody).get(f"{key}:images", []) == []


def test_a_connection_with_the_wrong_api_key_ends_in_error_and_starts_nothing(
    fides: FidesServer, env: Environment
) -> None:
    gail = add_person(env, "gail@example.com", 1)
    key = connect(fides, env, "cvdsr_config.yml", "cvdsr_dataset.yml", token="not-the-token")
    calls = env.api_calls()
    request_id = privacy_request(fides, "gail@example.com", "default_erasure_policy")
    assert ended(fides, request_id) == "error"
    assert tasks(fides, request_id)[f"erasure {key}:erasure"]["status"] == "error"
    assert env.status(f"fides-{request_id}-erasure") is None
    assert env.api_calls() == calls, "cvdsr refused the call: no Custom Vision call was made"
    assert remaining(env, gail) == gail
    connect(fides, env, "cvdsr_config.yml", "cvdsr_dataset.yml")  # the right key again, for what follows


def test_an_erasure_in_fides_polls_until_cvdsr_verified_it(fides: FidesServer, env: Environment) -> None:
    erin = add_person(env, "erin@example.com", 2)
    key = connect(fides, env, "cvdsr_config.yml", "cvdsr_dataset.yml")
    request_id = privacy_request(fides, "erin@example.com", "default_erasure_policy")
    assert ended(fides, request_id) == "complete", fides.log_tail()
    assert remaining(env, erin) == set()
    erasure = tasks(fides, request_id)[f"erasure {key}:erasure"]
    assert erasure["status"] == "complete"
    assert erasure["rows_masked"] == 1, "polling counts one masked row per completed request"
    certificate = env.json(f"fides-{request_id}-erasure/erasure-certificate.json")["certificate"]
    assert certificate["verified"] is True
    assert env.status(f"fides-{request_id}-access") is None, "an erasure-only policy exports nothing first"


def test_an_erasure_by_callback_reports_the_images_erased(
    fides: FidesServer, env: Environment, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fay = add_person(env, "fay@example.com", 3)
    key = connect(fides, env, "cvdsr_callback_config.yml", "cvdsr_callback_dataset.yml")
    request_id = privacy_request(fides, "fay@example.com", "default_erasure_policy")
    assert ended(fides, request_id) == "complete", fides.log_tail()
    assert remaining(env, fay) == set()
    erasure = tasks(fides, request_id)[f"erasure {key}:erasure"]
    assert erasure == {"status": "complete", "rows_masked": 3}, "cvdsr posted the number of images erased"

    # The reply-to token is Fides' credential for this task: dropped once cvdsr's answer was taken. The
    # connection's keys and the person's email are nowhere (cvdsr matches the pseudonym).
    ours = f"fides-{request_id}-erasure"
    wait_for(lambda: (env.status(ours) or {}).get("runtime_status") == "Completed", what="the request to end")
    record = f"blob {env.settings['CVDSR_STATE_CONTAINER']}/connectors/fides/requests/{ours}.json"
    texts = stored_texts(env.connection_string, hub=env.settings["CVDSR_TASK_HUB"])
    kept = json.loads(texts[record])
    assert kept["reported"]["answer"] == "sent"
    assert "credentials" not in kept
    texts |= {"logs": "\n".join(r.getMessage() for r in caplog.records), "events": json.dumps(env.events(ours))}
    assert ours in texts["logs"], "the host's logs were captured"
    for where, text in texts.items():
        assert TOKEN not in text, where
        assert FUNCTION_KEY not in text, where
        assert "fay@example.com" not in text, where
