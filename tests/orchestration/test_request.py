"""The request orchestrator (``shared.orchestration.request.run_request``) replayed by the Durable library.

Why: whatever happens inside, a request must end announced: its outcome written, the completion event
sent, the work blobs (the clear selector, the selected ids) removed. These tests pin the happy path
per request type, the account step of an erase, and the failure path when an activity fails for good.
"""

from __future__ import annotations

from typing import Any

import pytest

from shared.orchestration import names

from . import scenarios as s
from .harness import T0, Call, EventType, Failure, Orchestration

DUE = "2026-12-01T09:00:00Z"
STARTED_AT = T0.isoformat()  # the clock of the first episode


def _resource_result(resource: str, **extra: Any) -> dict[str, Any]:
    return {"resource": resource, "projects": [], "missing_projects": [], "errors": [], **extra}


def test_an_export_records_the_request_fans_out_per_resource_finalizes_and_announces():
    """record → one resource orchestration per resource (lower-cased names, ``{request}:{resource}``
    instance ids, both at once) → finalize with every resource's result → send completion → remove the
    work blobs; the output is the outcome plus the delivery, and the status says where it is."""
    body = s.request()
    run = Orchestration(names.REQUEST_ORCHESTRATOR, s.start(body), instance_id=s.REQUEST_ID, cross_check=True)

    state = run.replay()
    assert [(c.name, c.input) for c in state.new] == [(names.RECORD_REQUEST, {"request": body})]
    assert state.custom_status == {"phase": "starting", "due_at": DUE}
    run.complete(state.new[0], {"path": f"{s.REQUEST_ID}/request.json"})

    state = run.replay()
    common = {
        "request_id": s.REQUEST_ID,
        "projects": "all",
        "images": None,
        "include": s.ALL_KINDS,
        "project_width": 2,
        "page_width": 4,
    }
    assert [(c.kind, c.name, c.instance_id, c.input) for c in state.new] == [
        (
            "suborchestration",
            names.EXPORT_RESOURCE_ORCHESTRATOR,
            f"{s.REQUEST_ID}:contoso_prod",
            {**common, "resource": "contoso_prod"},
        ),
        (
            "suborchestration",
            names.EXPORT_RESOURCE_ORCHESTRATOR,
            f"{s.REQUEST_ID}:fabrikam",
            {**common, "resource": "fabrikam"},
        ),
    ]
    assert state.custom_status == {"phase": "exporting", "due_at": DUE}
    contoso, fabrikam = state.new
    results = [_resource_result("contoso_prod", expected={"projects": 1}), _resource_result("fabrikam")]
    run.complete(fabrikam, results[1])
    assert run.replay().new == [], "finalize waits for every resource"
    run.complete(contoso, results[0])

    state = run.replay()
    assert [(c.name, c.input) for c in state.new] == [
        (names.FINALIZE_EXPORT, {"request": body, "started_at": STARTED_AT, "resources": results})
    ]
    assert state.custom_status == {"phase": "finalizing", "due_at": DUE}
    outcome = {"status": "succeeded", "counts": {"images": 12}, "manifest": f"{s.REQUEST_ID}/manifest.json"}
    run.complete(state.new[0], outcome)

    state = run.replay()
    assert [(c.name, c.input) for c in state.new] == [(names.SEND_COMPLETION, {"request": body, "outcome": outcome})]
    assert state.custom_status == {"phase": "notifying", "due_at": DUE, "status": "succeeded"}
    delivery = {"channels": ["webhook"], "event_id": "evt-1"}
    run.complete(state.new[0], delivery)

    state = run.replay()
    assert [(c.name, c.input) for c in state.new] == [(names.REMOVE_WORK, {"request_id": s.REQUEST_ID})]
    run.complete(state.new[0], {"removed": 2})

    state = run.replay()
    assert state.done
    assert state.error is None
    assert state.extension_walk_finished
    assert state.output == {**outcome, "delivery": delivery}
    assert state.custom_status == {"phase": "done", "due_at": DUE, "status": "succeeded", "counts": {"images": 12}}


