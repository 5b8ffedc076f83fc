"""Trust rules that need no server: fingerprints and bindings, the caller policy, the request
orchestrator's announcement of a failure, events that fit every channel."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.caller_policy import Caller, CallerPolicy
from shared.dsr_request import parse_request
from shared.events.cloudevent import MAX_EVENT_BYTES, build_event
from shared.fingerprints import Fingerprinter
from shared.orchestration import names
from shared.orchestration.request import run_request
from shared.settings import SettingsError

PROJECT = "0b2a3c4d-5e6f-4a0b-9c8d-7e6f5a4b3c2d"
KEYED = Fingerprinter(b"k" * 32)


def body(**fields: Any) -> dict[str, Any]:
    return {"schema_version": 1, "request_id": "R-1", "type": "export", "resources": ["prod"], **fields}


def parsed(**fields: Any) -> Any:
    return parse_request(json.dumps(body(**fields)), configured_resources={"prod": None, "test": None})


def test_fingerprints_are_keyed_so_a_dictionary_cannot_reverse_them() -> None:
    """Finding 10: the certificate's fingerprint was sha256("alice"), a dictionary look-up away."""
    import hashlib

    one, other = Fingerprinter(b"a" * 32), Fingerprinter(b"b" * 32)
    assert one.of("alice") != other.of("alice")
    assert one.of("alice") == one.of("alice")
    assert hashlib.sha256(b"alice").hexdigest()[:16] not in one.of("alice")
    assert "k" * 8 not in repr(one)


def test_the_kept_request_holds_no_selector_value_or_subject_reference() -> None:
    images = {"tag_names": ["person:alice"], "metadata": {"subject": "alice@example.com"}, "image_ids": [PROJECT]}
    request = parsed(scope={"projects": "all", "images": images}, subject={"reference": "crm-7731"}).to_json()
    kept = KEYED.request(request)
    text = json.dumps(kept)
    for value in ("alice", "crm-7731"):
        assert value not in text
    assert kept["scope"]["images"]["image_ids"] == [PROJECT]  # ids of the images themselves stay
    assert KEYED.matches(kept["scope"]["images"], request["scope"]["images"])
    assert not KEYED.matches(kept["scope"]["images"], {**images, "metadata": {"subject": "bob@example.com"}})


def test_the_binding_ignores_order_and_case_but_not_what_the_request_does() -> None:
    base = parsed(resources=["prod", "test"], include=["tags", "projects"]).to_json()
    same = parsed(resources=["TEST", "prod"], include=["projects", "tags"], ticket={"system": "x", "id": "2"})
    assert KEYED.binding(base) == KEYED.binding(same.to_json())
    for change in (
        {"include": ["projects"]},
        {"type": "erase", "scope": {"projects": "all", "images": {"tag_names": ["a"]}}},
        {"export_zip": True},
        {"callback": {"webhook": "https://hooks.example.com/x"}},
        {"scope": {"projects": [PROJECT], "images": None}},
    ):
        changed = parsed(**{"resources": ["prod", "test"], "include": ["tags", "projects"], **change})
        assert KEYED.binding(changed.to_json()) != KEYED.binding(base), change


def test_caller_policy_is_open_by_default() -> None:
    erase = parsed(type="erase", scope={"images": {"tag_names": ["a"]}})
    assert CallerPolicy.from_settings({}).refusals(erase, "http", None) == []


def test_caller_policy_limits_channels_and_principals() -> None:
    policy = CallerPolicy.from_settings(
        {
            "CVDSR_CALLER_POLICY": json.dumps(
                {
                    "channels": {"storage-queue": {"types": ["export"]}, "http": {"resources": ["prod"]}},
                    "principals": {"writer": {"types": ["export", "erase"]}, "reader": {"types": ["export"]}},
                }
            )
        }
    )
    erase = parsed(type="erase", scope={"images": {"tag_names": ["a"]}})
    export = parsed()
    assert policy.refusals(erase, "storage-queue", None) == [
        "caller policy: the storage-queue channel may not submit erase requests"
    ]
    assert policy.refusals(export, "storage-queue", None) == []
    assert policy.refusals(export, "servicebus", None) == []  # not listed: open
    assert policy.refusals(erase, "http", Caller("writer")) == []
    assert policy.refusals(erase, "http", Caller("reader")) == [
        "caller policy: this caller may not submit erase requests"
    ]
    assert policy.refusals(export, "http", None) == [
        "caller policy: the caller is not authenticated as an allowed principal"
    ]
    assert policy.refusals(parsed(resources=["test"]), "http", Caller("writer")) == [
        "caller policy: the http channel may not submit requests for $.resources[0]"
    ]


