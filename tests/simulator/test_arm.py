"""The ARM surface for the account: read, listKeys, soft delete and purge."""

from __future__ import annotations

import pytest

from local.simulator import SimulatorConfig
from local.simulator.clock import ManualClock
from tests.simulator.conftest import MakeApi
from tests.simulator.support import KEY, TRAINING, Api

CONFIG = SimulatorConfig()
ACCOUNT = (
    f"/_arm/subscriptions/{CONFIG.subscription_id}/resourceGroups/{CONFIG.resource_group}"
    f"/providers/Microsoft.CognitiveServices/accounts/{CONFIG.account_name}"
)
DELETED = (
    f"/_arm/subscriptions/{CONFIG.subscription_id}/providers/Microsoft.CognitiveServices/locations/"
    f"{CONFIG.location}/resourceGroups/{CONFIG.resource_group}/deletedAccounts/{CONFIG.account_name}"
)
VERSION = {"api-version": "2023-05-01"}
BEARER = {"Authorization": "Bearer any-token"}


@pytest.fixture
async def demo(make_api: MakeApi) -> Api:
    return await make_api(seed="demo")


async def test_account_resource(demo: Api) -> None:
    response = await demo.client.get(ACCOUNT, params=VERSION, headers=BEARER)
    assert response.status_code == 200
    account = response.json()
    assert account["id"] == ACCOUNT.removeprefix("/_arm")
    assert (account["kind"], account["sku"]["name"], account["name"]) == ("CustomVision.Training", "S0", "cvdsr-sim")
    assert account["properties"]["endpoint"] == "http://simulator.test/"
    assert account["properties"]["provisioningState"] == "Succeeded"
    assert KEY not in response.text
    lower = await demo.client.get(ACCOUNT.lower(), params=VERSION, headers=BEARER)
    assert lower.status_code == 200


async def test_list_keys_serves_both_keys(demo: Api) -> None:
    keys = (await demo.client.post(f"{ACCOUNT}/listKeys", params=VERSION, headers=BEARER)).json()
    assert keys["key1"] == KEY
    assert len(keys["key2"]) == 32
    assert keys["key2"] != KEY


@pytest.mark.parametrize(
    ("headers", "params", "status", "code"),
    [
        ({}, VERSION, 401, "AuthenticationFailed"),
        ({"Authorization": "Bearer "}, VERSION, 401, "InvalidAuthenticationToken"),
        ({"Authorization": "Basic abc"}, VERSION, 401, "InvalidAuthenticationToken"),
        (BEARER, {}, 400, "MissingApiVersionParameter"),
        (BEARER, {"api-version": "latest"}, 400, "InvalidApiVersionParameter"),
    ],
)
async def test_arm_checks(demo: Api, headers: dict[str, str], params: dict[str, str], status: int, code: str) -> None:
    response = await demo.client.get(ACCOUNT, params=params, headers=headers)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


async def test_wrong_scope_is_not_found(demo: Api) -> None:
    cases = {
        ACCOUNT.replace(CONFIG.subscription_id, "11111111-1111-4111-8111-111111111111"): "SubscriptionNotFound",
        ACCOUNT.replace(CONFIG.resource_group, "other-rg"): "ResourceGroupNotFound",
        ACCOUNT.replace("accounts/cvdsr-sim", "accounts/other"): "ResourceNotFound",
        DELETED: "ResourceNotFound",
    }
    for path, code in cases.items():
        response = await demo.client.get(path, params=VERSION, headers=BEARER)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == code


async def test_soft_delete_then_purge_are_long_running_operations(make_api: MakeApi, clock: ManualClock) -> None:
    """As in Azure: 202 with Azure-AsyncOperation, Location and Retry-After; the account shows under
    deletedAccounts only once the delete is done, and stays there until the purge is done."""
    demo = await make_api(seed="demo", clock=clock)
    accepted = await demo.client.delete(ACCOUNT, params=VERSION, headers=BEARER)
    assert accepted.status_code == 202
    assert int(accepted.headers["Retry-After"]) >= 1
    status_url, result_url = accepted.headers["Azure-AsyncOperation"], accepted.headers["Location"]
    assert (await demo.client.get(status_url, headers=BEARER)).json()["status"] == "InProgress"
    assert (await demo.client.get(result_url, headers=BEARER)).status_code == 202
    deleting = await demo.client.get(ACCOUNT, params=VERSION, headers=BEARER)
    assert deleting.json()["properties"]["provisioningState"] == "Deleting"
    assert (await demo.client.get(DELETED, params=VERSION, headers=BEARER)).status_code == 404, "not yet"
    assert (await demo.client.get(f"{TRAINING}/projects", headers={"Training-Key": KEY})).status_code == 200

    clock.advance(1)
    assert (await demo.client.get(status_url, headers=BEARER)).json()["status"] == "Succeeded"
    assert (await demo.client.get(result_url, headers=BEARER)).status_code == 204
    assert (await demo.client.get(ACCOUNT, params=VERSION, headers=BEARER)).status_code == 404
    assert (await demo.client.delete(ACCOUNT, params=VERSION, headers=BEARER)).status_code == 204
    # A soft-deleted account's keys stop working on the data plane.
    assert (await demo.client.get(f"{TRAINING}/projects", headers={"Training-Key": KEY})).status_code == 401
    deleted = await demo.client.get(DELETED, params=VERSION, headers=BEARER)
    assert deleted.status_code == 200
    assert "deletionDate" in deleted.json()["properties"]
    assert demo.simulator.projects  # soft delete keeps the data until purged

    purge = await demo.client.delete(DELETED, params=VERSION, headers=BEARER)
    assert purge.status_code == 202
    assert (await demo.client.get(DELETED, params=VERSION, headers=BEARER)).status_code == 200, "until it is done"
    assert demo.simulator.projects
    clock.advance(1)
    assert (await demo.client.get(purge.headers["Azure-AsyncOperation"], headers=BEARER)).json()["status"] == (
        "Succeeded"
    )
    assert demo.simulator.projects == {}
    assert demo.simulator.export_blobs == {}
    assert (await demo.client.get(DELETED, params=VERSION, headers=BEARER)).status_code == 404
    assert (await demo.client.delete(DELETED, params=VERSION, headers=BEARER)).status_code == 204


async def test_an_unknown_operation_is_not_found(demo: Api) -> None:
    path = (
        f"/_arm/subscriptions/{CONFIG.subscription_id}/providers/Microsoft.CognitiveServices/locations/"
        f"{CONFIG.location}/operationStatuses/00000000-0000-4000-8000-000000000000"
    )
    response = await demo.client.get(path, params=VERSION, headers=BEARER)
    assert response.status_code == 404