def test_an_export_with_the_account_exports_it_after_the_resources():
    """``account`` in ``include``: the account rows of every resource are one activity after the
    resources, and its result goes to finalize as one more resource result."""
    body = s.request(include=[*s.ALL_KINDS, "account"])
    run = Orchestration(names.REQUEST_ORCHESTRATOR, s.start(body), instance_id=s.REQUEST_ID)
    account = {"resource": "account", "projects": [], "errors": [], "exported": {"accounts": 2}}

    def respond(call: Call) -> Any:
        return account if call.name == names.EXPORT_ACCOUNT else s.request_answers()(call)

    run.drive(respond)
    order = [call.name for call in run.calls]
    assert order == [
        names.RECORD_REQUEST,
        names.EXPORT_RESOURCE_ORCHESTRATOR,
        names.EXPORT_RESOURCE_ORCHESTRATOR,
        names.EXPORT_ACCOUNT,
        names.FINALIZE_EXPORT,
        names.SEND_COMPLETION,
        names.REMOVE_WORK,
    ]
    assert run.asked(names.EXPORT_ACCOUNT)[0].input == {
        "request_id": s.REQUEST_ID,
        "resources": ["contoso_prod", "fabrikam"],
    }
    assert run.asked(names.FINALIZE_EXPORT)[0].input["resources"][-1] == account


def _erase_run(body: dict[str, Any], project: dict[str, Any]) -> Orchestration:
    """An erase request over one resource whose one project ended as ``project``."""
    run = Orchestration(names.REQUEST_ORCHESTRATOR, s.start(body), instance_id=s.REQUEST_ID)

    def respond(call: Call) -> Any:
        if call.kind == "suborchestration":
            return _resource_result(call.input["resource"], projects=[project])
        if call.name == names.ERASE_ACCOUNT:
            return {"deleted": True, "checks": [{"check": "account_gone", "passed": True}]}
        return s.request_answers()(call)

    state = run.drive(respond)
    assert state.done
    assert state.error is None
    return run


def test_an_erase_deletes_the_account_last_and_only_when_the_resource_is_verified_empty():
    """Erase with ``account``: the resource orchestrations get the erase flags; once every project is
    verified gone the account delete runs, per resource, before finalize, whose resource results
    carry the account's answer."""
    body = s.request("erase", resources=["Contoso_Prod"], include=[*s.ALL_KINDS, "account"], confirm="contoso_prod")
    clean = {"project_id": "a", "checks": [{"check": "GetProject", "passed": True}], "errors": []}
    run = _erase_run(body, clean)
    assert [call.name for call in run.calls] == [
        names.RECORD_REQUEST,
        names.ERASE_RESOURCE_ORCHESTRATOR,
        names.ERASE_ACCOUNT,
        names.FINALIZE_ERASE,
        names.SEND_COMPLETION,
        names.REMOVE_WORK,
    ]
    (resource,) = run.asked(names.ERASE_RESOURCE_ORCHESTRATOR)
    assert resource.input["dry_run"] is False
    assert resource.input["delete_affected_iterations"] is False
    assert run.asked(names.ERASE_ACCOUNT)[0].input == {"request_id": s.REQUEST_ID, "resource": "contoso_prod"}
    (finalized,) = run.asked(names.FINALIZE_ERASE)[0].input["resources"]
    assert finalized["account"] == {"deleted": True, "checks": [{"check": "account_gone", "passed": True}]}


@pytest.mark.parametrize(
    "project",
    [
        {"project_id": "a", "checks": [{"check": "GetProject", "passed": False}], "errors": []},
        {"project_id": "a", "checks": [], "errors": [{"kind": "project", "error": "boom"}]},
    ],
    ids=["a-check-failed", "a-step-failed"],
)
def test_an_erase_keeps_the_account_when_anything_inside_is_not_verified_gone(project: dict[str, Any]):
    """A failed check or a project error: no account delete; finalize is told why."""
    body = s.request("erase", resources=["Contoso_Prod"], include=[*s.ALL_KINDS, "account"], confirm="contoso_prod")
    run = _erase_run(body, project)
    assert run.asked(names.ERASE_ACCOUNT) == []
    (finalized,) = run.asked(names.FINALIZE_ERASE)[0].input["resources"]
    assert finalized["errors"] == [
        {
            "kind": "account",
            "resource": "contoso_prod",
            "error": "account not deleted: the resource's contents were not verified gone",
        }
    ]
    assert "account" not in finalized