def test_caller_identity_comes_from_app_service_authentication_headers() -> None:
    caller = Caller.from_headers({"X-MS-CLIENT-PRINCIPAL-ID": "oid-1", "X-MS-CLIENT-PRINCIPAL-NAME": "app"})
    assert caller == Caller("oid-1", "app")
    assert Caller.from_headers({}) == Caller(None, None)


@pytest.mark.parametrize("text", ["{not json", '{"channels": {"ftp": {}}}', '{"principals": {"a": {"types": ["x"]}}}'])
def test_an_unreadable_caller_policy_stops_intake(text: str) -> None:
    with pytest.raises(SettingsError, match="CVDSR_CALLER_POLICY is not a valid caller policy"):
        CallerPolicy.from_settings({"CVDSR_CALLER_POLICY": text})


class FakeContext:
    """Just enough of the orchestration context to step ``run_request`` by hand."""

    instance_id = "R-1"
    is_replaying = False
    current_utc_datetime = datetime(2026, 12, 1, tzinfo=UTC)

    def __init__(self, start: dict[str, Any]) -> None:
        self.start = start
        self.statuses: list[Any] = []

    def get_input(self) -> Any:
        return self.start

    def call_activity_with_retry(self, name: str, retry: Any, payload: Any = None) -> Any:
        return ("activity", name, payload)

    def set_custom_status(self, status: Any) -> None:
        self.statuses.append(status)


def test_a_request_whose_work_fails_for_good_still_announces_it_and_removes_its_work() -> None:
    """Finding 3: a request that failed sent no event; the ticket waited forever."""
    request = parsed().to_json()
    context = FakeContext({"request": request, "binding": "b", "settings": {}})
    steps = run_request(context)  # type: ignore[arg-type]
    first = next(steps)
    assert first[1] == names.RECORD_REQUEST
    failure = steps.throw(RuntimeError("Activity function 'dsr_record_request' failed: boom"))
    assert failure[1] == names.RECORD_FAILURE
    assert failure[2]["reason"].startswith("Activity function 'dsr_record_request' failed")
    outcome = {"status": "failed", "counts": {}, "request_id": "R-1"}
    sending = steps.send(outcome)
    assert sending[1:] == (names.SEND_COMPLETION, {"request": request, "outcome": outcome})
    removing = steps.send({"queue": "sent"})
    assert removing[1:] == (names.REMOVE_WORK, {"request_id": "R-1"})
    with pytest.raises(StopIteration) as done:
        steps.send({"removed": 1})
    assert done.value.value == {**outcome, "delivery": {"queue": "sent"}}


def test_an_event_with_thousands_of_errors_still_fits_a_storage_queue_message() -> None:
    errors = [{"kind": "image", "error": f"image {i} could not be copied: " + "x" * 80} for i in range(5000)]
    event = build_event({"request_id": "R-1", "type": "export", "status": "partially_succeeded", "errors": errors})
    size = len(json.dumps(event).encode())
    assert size <= MAX_EVENT_BYTES
    assert event["data"]["errors_omitted"] == 5000 - len(event["data"]["errors"])
    assert event["data"]["errors"][0] == errors[0]


def test_each_rejection_under_one_id_is_its_own_event_but_an_outcome_resent_is_the_same() -> None:
    def rejected(digest: str) -> dict[str, Any]:
        return build_event({"request_id": "R-1", "status": "rejected", "rejection_id": digest})

    assert rejected("aa")["id"] != rejected("bb")["id"]
    outcome = {"request_id": "R-1", "type": "export", "status": "succeeded"}
    assert build_event(outcome)["id"] == build_event(dict(outcome))["id"]
