"""cvdsr's own copies (GDPR Art. 17/19) through the development host: an erase for a data subject
deletes the folders of cvdsr's earlier exports for the same ``subject.reference`` (found through the
register's fingerprint), lists them in the certificate, leaves another person's export alone, and a
dry run only lists them (shared/erase/own_copies.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from azure.storage.blob.aio import BlobServiceClient

from shared.erase.own_copies import erase_own_copies
from shared.results.store import ResultStore

from .support import Environment, environment


@pytest.fixture(scope="module")
def env(azurite: Any) -> Iterator[Environment]:
    with environment(azurite) as running:
        yield running


def person(reference: str, value: str) -> dict[str, Any]:
    return {
        "scope": {"projects": "all", "images": {"metadata": {"subject": value}}},
        "subject": {"reference": reference},
    }


def run(env: Environment, request_id: str, **fields: Any) -> dict[str, Any]:
    env.send_queue(env.request(request_id, **fields))
    env.wait(request_id)
    (event,) = env.events(request_id)
    return event


async def test_an_erase_deletes_the_subjects_earlier_exports_and_certifies_it(
    env: Environment, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(env, "OWN-EXP-X", **person("ref-X-1", "alice"))
    run(env, "OWN-EXP-Y", **person("ref-Y-2", "bob"))
    exported_x, exported_y = env.blob_names("OWN-EXP-X/"), env.blob_names("OWN-EXP-Y/")
    assert any("/data/" in name for name in exported_x)
    # What the earlier export keeps of itself: that it was answered, and how (ids, counts, digests).
    records = sorted(f"OWN-EXP-X/{name}" for name in ("audit.jsonl", "manifest.json", "request.json"))
    data_x = [name for name in exported_x if name not in records]

    # A dry run lists the copy in its plan and deletes nothing.
    planned = run(env, "OWN-DRY-X", type="erase", dry_run=True, **person("ref-X-1", "alice"))
    assert planned["data"]["status"] == "succeeded"
    plan = env.json("OWN-DRY-X/erase-plan.json")
    assert plan["own_copies"] == [{"request_id": "OWN-EXP-X", "blobs": len(data_x), "deleted_at": None}]
    assert env.blob_names("OWN-EXP-X/") == exported_x

    erased = run(env, "OWN-ERA-X", type="erase", **person("ref-X-1", "alice"))
    assert erased["data"]["status"] == "succeeded", erased["data"]["errors"]
    certificate = env.json("OWN-ERA-X/erasure-certificate.json")["certificate"]
    assert certificate["own_copies_searched"] is True
    (copy,) = certificate["own_copies"]
    assert copy["request_id"] == "OWN-EXP-X"
    assert copy["blobs"] == len(data_x)
    assert copy["deleted_at"]
    assert sorted(env.blob_names("OWN-EXP-X/")) == records, "no data of the earlier export is left"
    assert env.blob_names("OWN-EXP-Y/") == exported_y, "another person's export is untouched"
    assert env.blob_names("OWN-DRY-X/"), "an earlier erase's folder (fingerprints only) stays"

    # Re-run after a crash: nothing is left to delete, and the same copies are reported.
    monkeypatch.setenv("CVDSR_REGISTER_CONTAINER", env.settings["CVDSR_REGISTER_CONTAINER"])
    async with BlobServiceClient.from_connection_string(env.connection_string) as service:
        store = ResultStore(service.get_container_client(env.settings["CVDSR_RESULTS_CONTAINER"]))
        subject = certificate["subject"]["reference"]
        again = await erase_own_copies(service, store, "OWN-ERA-X", subject, dry_run=False)
    assert again == certificate["own_copies"]
    assert env.blob_names("OWN-EXP-Y/") == exported_y


def test_an_erase_without_a_subject_reference_touches_no_copy(env: Environment) -> None:
    run(env, "OWN-EXP-Z", **person("ref-Z-3", "alice"))
    names = env.blob_names("OWN-EXP-Z/")
    erased = run(env, "OWN-ERA-NOREF", type="erase", scope=person("x", "alice")["scope"])
    assert erased["data"]["status"] == "succeeded", erased["data"]["errors"]
    body = env.json("OWN-ERA-NOREF/erasure-certificate.json")["certificate"]
    assert body["own_copies"] == []
    assert body["own_copies_searched"] is False, "not searched: no subject.reference to search by"
    assert env.blob_names("OWN-EXP-Z/") == names