def test_an_erase_dry_run_plans_the_account_and_deletes_nothing():
    body = s.request("erase", resources=["Contoso_Prod"], include=[*s.ALL_KINDS, "account"], dry_run=True)
    run = _erase_run(body, {"project_id": "a", "checks": [], "errors": []})
    assert run.asked(names.ERASE_ACCOUNT) == []
    assert run.asked(names.ERASE_RESOURCE_ORCHESTRATOR)[0].input["dry_run"] is True
    assert run.asked(names.FINALIZE_ERASE)[0].input["resources"][0]["account"] == {"planned": True}
    assert run.states[1].custom_status == {"phase": "planning", "due_at": DUE}


def test_an_activity_failing_for_good_still_ends_the_request_announced_and_cleaned_up():
    """Recording the request fails on all 4 attempts (with the retry timers between them): nothing is
    exported, the failure is recorded with the reason (activity and exception, no stack), the
    completion is still sent with that outcome, the work blobs are still removed, and the
    orchestration completes (no exception) with status ``failed``."""
    body = s.request()
    run = Orchestration(names.REQUEST_ORCHESTRATOR, s.start(body), instance_id=s.REQUEST_ID, cross_check=True)
    failed = {"status": "failed", "counts": {}, "manifest": f"{s.REQUEST_ID}/manifest.json"}
    missing = "ResourceNotFoundError: The specified container does not exist."

    def respond(call: Call) -> Any:
        if call.name == names.RECORD_REQUEST:
            return Failure(missing)
        if call.name == names.RECORD_FAILURE:
            return failed
        return s.request_answers()(call)

    state = run.drive(respond)

    assert [call.name for call in run.calls] == [
        names.RECORD_REQUEST,
        names.RECORD_FAILURE,
        names.SEND_COMPLETION,
        names.REMOVE_WORK,
    ]
    record = run.calls[0]
    assert record.attempts == 4
    retry_timers = [e for e in run.events if e["EventType"] == EventType.TIMER_CREATED]
    assert len(retry_timers) == 4, "DTFx creates a retry timer after the last attempt too"
    assert run.asked(names.RECORD_FAILURE)[0].input == {
        "request": body,
        "started_at": STARTED_AT,
        "reason": f"Activity function 'dsr_record_request' failed: {missing}",
    }
    assert run.asked(names.SEND_COMPLETION)[0].input == {"request": body, "outcome": failed}
    assert run.asked(names.REMOVE_WORK)[0].input == {"request_id": s.REQUEST_ID}
    assert state.done
    assert state.error is None
    assert state.extension_walk_finished
    assert state.output == {**failed, "delivery": {"channels": ["webhook"]}}
    assert state.output["status"] == "failed"
    assert state.custom_status == {"phase": "done", "due_at": DUE, "status": "failed", "counts": {}}


def test_a_clean_up_failing_for_good_does_not_fail_a_request_whose_outcome_is_out():
    """Removing the work blobs failing on every attempt leaves them to the sweeper: the request still
    completes with its outcome (the completion was sent), not as a failed orchestration."""
    answers = s.request_answers()
    run = Orchestration(names.REQUEST_ORCHESTRATOR, s.start(s.request()), instance_id=s.REQUEST_ID)
    state = run.drive(
        lambda call: Failure("HttpResponseError: 503") if call.name == names.REMOVE_WORK else answers(call)
    )
    assert run.asked(names.REMOVE_WORK)[0].attempts == 4
    assert state.done
    assert state.error is None
    assert state.output["status"] == "succeeded"
    assert state.output["delivery"] == {"channels": ["webhook"]}
    assert state.custom_status["phase"] == "done"


