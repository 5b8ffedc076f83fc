"""The statutory clock through the development host: a request with a jurisdiction gets its due date
at intake, status and the completion event carry it with the days left, and ``POST
/api/requests/{id}/extend`` (and ``cvdsr extend``) records an extension within the legal maximum and
refuses one beyond it (shared/deadlines.py holds the rules; tests/test_deadlines.py each of them)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from local.cli import main as cvdsr
from local.simulator.config import SimulatorConfig
from shared.deadlines import RULES

from .support import TRAINING_KEY, Environment, environment, wait_for


@pytest.fixture(scope="module")
def env(azurite: Any) -> Iterator[Environment]:
    # Slow enough (300 ms a call) that a request is still running while it is extended.
    with environment(azurite, simulator=SimulatorConfig(seed="demo", training_key=TRAINING_KEY, latency_ms=300)) as e:
        yield e


def extend(
    env: Environment, request_id: str, until: date | str, reason: str = "many images to review"
) -> httpx.Response:
    body = {"until": str(until), "reason": reason}
    return httpx.post(f"{env.host.base_url}/api/requests/{request_id}/extend", json=body, timeout=30)


def ended(env: Environment, request_id: str) -> dict[str, Any]:
    status: dict[str, Any] = wait_for(
        lambda: (s := env.status(request_id)) and s["runtime_status"] == "Completed" and s,
        timeout=240,
        what=f"{request_id} to end",
    )
    return status


def test_a_gdpr_request_is_due_in_a_month_and_an_extension_is_recorded_and_announced(
    env: Environment, capsys: pytest.CaptureFixture[str]
) -> None:
    today = datetime.now(UTC).date()
    answer = env.post(env.request("CLOCK-GDPR-1", jurisdiction="gdpr", include=["projects", "tags"]))
    assert answer.status_code == 202, answer.text
    status = env.status("CLOCK-GDPR-1") or {}
    due = RULES["gdpr"].due(today)
    assert due is not None
    assert status["jurisdiction"] == "gdpr"
    assert status["due_at"] == f"{due.isoformat()}T23:59:59+00:00"
    assert status["days_left"] == (due - today).days
    assert status["extended"] is False

    latest = RULES["gdpr"].latest(today)
    assert latest is not None
    refused = extend(env, "CLOCK-GDPR-1", latest + timedelta(days=1))
    assert refused.status_code == 400
    assert "at the latest" in refused.json()["error"]
    assert extend(env, "CLOCK-GDPR-1", today.isoformat()).status_code == 400, "not after the current due date"
    assert extend(env, "CLOCK-GDPR-1", "soon").status_code == 400
    assert extend(env, "CLOCK-GDPR-1", latest, reason="  ").status_code == 400, "a reason is required"

    assert (
        cvdsr(
            [
                "extend",
                "CLOCK-GDPR-1",
                "--until",
                latest.isoformat(),
                "--reason",
                "a complex request",
                "--host-url",
                env.host.base_url,
            ]
        )
        == 0
    )
    assert f"is due {latest.isoformat()}T23:59:59+00:00" in capsys.readouterr().out
    extended = env.status("CLOCK-GDPR-1") or {}
    assert (extended["due_at"], extended["extended"]) == (f"{latest.isoformat()}T23:59:59+00:00", True)
    assert extended["extension_reason"] == "a complex request"

    ended(env, "CLOCK-GDPR-1")
    (event,) = [e for e in env.events("CLOCK-GDPR-1") if e["type"] == "cvdsr.export.completed"]
    data = event["data"]
    assert (data["jurisdiction"], data["extended"], data["extension_reason"]) == ("gdpr", True, "a complex request")
    assert data["due_at"] == f"{latest.isoformat()}T23:59:59+00:00"
    assert data["days_left"] == (latest - datetime.now(UTC).date()).days
    assert extend(env, "CLOCK-GDPR-1", latest).status_code == 409, "an ended request is not extended"


def test_a_ccpa_request_is_extended_once_and_a_request_without_a_rule_has_no_clock(env: Environment) -> None:
    today = datetime.now(UTC).date()
    assert env.post(env.request("CLOCK-CCPA-1", jurisdiction="ccpa", include=["projects", "tags"])).status_code == 202
    first = extend(env, "CLOCK-CCPA-1", today + timedelta(days=60))
    assert first.status_code == 200, first.text
    assert first.json()["days_left"] == 60
    again = extend(env, "CLOCK-CCPA-1", today + timedelta(days=70))
    assert again.status_code == 400
    assert "allows 1 extension" in again.json()["error"]

    assert env.post(env.request("CLOCK-NONE-1", include=["projects"])).status_code == 202
    plain = env.status("CLOCK-NONE-1") or {}
    assert (plain["due_at"], plain["days_left"], plain["jurisdiction"]) == (None, None, None)
    assert plain["received_at"], "intake stamps when it received the request"
    assert extend(env, "CLOCK-NOSUCH-1", today).status_code == 404
    ended(env, "CLOCK-CCPA-1")
    ended(env, "CLOCK-NONE-1")


def test_a_request_is_acknowledged_at_intake_on_every_channel_once(env: Environment) -> None:
    """``cvdsr.request.acknowledged`` goes out when the request is taken, before its outcome, with the
    CCPA's confirmation date (10 business days, §7021); a redelivery is the same request: no second one."""
    received = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)  # a Wednesday: 10 business days end on 9 December
    body = env.request("CLOCK-ACK-1", jurisdiction="ccpa", received_at=received.isoformat(), include=["projects"])
    env.send_queue(body)
    env.wait("CLOCK-ACK-1")
    env.send_queue(body)
    assert env.post(body).status_code in (200, 202)
    ended(env, "CLOCK-ACK-1")
    for events in (env.events, env.bus_events, env.hook_events):
        sent = [e["type"] for e in events("CLOCK-ACK-1", lifecycle=True)]
        # The redeliveries re-send the outcome (the same event again); the acknowledgement went once.
        assert sent[:2] == ["cvdsr.request.acknowledged", "cvdsr.export.completed"], (events, sent)
        assert sent.count("cvdsr.request.acknowledged") == 1, (events, sent)
        data = events("CLOCK-ACK-1", lifecycle=True)[0]["data"]
        assert (data["status"], data["jurisdiction"], data["acknowledge_by"]) == ("acknowledged", "ccpa", "2026-12-09")
        assert data["due_at"] == "2027-01-08T23:59:59+00:00"  # received + 44 days: the day of receipt is day 1
        assert (data["ticket"]["system"], data["ticket"]["id"]) == ("servicenow", "T-CLOCK-ACK-1")
    assert {e["type"] for e in env.events("CLOCK-ACK-1")} == {"cvdsr.export.completed"}, "outcomes by default"
