"""The request register through the development host: an export, an erase and a rejected message,
each from its own channel, read back from ``GET /api/requests`` and ``cvdsr register export --csv``
(shared/register.py; tests/test_register.py holds the folding, the median and the CSV)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from .support import Environment, environment, stored_texts, wait_for
from .test_cli import run

SUBJECT = "person-ref-5581"  # the ticketing system's reference: never in the register in clear
SELECTOR = {"projects": "all", "images": {"metadata": {"subject": "alice"}}}


@pytest.fixture(scope="module")
def env(azurite: Any) -> Iterator[Environment]:
    with environment(azurite) as running:
        yield running


def register(env: Environment, **params: str) -> httpx.Response:
    return httpx.get(f"{env.host.base_url}/api/requests", params=params, timeout=30)


def test_every_request_is_recorded_with_its_channel_outcome_and_times(env: Environment) -> None:
    today = datetime.now(UTC).date()
    export = env.request("REG-EXP-1", scope=SELECTOR, subject={"reference": SUBJECT}, jurisdiction="ccpa")
    env.send_queue(export)
    env.wait("REG-EXP-1")
    erase = env.request("REG-ERA-1", type="erase", scope=SELECTOR, subject={"reference": SUBJECT}, jurisdiction="gdpr")
    assert env.post(erase).status_code == 202
    env.wait("REG-ERA-1")
    env.send_servicebus(env.request("REG-BAD-1", resources=["nowhere"]))
    (rejected_event,) = _events(env, "REG-BAD-1")
    assert rejected_event["type"] == "cvdsr.request.rejected"
    env.send_queue(export)  # delivered again: its outcome re-sent and recorded again, still one record
    wait_for(lambda: len(env.events("REG-EXP-1")) == 2, timeout=60, what="the re-sent outcome")

    answer = register(env, **{"from": str(today), "to": str(today)})
    assert answer.status_code == 200, answer.text
    records = {r["request_id"]: r for r in answer.json()["records"]}
    assert set(records) == {"REG-EXP-1", "REG-ERA-1", "REG-BAD-1"}
    exported, erased, bad = records["REG-EXP-1"], records["REG-ERA-1"], records["REG-BAD-1"]
    assert (exported["type"], exported["channel"], exported["status"]) == ("export", "storage-queue", "succeeded")
    assert (erased["type"], erased["channel"], erased["status"]) == ("erase", "http", "succeeded")
    assert (bad["channel"], bad["status"], bad["type"]) == ("servicebus", "rejected", "export")
    assert "resources[0]" in bad["denial_reason"]
    assert "nowhere" not in bad["denial_reason"]
    assert exported["denial_reason"] is None
    assert erased["denial_reason"] is None
    assert exported["jurisdiction"] == "ccpa"
    assert erased["jurisdiction"] == "gdpr"
    assert exported["ticket_id"] == "T-REG-EXP-1"
    assert exported["due_at"]
    assert exported["received_at"] <= exported["responded_at"]
    # The subject reference is a keyed fingerprint, the same for both requests of the person.
    assert exported["subject"].startswith("hmac-sha256:")
    assert exported["subject"] == erased["subject"]
    assert bad["subject"] is None

    # Another day holds none of them.
    yesterday = str(today - timedelta(days=1))
    assert register(env, **{"from": yesterday, "to": yesterday}).json()["records"] == []

    # The CLI: CSV on stdout, the median time to respond per type on stderr.
    exported_csv = run(
        ["register", "export", "--from", str(today), "--to", str(today), "--csv", "--host-url", env.host.base_url],
        {},
    )
    assert exported_csv.returncode == 0, exported_csv.stderr
    rows = list(csv.DictReader(io.StringIO(exported_csv.stdout)))
    assert {row["request_id"]: row["status"] for row in rows} == {
        "REG-EXP-1": "succeeded",
        "REG-ERA-1": "succeeded",
        "REG-BAD-1": "rejected",
    }
    assert "median days to respond: erase " in exported_csv.stderr
    assert "export " in exported_csv.stderr

    # Nothing in the register names the person.
    texts = stored_texts(env.connection_string, hub=env.settings["CVDSR_TASK_HUB"])
    register_texts = [text for where, text in texts.items() if where.startswith("blob register-")]
    assert register_texts
    assert not any(SUBJECT in text or "alice" in text for text in register_texts)


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({}, "required"),
        ({"from": "2026-12-01"}, "required"),
        ({"from": "2026-13-01", "to": "2026-12-31"}, "required"),
        ({"from": "2026-02-30", "to": "2026-03-01"}, "required"),
        ({"from": "1 Dec 2026", "to": "2026-12-31"}, "required"),
        ({"from": "2026-12-02", "to": "2026-12-01"}, "after"),
        ({"from": "2024-01-01", "to": "2026-12-31"}, "at most 731 days"),
    ],
)
def test_bad_ranges_are_refused_with_400(env: Environment, params: dict[str, str], error: str) -> None:
    answer = register(env, **params)
    assert answer.status_code == 400
    assert error in answer.json()["error"]


def test_the_cli_reports_a_refused_range(env: Environment) -> None:
    refused = run(
        ["register", "export", "--from", "2026-12-02", "--to", "2026-12-01", "--host-url", env.host.base_url], {}
    )
    assert refused.returncode == 1
    assert "400" in refused.stderr
    assert "from is after to" in refused.stderr


def _events(env: Environment, request_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = wait_for(lambda: env.events(request_id), timeout=60, what=f"{request_id}'s event")
    return found


def test_records_are_json(env: Environment) -> None:
    answer = register(env, **{"from": "2026-01-01", "to": "2026-01-31"})
    assert answer.status_code == 200
    assert json.loads(answer.text) == {"from": "2026-01-01", "to": "2026-01-31", "count": 0, "records": []}
