"""The account itself, through Azure Resource Manager: its row for an export, its deletion for an erase.

The Training API knows nothing of the account (``GetAccountInfo`` ended with v1.2); the account, its
keys and its deletion are ARM's. cvdsr reads the resource (properties, SKU, endpoint) and names the
keys without ever reading their values (it does not call ``listKeys``). Deleting is soft (the account
goes to ``deletedAccounts``, recoverable for 48 hours) and then purged, so nothing stays recoverable.
Both are ARM long-running operations: cvdsr polls each one (``Azure-AsyncOperation``, else
``Location``, at ``Retry-After``) until it succeeded, purges only after the delete finished (a deleted
account shows in ``deletedAccounts`` only then), and reports "purged" only when the purge succeeded and
the deleted account reads 404. The bearer token is sent to the ARM endpoint only, never to a polling
URL elsewhere.

Settings: ``CUSTOMVISION__<NAME>__ARMRESOURCEID`` per resource; ``CVDSR_ARM_ENDPOINT`` (default
``https://management.azure.com``; the simulator serves a loopback one). The token comes from the
app's managed identity (``AZURE_CLIENT_ID`` selects a user-assigned one); against a loopback endpoint
a fixed development token is used.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from shared.connections import azure_credential, setting
from shared.customvision.redaction import redact_url
from shared.settings import app_settings

API_VERSION = "2023-05-01"
SCOPE = "https://management.azure.com/.default"
_RESOURCE_ID = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.CognitiveServices/"
    r"accounts/(?P<name>[^/]+)$",
    re.IGNORECASE,
)
KEY_NAMES = ["key1", "key2"]
# Polling a long-running operation: ARM's Retry-After within these bounds, for at most this long (an
# account delete or purge takes seconds to minutes; the activity must end well within its timeout).
DEFAULT_POLL_SECONDS = 10.0
TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})  # a poll, only a read, tries these again
MAX_POLL_SECONDS = 60.0
LRO_DEADLINE_SECONDS = 20 * 60  # for delete and purge together, within Flex Consumption's 30-minute default


class ArmError(RuntimeError):
    """An ARM call failed; the message holds the status and ARM's error code, never a token."""


class ArmUnreachable(ArmError):
    """The connection failed (a read may be tried again; the message names the error's type only)."""


def parse_resource_id(resource_id: str) -> dict[str, str]:
    match = _RESOURCE_ID.match(resource_id.strip())
    if not match:
        raise ArmError("ARMRESOURCEID is not a Microsoft.CognitiveServices account resource id")
    return match.groupdict()


async def _token(endpoint: str, environ: Mapping[str, str] | None) -> str:
    if urlsplit(endpoint).hostname in ("127.0.0.1", "localhost", "::1"):
        return "local-development"  # the simulator accepts any bearer token
    credential = azure_credential(setting("AZURE_CLIENT_ID", environ=environ))
    async with credential:
        return (await credential.get_token(SCOPE)).token


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return (parts.scheme.lower(), parts.netloc.lower())


def _kind(path: str) -> str:
    lowered = path.lower()
    if "/operationstatuses/" in lowered or "/operationresults/" in lowered:
        return "Operation"
    return "DeletedAccount" if "/deletedaccounts/" in lowered else "Account"


def _retry_after(response: httpx.Response) -> float:
    """ARM's ``Retry-After`` (seconds), bounded; its absence means the default interval."""
    try:
        seconds = float(response.headers.get("Retry-After", DEFAULT_POLL_SECONDS))
    except ValueError:
        seconds = DEFAULT_POLL_SECONDS
    return min(max(seconds, 1.0), MAX_POLL_SECONDS)


