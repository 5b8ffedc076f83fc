"""The account through ARM, with ARM's long-running semantics: a delete or purge is done only when its
operation succeeded, the token goes nowhere but the ARM endpoint, and "purged" needs both read-backs."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from local.http_server import serve
from local.simulator import SimulatorConfig, create_app
from shared.arm import ArmClient, ArmError

CONFIG = SimulatorConfig(seed="demo", arm_operation_seconds=0.3)
ACCOUNT = (
    f"/subscriptions/{CONFIG.subscription_id}/resourceGroups/{CONFIG.resource_group}"
    f"/providers/Microsoft.CognitiveServices/accounts/{CONFIG.account_name}"
)
DELETED = (
    f"/subscriptions/{CONFIG.subscription_id}/providers/Microsoft.CognitiveServices/locations/{CONFIG.location}"
    f"/resourceGroups/{CONFIG.resource_group}/deletedAccounts/{CONFIG.account_name}"
)


@pytest.fixture
def simulator_url() -> Iterator[str]:
    with serve(create_app(CONFIG)) as url:
        yield url


async def quick(_seconds: float) -> None:
    await asyncio.sleep(0.1)  # Retry-After is 1 s; the operations take 0.3 s


def client(url: str, lines: list[dict[str, Any]] | None = None) -> ArmClient:
    observer = lines.append if lines is not None else None
    return ArmClient({"CVDSR_ARM_ENDPOINT": f"{url}/_arm"}, observer=observer, sleep=quick)


async def test_delete_and_purge_wait_for_their_operations(simulator_url: str) -> None:
    lines: list[dict[str, Any]] = []
    arm = client(simulator_url, lines)
    location = await arm.location_of(ACCOUNT)
    assert location == CONFIG.location
    checks = await arm.delete_and_purge(ACCOUNT, location)
    assert [(c["check"], c["passed"]) for c in checks] == [("GetAccount", True), ("GetDeletedAccount", True)]
    calls = [(line["method"], line["operation"], line["status"]) for line in lines]
    purge_at = calls.index(("DELETE", "ARM DELETE DeletedAccount", 202))
    assert ("DELETE", "ARM DELETE Account", 202) in calls[:purge_at]
    polled = [c for c in calls[:purge_at] if c[1] == "ARM GET Operation"]
    assert polled, "the delete's operation was polled before the purge"
    assert calls[-1] == ("GET", "ARM GET DeletedAccount", 404), "purged: read back as gone"
    # Run again (an activity retried after a crash): everything is already gone, and says so.
    again = await client(simulator_url).delete_and_purge(ACCOUNT, location)
    assert all(c["passed"] for c in again)


async def test_a_rerun_after_the_delete_still_purges_with_the_kept_location(simulator_url: str) -> None:
    arm = client(simulator_url)
    location = await arm.location_of(ACCOUNT)
    assert await arm._long_running(ACCOUNT) == "done"  # the crash came after the delete
    assert await arm.location_of(ACCOUNT) is None, "a deleted account no longer tells its region"
    checks = await arm.delete_and_purge(ACCOUNT, location)
    assert all(c["passed"] for c in checks)
    async with httpx.AsyncClient() as http:
        deleted = await http.get(
            f"{simulator_url}/_arm{DELETED}",
            params={"api-version": "2023-05-01"},
            headers={"Authorization": "Bearer x"},
        )
    assert deleted.status_code == 404


async def test_without_a_location_the_account_is_deleted_but_not_called_purged(simulator_url: str) -> None:
    checks = await client(simulator_url).delete_and_purge(ACCOUNT, None)
    assert checks[0]["passed"] is True
    assert checks[1]["passed"] is False
    assert "CVDSR_ARM_LOCATION" in checks[1]["observed"]


def scripted(answers: list[httpx.Response], seen: list[httpx.Request]) -> ArmClient:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers.pop(0)

    async def no_wait(_seconds: float) -> None:
        return None

    return ArmClient(
        {"CVDSR_ARM_ENDPOINT": "http://127.0.0.1:9/_arm"}, transport=httpx.MockTransport(handler), sleep=no_wait
    )


OPERATION = "http://127.0.0.1:9/_arm/subscriptions/s/providers/Microsoft.CognitiveServices/locations/l"


def accepted(**headers: str) -> httpx.Response:
    return httpx.Response(202, headers={"Retry-After": "1", **headers})


async def test_a_failed_operation_is_an_error_not_a_deletion() -> None:
    seen: list[httpx.Request] = []
    failed = {"status": "Failed", "error": {"code": "AccountDeletionFailed", "message": "no"}}
    arm = scripted(
        [
            accepted(**{"Azure-AsyncOperation": f"{OPERATION}/operationStatuses/1?api-version=2023-05-01"}),
            httpx.Response(200, json={"status": "InProgress"}),
            httpx.Response(200, json=failed),
        ],
        seen,
    )
    with pytest.raises(ArmError, match=r"the operation failed \(AccountDeletionFailed\)"):
        await arm._long_running(ACCOUNT)
    assert [r.method for r in seen] == ["DELETE", "GET", "GET"]


async def test_location_polling_waits_for_a_final_status() -> None:
    seen: list[httpx.Request] = []
    result = f"{OPERATION}/operationResults/1?api-version=2023-05-01"
    arm = scripted([accepted(Location=result), accepted(Location=result), httpx.Response(204)], seen)
    assert await arm._long_running(ACCOUNT) == "done"
    assert [str(r.url) for r in seen[1:]] == [result, result]


async def test_the_token_is_never_sent_to_a_polling_url_outside_the_endpoint() -> None:
    seen: list[httpx.Request] = []
    arm = scripted([accepted(**{"Azure-AsyncOperation": "https://attacker.example/op"})], seen)
    with pytest.raises(ArmError, match="outside its endpoint"):
        await arm._long_running(ACCOUNT)
    assert [r.url.host for r in seen] == ["127.0.0.1"]


async def test_an_operation_that_never_ends_stops_at_the_deadline() -> None:
    seen: list[httpx.Request] = []
    status = f"{OPERATION}/operationStatuses/1?api-version=2023-05-01"
    now = [0.0]

    async def wait(seconds: float) -> None:
        now[0] += seconds

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "DELETE":
            return accepted(**{"Azure-AsyncOperation": status})
        return httpx.Response(200, json={"status": "InProgress"}, headers={"Retry-After": "60"})

    arm = ArmClient(
        {"CVDSR_ARM_ENDPOINT": "http://127.0.0.1:9/_arm"},
        transport=httpx.MockTransport(handler),
        sleep=wait,
        clock=lambda: now[0],
    )
    with pytest.raises(ArmError, match="still running at the deadline"):
        await arm._long_running(ACCOUNT)
    assert 15 <= len(seen) <= 25, "polled every Retry-After until the 20-minute deadline"


async def test_a_delete_that_joins_one_under_way_waits_until_the_resource_is_gone() -> None:
    """A retried activity's DELETE meets the first one's operation: a bare 202 (or a 409) means
    "wait", and the account is done when it reads 404."""
    for joined in (httpx.Response(202, headers={"Retry-After": "1"}), httpx.Response(409)):
        seen: list[httpx.Request] = []
        answers = [joined, httpx.Response(200, json={"name": "a"}), httpx.Response(404)]
        assert await scripted(answers, seen)._long_running(ACCOUNT) == "done"
        assert [r.method for r in seen] == ["DELETE", "GET", "GET"]


async def test_a_poll_that_fails_for_a_moment_is_tried_again() -> None:
    seen: list[httpx.Request] = []
    status = f"{OPERATION}/operationStatuses/1?api-version=2023-05-01"
    answers = [
        accepted(**{"Azure-AsyncOperation": status}),
        httpx.Response(503, headers={"Retry-After": "1"}),
        httpx.Response(429, headers={"Retry-After": "1"}),
        httpx.Response(200, json={"status": "Succeeded"}),
    ]
    assert await scripted(answers, seen)._long_running(ACCOUNT) == "done"
    assert len(seen) == 4


async def test_a_dropped_connection_is_an_arm_error_without_the_url() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    arm = ArmClient({"CVDSR_ARM_ENDPOINT": "http://127.0.0.1:9/_arm"}, transport=httpx.MockTransport(refuse))
    with pytest.raises(ArmError, match="ConnectError") as caught:
        await arm.location_of(ACCOUNT)
    assert "subscriptions" not in str(caught.value)


async def test_the_simulator_lets_a_repeated_delete_join_the_operation(simulator_url: str) -> None:
    arm = client(simulator_url)
    async with httpx.AsyncClient(base_url=f"{simulator_url}/_arm", headers={"Authorization": "Bearer x"}) as http:
        first = await http.delete(ACCOUNT, params={"api-version": "2023-05-01"})
        again = await http.delete(ACCOUNT, params={"api-version": "2023-05-01"})
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.headers["Azure-AsyncOperation"] == first.headers["Azure-AsyncOperation"]
    assert await arm._long_running(ACCOUNT) in ("done", "absent")
    assert await arm.location_of(ACCOUNT) is None


async def test_a_purge_that_finds_nothing_right_after_this_delete_is_not_called_purged() -> None:
    """The account this run deleted must be there to purge: "not found" then means "not visible yet"."""
    answers = [
        httpx.Response(200),  # the delete, done at once
        httpx.Response(404, json={"error": {"code": "ResourceNotFound"}}),  # GetAccount
        httpx.Response(204),  # the purge finds nothing
        httpx.Response(404, json={"error": {"code": "ResourceNotFound"}}),  # GetDeletedAccount
    ]
    checks = await scripted(answers, []).delete_and_purge(ACCOUNT, "westeurope")
    assert checks[0]["passed"] is True
    assert checks[1]["passed"] is False
    assert "not found to purge" in checks[1]["observed"]


async def test_the_activity_keeps_the_region_so_a_rerun_after_a_crash_still_purges(
    simulator_url: str, azurite: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from azure.storage.blob.aio import BlobServiceClient

    from shared import activities
    from shared.results import layout

    container = f"arm-{uuid.uuid4().hex[:12]}"
    settings = {
        "AzureWebJobsStorage": azurite.connection_string,
        "CVDSR_RESULTS_CONTAINER": container,
        "CVDSR_ARM_ENDPOINT": f"{simulator_url}/_arm",
        "CUSTOMVISION__SIM__ENDPOINT": simulator_url,
        "CUSTOMVISION__SIM__TRAININGKEY": CONFIG.training_key,
        "CUSTOMVISION__SIM__ARMRESOURCEID": ACCOUNT,
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CVDSR_ARM_LOCATION", raising=False)
    async with BlobServiceClient.from_connection_string(azurite.connection_string) as service:
        await service.create_container(container)
        original = ArmClient.delete_and_purge

        async def crash_after_the_delete(self: ArmClient, resource_id: str, location: str | None) -> Any:
            await self._long_running(resource_id)
            raise RuntimeError("the worker died")

        monkeypatch.setattr(ArmClient, "delete_and_purge", crash_after_the_delete)
        payload = {"request_id": "ARM-RERUN-1", "resource": "sim"}
        with pytest.raises(RuntimeError):
            await activities.erase_account(payload)  # type: ignore[arg-type]
        monkeypatch.setattr(ArmClient, "delete_and_purge", original)
        result = await activities.erase_account(payload)  # type: ignore[arg-type]
        assert result["deleted"] is True, result["checks"]
        kept = service.get_blob_client(container, layout.account_location("ARM-RERUN-1", "sim"))
        assert json.loads(await (await kept.download_blob()).readall()) == {"location": CONFIG.location}
