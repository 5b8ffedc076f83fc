"""Admin endpoints: they need the training key; config can change while running; the summary counts."""

from __future__ import annotations

from local.simulator.clock import ManualClock
from local.simulator.errors import DroppedConnection
from tests.simulator.conftest import MakeApi
from tests.simulator.support import KEY, Api


async def test_admin_needs_the_training_key(api: Api) -> None:
    for method, path in (("GET", "requests"), ("DELETE", "requests"), ("PATCH", "config"), ("GET", "summary")):
        response = await api.client.request(method, f"/_simulator/{path}", headers={"Training-Key": "nope"})
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "401"


async def test_patch_config_changes_throttling_latency_and_faults(make_api: MakeApi, clock: ManualClock) -> None:
    api = await make_api(clock=clock)
    headers = {"Training-Key": KEY}
    assert (await api.client.get("/_simulator/config", headers=headers)).json() == {
        "tps": None,
        "burst": None,
        "latency_ms": 0,
        "fault_rate": 0.0,
    }
    response = await api.client.patch("/_simulator/config", json={"tps": 1}, headers=headers)
    assert response.json() == {"tps": 1.0, "burst": 1, "latency_ms": 0, "fault_rate": 0.0}
    assert (await api.get("/domains")).status_code == 200
    assert (await api.get("/domains")).status_code == 429
    response = await api.client.patch("/_simulator/config", json={"tps": None, "fault_rate": 1.0}, headers=headers)
    assert response.json()["tps"] is None
    for _ in range(5):
        try:
            status = (await api.get("/domains")).status_code
        except DroppedConnection:
            status = None
        assert status in (500, 503, None)
    await api.client.patch("/_simulator/config", json={"fault_rate": 0}, headers=headers)
    assert (await api.get("/domains")).status_code == 200


async def test_patch_config_rejects_bad_values(api: Api) -> None:
    headers = {"Training-Key": KEY}
    for body in ({"fault_rate": 2}, {"tps": -1}, {"latency_ms": "slow"}, {"burst": 0}, {"colour": "red"}, [1]):
        response = await api.client.patch("/_simulator/config", json=body, headers=headers)
        assert response.status_code == 400, body
        assert response.json()["code"] == "BadRequest"
    assert api.simulator.settings.fault_rate == 0.0


async def test_summary_counts_per_project(make_api: MakeApi) -> None:
    api = await make_api(seed="demo")
    summary = (await api.client.get("/_simulator/summary", headers={"Training-Key": KEY})).json()
    by_name = {project["name"]: project for project in summary["projects"]}
    pets = by_name["Pet door classifier"]
    assert {key: pets[key] for key in ("images", "tagged", "untagged", "predictions", "iterations", "published")} == {
        "images": 8,
        "tagged": 6,
        "untagged": 2,
        "predictions": 3,
        "iterations": 1,
        "published": 1,
    }
    assert pets["snapshotImages"] == 7
    assert by_name["Shelf stock detector"]["published"] == 0
    assert by_name["Sandbox"]["images"] == 0
    assert summary["account"] == {"name": "cvdsr-sim", "status": "active"}