def _json(method: str, what: str, response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise ArmError(f"{method} {redact_url(what)}: HTTP {response.status_code}, not JSON") from None
    if not isinstance(body, dict):
        raise ArmError(f"{method} {redact_url(what)}: HTTP {response.status_code}, not a JSON object")
    return body


def _raise_for(method: str, what: str, response: httpx.Response) -> None:
    if response.is_error:
        try:
            code = response.json().get("error", {}).get("code")
        except ValueError:
            code = None
        raise ArmError(f"{method} {redact_url(what)}: HTTP {response.status_code} {code or ''}".strip())


class ArmClient:
    """``observer`` receives one audit line per call (operation, target, status, request id)."""

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        observer: Callable[[dict[str, Any]], None] | None = None,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.endpoint = app_settings(environ).arm_endpoint.rstrip("/")
        self._environ = environ
        self._transport = transport
        self._observer = observer
        self._sleep = sleep
        self._clock = clock

    async def _send(self, method: str, url: str) -> httpx.Response:
        """One call with the bearer token, audited. The token goes to the ARM endpoint only: a polling
        URL on another origin is refused, never called."""
        target = url if url.startswith(("https://", "http://")) else f"{self.endpoint}{url}"
        if _origin(target) != _origin(self.endpoint):
            raise ArmError("ARM answered with a polling URL outside its endpoint; not followed")
        token = await _token(self.endpoint, self._environ)
        params = None if "api-version=" in target else {"api-version": API_VERSION}
        try:
            async with httpx.AsyncClient(timeout=60, transport=self._transport) as client:
                headers = {"Authorization": f"Bearer {token}"}
                response = await client.request(method, target, params=params, headers=headers)
        except httpx.HTTPError as error:  # the message names the error's type only, never the URL's query
            raise ArmUnreachable(f"{method} {_kind(urlsplit(target).path)}: {type(error).__name__}") from None
        if self._observer is not None:
            path = urlsplit(target).path.removeprefix(urlsplit(self.endpoint).path)
            self._observer(
                {
                    "time": datetime.now(UTC).isoformat(),
                    "operation": f"ARM {method} {_kind(path)}",
                    "method": method,
                    "target": path,
                    "status": response.status_code,
                    "apim_request_id": response.headers.get("x-ms-request-id"),
                }
            )
        return response

    async def _call(self, method: str, path: str, *, missing_ok: bool = False) -> dict[str, Any] | None:
        response = await self._send(method, path)
        if response.status_code == 404 and missing_ok:
            return None
        _raise_for(method, path, response)
        return _json(method, path, response) if response.content else {}

    async def _poll(self, url: str, what: str, deadline: float) -> httpx.Response:
        """One poll of an operation; a 429, a 5xx or a dropped connection is tried again (at its
        Retry-After) until the deadline, as a poll is only a read."""
        while True:
            try:
                response = await self._send("GET", url)
            except ArmUnreachable:
                if self._clock() + DEFAULT_POLL_SECONDS > deadline:
                    raise
                await self._sleep(DEFAULT_POLL_SECONDS)
                continue
            if response.status_code in TRANSIENT_STATUS and self._clock() + _retry_after(response) <= deadline:
                await self._sleep(_retry_after(response))
                continue
            _raise_for("GET", what, response)
            return response

    async def _long_running(self, path: str, deadline: float | None = None) -> Literal["done", "absent"]:
        """DELETE as ARM runs it: 200 done, 204 or 404 nothing there, 202 accepted and polled (through
        ``Azure-AsyncOperation``, else ``Location``, waiting ``Retry-After``) until it succeeded; a 202
        without either (a DELETE that joins one under way) or a 409 is followed by reading the resource
        until it is gone. Never "done" on a 202 alone: a failed or cancelled operation, or one still
        running at the deadline, raises."""
        deadline = self._clock() + LRO_DEADLINE_SECONDS if deadline is None else deadline
        response = await self._send("DELETE", path)
        if response.status_code in (204, 404):
            return "absent"
        status_url = response.headers.get("Azure-AsyncOperation")
        result_url = response.headers.get("Location")
        if response.status_code == 409 or (response.status_code == 202 and not status_url and not result_url):
            return await self._until_gone(path, response, deadline)
        _raise_for("DELETE", path, response)
        if response.status_code != 202:
            return "done"
        while True:
            await self._sleep(_retry_after(response))
            if self._clock() > deadline:
                raise ArmError(f"DELETE {redact_url(path)}: still running at the deadline")
            if status_url:
                response = await self._poll(status_url, "operation status", deadline)
                state = str(_json("GET", "operation status", response).get("status", "")).lower()
                if state == "succeeded":
                    return "done"
                if state in ("failed", "canceled", "cancelled"):
                    code = (response.json().get("error") or {}).get("code") or state
                    raise ArmError(f"DELETE {redact_url(path)}: the operation {state} ({code})")
            else:
                assert result_url is not None
                response = await self._poll(result_url, "operation result", deadline)
                if response.status_code != 202:
                    return "done"

    async def _until_gone(self, path: str, response: httpx.Response, deadline: float) -> Literal["done"]:
        """Another deletion of this resource is under way: done when the resource reads 404."""
        while True:
            await self._sleep(_retry_after(response))
            if self._clock() > deadline:
                raise ArmError(f"DELETE {redact_url(path)}: still there at the deadline")
            try:
                response = await self._send("GET", path)
            except ArmUnreachable:  # a dropped read: read again
                continue
            if response.status_code == 404:
                return "done"
            if response.status_code != 200 and response.status_code not in TRANSIENT_STATUS:
                _raise_for("GET", path, response)

    async def account_row(self, resource: str, resource_id: str) -> dict[str, Any]:
        """What the account holds about the customer, without key values."""
        account = await self._call("GET", resource_id)
        assert account is not None
        properties = account.get("properties") or {}
        return {
            "resource": resource,
            "id": account.get("id"),
            "name": account.get("name"),
            "kind": account.get("kind"),
            "location": account.get("location"),
            "sku": account.get("sku"),
            "tags": account.get("tags"),
            "identity": account.get("identity"),
            "system_data": account.get("systemData"),
            "properties": {k: v for k, v in properties.items() if "key" not in k.lower()},
            "keys": {
                "names": KEY_NAMES,
                "values": "not exported: keys are credentials, not personal data; rotate them in the portal",
                "last_rotation": "not exposed by Azure Resource Manager",
            },
        }

    async def location_of(self, resource_id: str) -> str | None:
        """The account's region (needed to purge it once deleted), or None when it is gone."""
        account = await self._call("GET", resource_id, missing_ok=True)
        return str(account["location"]) if account and account.get("location") else None

    async def delete_and_purge(self, resource_id: str, location: str | None) -> list[dict[str, Any]]:
        """Soft-delete, wait for it, then purge and wait for that: nothing stays recoverable. Idempotent:
        an account already deleted or purged (a re-run) counts as done, once read back as gone.
        ``location`` is the region read before the deletion (kept by the caller for a re-run).
        Returns the read-back checks: the certificate says "purged" only when both pass."""
        parts = parse_resource_id(resource_id)
        # One deadline for both operations: the activity must end within the host's function timeout.
        deadline = self._clock() + LRO_DEADLINE_SECONDS
        deleted_now = await self._long_running(resource_id, deadline) == "done"
        checks = [
            {
                "check": "GetAccount",
                "target": resource_id,
                "expected": "NotFound",
                "passed": await self._call("GET", resource_id, missing_ok=True) is None,
            }
        ]
        location = location or app_settings(self._environ).arm_location
        if not location:
            checks.append(
                {
                    "check": "GetDeletedAccount",
                    "target": resource_id,
                    "expected": "NotFound",
                    "passed": False,
                    "observed": "location unknown: set CVDSR_ARM_LOCATION to purge",
                }
            )
            return checks
        deleted = (
            f"/subscriptions/{parts['sub']}/providers/Microsoft.CognitiveServices/locations/{location}"
            f"/resourceGroups/{parts['rg']}/deletedAccounts/{parts['name']}"
        )
        purge = await self._long_running(deleted, deadline)
        check: dict[str, Any] = {
            "check": "GetDeletedAccount",
            "target": deleted,
            "expected": "NotFound",
            "passed": await self._call("GET", deleted, missing_ok=True) is None,
        }
        if deleted_now and purge == "absent":
            # This run deleted the account, so it must have been there to purge: not finding it means
            # the soft-deleted account is not visible yet, not that it is gone for good.
            check.update(passed=False, observed="the account this erase deleted was not found to purge")
        checks.append(check)
        return checks
