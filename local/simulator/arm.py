"""The slice of Azure Resource Manager that concerns the account itself, under `/_arm`.

Served (case-insensitive like ARM, `api-version` required, any non-empty `Authorization: Bearer …`):

* `GET    /_arm/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.CognitiveServices/accounts/{name}`
* `POST   …/accounts/{name}/listKeys`: key1 is the training key, key2 a random secondary key. A DSR
  export must not copy them; serving them lets tests prove it does not.
* `DELETE …/accounts/{name}`: soft delete, a long-running operation as in Azure: 202 with
  `Azure-AsyncOperation` (an operation status that goes InProgress → Succeeded), `Location` (202 until
  done, then 204) and `Retry-After`; 204 when the account does not exist. While it runs the account
  reads `provisioningState: Deleting` and is not yet under deletedAccounts; once it is done the keys stop
  working on the data plane (401), the account reads 404 and it is listed under deletedAccounts.
* `GET|DELETE /_arm/subscriptions/{sub}/providers/Microsoft.CognitiveServices/locations/{loc}/resourceGroups/
  {rg}/deletedAccounts/{name}`: the soft-deleted account; DELETE purges it (every project, every export
  file), long-running likewise: it stays readable under deletedAccounts until the purge is done.
* `GET …/locations/{loc}/operationStatuses/{id}` and `…/operationResults/{id}`: the operations.

`SimulatorConfig.arm_operation_seconds` is how long an operation runs (simulator time).

Errors use ARM's `{"error": {"code", "message"}}` shape with ARM's codes.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from local.simulator.request_log import context_of
from local.simulator.state import Simulator
from local.simulator.timefmt import format_wire

PROVIDER = "Microsoft.CognitiveServices"
KIND = "CustomVision.Training"
PURGE_AFTER = timedelta(days=2)
_API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview)?$")


# Routes, lower-cased: "*" is any segment, "a|b" either, a trailing "?" an optional segment.
_PROVIDER = PROVIDER.lower()
_OPERATION = f"subscriptions/*/providers/{_PROVIDER}/locations/*/operationstatuses|operationresults/*"
_ACCOUNT = f"subscriptions/*/resourcegroups/*/providers/{_PROVIDER}/accounts/*/*?"
_DELETED_ACCOUNT = f"subscriptions/*/providers/{_PROVIDER}/locations/*/resourcegroups/*/deletedaccounts/*"


def _matches(pattern: str, parts: list[str]) -> bool:
    segments = pattern.split("/")
    required = sum(1 for segment in segments if not segment.endswith("?"))
    if not required <= len(parts) <= len(segments):
        return False
    return all(
        segment.rstrip("?") == "*" or part in segment.rstrip("?").split("|")
        for segment, part in zip(segments, parts, strict=False)
    )


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message}},
        status,
        headers={"x-ms-failure-cause": "gateway" if status == 401 else "service"},
    )


class _Arm:
    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator
        self.operations: dict[str, dict[str, Any]] = {}
        self.running: dict[str, dict[str, str]] = {}  # what is being deleted -> its polling headers
        config = simulator.config
        self.account_id = (
            f"/subscriptions/{config.subscription_id}/resourceGroups/{config.resource_group}"
            f"/providers/{PROVIDER}/accounts/{config.account_name}"
        )
        self.deleted_id = (
            f"/subscriptions/{config.subscription_id}/providers/{PROVIDER}/locations/{config.location}"
            f"/resourceGroups/{config.resource_group}/deletedAccounts/{config.account_name}"
        )
        self.operations_prefix = (
            f"/subscriptions/{config.subscription_id}/providers/{PROVIDER}/locations/{config.location}"
        )

    # --- long-running operations --------------------------------------------------------------
    def _start(self, base_url: str, version: str, description: str, finish: Callable[[], None]) -> Response:
        if description in self.running:  # a repeated DELETE joins the operation under way, as ARM does
            return Response(status_code=202, headers=self.running[description])
        """Accept an operation that ``finish`` completes after ``arm_operation_seconds``: 202 and the
        headers ARM gives for polling."""
        simulator = self.simulator
        operation_id = simulator.ids.new()
        operation = {"id": f"{self.operations_prefix}/operationStatuses/{operation_id}", "name": operation_id}
        operation.update(status="InProgress", startTime=format_wire(simulator.now()))
        self.operations[operation_id] = operation

        def done() -> None:
            finish()
            operation.update(status="Succeeded", endTime=format_wire(simulator.now()))
            self.running.pop(description, None)

        seconds = simulator.config.arm_operation_seconds
        simulator.schedule(seconds, description, done)
        base = f"{base_url.rstrip('/')}/_arm{self.operations_prefix}"
        headers = {
            "Azure-AsyncOperation": f"{base}/operationStatuses/{operation_id}?api-version={version}",
            "Location": f"{base}/operationResults/{operation_id}?api-version={version}",
            "Retry-After": str(max(1, math.ceil(seconds))),
        }
        self.running[description] = headers
        return Response(status_code=202, headers=headers)

    def _operation(self, request: Request, location: str, kind: str, operation_id: str) -> Response:
        operation = self.operations.get(operation_id)
        if operation is None or location.lower() != self.simulator.config.location.lower():
            return _error(404, "NotFound", f"The operation '{operation_id}' was not found.")
        if request.method != "GET":
            return _error(405, "UnsupportedMethod", f"{request.method} is not supported on this resource.")
        if kind == "operationstatuses":
            return JSONResponse(operation)
        if operation["status"] == "InProgress":
            return Response(status_code=202, headers={"Location": str(request.url), "Retry-After": "1"})
        return Response(status_code=204)

    # --- checks -------------------------------------------------------------------------------
    def precheck(self, request: Request) -> Response | None:
        context = context_of(request.scope)
        context.api = "arm"
        authorization = request.headers.get("authorization")
        if authorization is None:
            context.key_ok = False
            return _error(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
        scheme, _, token = authorization.partition(" ")
        context.key_ok = scheme.lower() == "bearer" and bool(token.strip())
        if not context.key_ok:
            return _error(401, "InvalidAuthenticationToken", "The access token is invalid.")
        version = request.query_params.get("api-version")
        if version is None:
            return _error(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
        if not _API_VERSION.match(version):
            return _error(400, "InvalidApiVersionParameter", f"The api-version '{version}' is invalid.")
        return None

    def _not_found(self, resource_type: str, name: str) -> JSONResponse:
        rg = self.simulator.config.resource_group
        return _error(
            404,
            "ResourceNotFound",
            f"The Resource '{PROVIDER}/{resource_type}/{name}' under resource group '{rg}' was not found. "
            "For more details please go to https://aka.ms/ARMResourceNotFoundFix",
        )

    def _match_scope(self, subscription: str, resource_group: str) -> Response | None:
        config = self.simulator.config
        if subscription.lower() != config.subscription_id.lower():
            return _error(404, "SubscriptionNotFound", f"The subscription '{subscription}' could not be found.")
        if resource_group.lower() != config.resource_group.lower():
            return _error(404, "ResourceGroupNotFound", f"Resource group '{resource_group}' could not be found.")
        return None

    # --- bodies -------------------------------------------------------------------------------
    def _account_json(self, base_url: str) -> dict[str, Any]:
        simulator = self.simulator
        account = simulator.account
        created = format_wire(account.created)
        endpoint = base_url.rstrip("/") + "/"
        return {
            "id": self.account_id,
            "name": simulator.config.account_name,
            "type": f"{PROVIDER}/accounts",
            "etag": f'"{uuid.UUID(int=account.etag_counter)}"',
            "location": simulator.config.location,
            "kind": KIND,
            "sku": {"name": "S0"},
            "tags": {},
            "properties": {
                "endpoint": endpoint,
                "endpoints": {"Custom Vision Training": endpoint},
                "internalId": uuid.uuid5(uuid.NAMESPACE_URL, self.account_id).hex,
                "dateCreated": created,
                "provisioningState": "Succeeded",
                "publicNetworkAccess": "Enabled",
                "disableLocalAuth": False,
                "isMigrated": False,
                "networkAcls": {"defaultAction": "Allow", "virtualNetworkRules": [], "ipRules": []},
                "capabilities": [{"name": "CustomerManagedKey"}, {"name": "VirtualNetworks"}],
                "apiProperties": {},
            },
            "systemData": {
                "createdBy": "cvdsr-simulator",
                "createdByType": "Application",
                "createdAt": created,
                "lastModifiedBy": "cvdsr-simulator",
                "lastModifiedByType": "Application",
                "lastModifiedAt": created,
            },
        }

    def _deleted_json(self, base_url: str) -> dict[str, Any]:
        account = self.simulator.account
        assert account.deleted_at is not None
        body = self._account_json(base_url)
        body["id"] = self.deleted_id
        body["type"] = f"{PROVIDER}/locations/resourceGroups/deletedAccounts"
        body["properties"]["deletionDate"] = format_wire(account.deleted_at)
        body["properties"]["scheduledPurgeDate"] = format_wire(account.deleted_at + PURGE_AFTER)
        body["properties"]["restore"] = False
        return body

    # --- dispatch -----------------------------------------------------------------------------
    async def dispatch(self, request: Request) -> Response:
        denied = self.precheck(request)
        if denied:
            return denied
        parts = [part for part in request.path_params["path"].split("/") if part]
        lower = [part.lower() for part in parts]
        base_url = str(request.base_url)
        self.simulator.settle()
        with self.simulator.lock:
            if _matches(_OPERATION, lower):
                if parts[1].lower() != self.simulator.config.subscription_id.lower():
                    return _error(404, "SubscriptionNotFound", f"The subscription '{parts[1]}' could not be found.")
                return self._operation(request, parts[5], lower[6], parts[7])
            if _matches(_ACCOUNT, lower):
                mismatch = self._match_scope(parts[1], parts[3])
                if mismatch:
                    return mismatch
                return self._account(request, parts[7], lower[8] if len(parts) == 9 else None, base_url)
            if _matches(_DELETED_ACCOUNT, lower):
                mismatch = self._match_scope(parts[1], parts[7])
                if mismatch:
                    return mismatch
                return self._deleted_account(request, parts[5], parts[9], base_url)
        return _error(404, "InvalidResourceType", f"The resource type of '/{'/'.join(parts)}' could not be found.")

    def _account(self, request: Request, name: str, action: str | None, base_url: str) -> Response:
        simulator = self.simulator
        account = simulator.account
        named = name.lower() == simulator.config.account_name.lower()
        exists = named and account.status in ("active", "deleting")
        if action is None and request.method == "GET":
            if not exists:
                return self._not_found("accounts", name)
            body = self._account_json(base_url)
            if account.status == "deleting":
                body["properties"]["provisioningState"] = "Deleting"
            return JSONResponse(body)
        if action is None and request.method == "DELETE":
            if not exists:
                return Response(status_code=204)
            account.status = "deleting"

            def soft_deleted() -> None:
                account.status = "soft_deleted"
                account.deleted_at = simulator.now()
                account.etag_counter += 1

            version = request.query_params.get("api-version", "")
            return self._start(base_url, version, f"delete account {simulator.config.account_name}", soft_deleted)
        if action == "listkeys" and request.method == "POST":
            if not exists:
                return self._not_found("accounts", name)
            return JSONResponse({"key1": simulator.config.training_key, "key2": simulator.account.secondary_key})
        return _error(405, "UnsupportedMethod", f"{request.method} is not supported on this resource.")

    def _deleted_account(self, request: Request, location: str, name: str, base_url: str) -> Response:
        simulator = self.simulator
        exists = (
            simulator.account.status in ("soft_deleted", "purging")
            and name.lower() == simulator.config.account_name.lower()
            and location.lower() == simulator.config.location.lower()
        )
        if not exists:
            if request.method == "DELETE":
                return Response(status_code=204)
            return self._not_found(f"locations/{location}/resourceGroups/deletedAccounts", name)
        if request.method == "GET":
            return JSONResponse(self._deleted_json(base_url))
        if request.method == "DELETE":
            simulator.account.status = "purging"

            def purged() -> None:
                simulator.purge()
                simulator.account.status = "purged"

            version = request.query_params.get("api-version", "")
            return self._start(base_url, version, f"purge account {simulator.config.account_name}", purged)
        return _error(405, "UnsupportedMethod", f"{request.method} is not supported on this resource.")


def arm_routes(simulator: Simulator) -> list[Route]:
    arm = _Arm(simulator)
    return [Route("/_arm/{path:path}", arm.dispatch, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])]