def test_a_resource_orchestration_that_fails_takes_the_failure_path():
    """A sub-orchestration failing (an orchestrator bug, not an API error: those come back in its
    result) fails the fan-in; the request records the failure with the orchestrator's reason and
    still announces it. Finalize is not asked for."""
    body = s.request()
    run = Orchestration(names.REQUEST_ORCHESTRATOR, s.start(body), instance_id=s.REQUEST_ID)
    (record,) = run.replay().new
    run.complete(record, None)
    contoso, fabrikam = run.replay().new
    run.fail(contoso, "KeyError: 'project_ids'")
    run.complete(fabrikam, _resource_result("fabrikam"))
    state = run.replay()
    (failure,) = state.new
    assert failure.name == names.RECORD_FAILURE
    assert failure.input["reason"].rstrip() == (
        "Orchestrator function 'dsr_export_resource_orchestrator' failed: KeyError: 'project_ids'"
    )
    state = run.drive(s.request_answers("failed"))
    assert [call.name for call in run.calls][-3:] == [names.RECORD_FAILURE, names.SEND_COMPLETION, names.REMOVE_WORK]
    assert run.asked(names.FINALIZE_EXPORT) == []
    assert state.done
    assert state.error is None
    assert state.output["status"] == "failed"


def test_a_whole_export_request_through_every_level():
    """Request → resource → project, each replayed by the library, each child's output fed to its
    parent as the extension would: the request finalizes the project's real summary."""

    def export_project(call: Call) -> Any:
        child = Orchestration(call.name, call.input, instance_id=call.instance_id or "", parent_instance_id="x")
        return child.drive(s.export_answers).output

    def export_resource(call: Call) -> Any:
        child = Orchestration(call.name, call.input, instance_id=call.instance_id or "", parent_instance_id="x")
        return child.drive(
            lambda c: {"project_ids": [s.PROJECT], "missing": []} if c.kind == "activity" else export_project(c)
        ).output

    run = Orchestration(
        names.REQUEST_ORCHESTRATOR, s.start(s.request(resources=["contoso_prod"])), instance_id=s.REQUEST_ID
    )
    answers = s.request_answers()
    state = run.drive(lambda call: export_resource(call) if call.kind == "suborchestration" else answers(call))
    (resource,) = run.asked(names.FINALIZE_EXPORT)[0].input["resources"]
    (project,) = resource["projects"]
    assert project["exported"]["images"] == 300
    assert project["exported"]["predictions"] == 15
    assert resource["expected"] == {"projects": 1}
    assert state.done
    assert state.output["status"] == "succeeded"


@pytest.mark.parametrize("dry_run", [False, True])
def test_an_erase_for_a_subject_erases_cvdsrs_own_copies_before_finalize(dry_run: bool):
    """With ``subject.reference`` (its fingerprint, as history holds it), the own-copies activity runs
    after the resources and its list goes to finalize (the certificate, or the plan on a dry run)."""
    subject = {"reference": "hmac-sha256:0011"}
    body = s.request("erase", resources=["Contoso_Prod"], subject=subject, dry_run=dry_run, confirm="contoso_prod")
    copies = [{"request_id": "EXP-1", "blobs": 3, "deleted_at": None if dry_run else "2026-12-01T00:00:00+00:00"}]
    run = Orchestration(names.REQUEST_ORCHESTRATOR, s.start(body), instance_id=s.REQUEST_ID)

    def respond(call: Call) -> Any:
        if call.kind == "suborchestration":
            return {"resource": "contoso_prod", "projects": [], "errors": []}
        if call.name == names.ERASE_OWN_COPIES:
            return copies
        return s.request_answers()(call)

    assert run.drive(respond).error is None
    order = [call.name for call in run.calls]
    assert order.index(names.ERASE_OWN_COPIES) == order.index(names.FINALIZE_ERASE) - 1
    assert run.asked(names.ERASE_OWN_COPIES)[0].input == {
        "request_id": s.REQUEST_ID,
        "subject": "hmac-sha256:0011",
        "ticket_system": body["ticket"]["system"],
        "dry_run": dry_run,
    }
    assert run.asked(names.FINALIZE_ERASE)[0].input["own_copies"] == copies


def test_an_export_or_an_erase_without_a_subject_has_no_own_copies_step():
    for body in (s.request("erase", resources=["Contoso_Prod"], confirm="contoso_prod"), s.request("export")):
        run = Orchestration(names.REQUEST_ORCHESTRATOR, s.start(body), instance_id=s.REQUEST_ID)
        run.drive(s.request_answers())
        assert run.asked(names.ERASE_OWN_COPIES) == []
