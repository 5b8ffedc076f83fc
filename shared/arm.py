"""The account itself, through Azure Resource Manager: its row for an export, its deletion for an erase.

The Training API knows nothing of the account (``GetAccountInfo`` ended with v1.2); the account, its
keys and its deletion are ARM's. cvdsr reads the resource (properties, SKU, endpoint) and names the
keys without ever reading their values (it does not call ``listKeys``). Deleting is soft (the account
goes to ``deletedAccounts``) and then purged, so nothing stays recoverable.

Settings: ``CUSTOMVISION__<NAME>__ARMRESOURCEID`` per resource; ``CVDSR_ARM_ENDPOINT`` (default
``https://management.azure.com``; the simulator serves a loopback one). The token comes from the
app's managed identity (``AZURE_CLIENT_ID`` selects a user-assigned one); against a loopback endpoint
a fixed development token is used.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
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


class ArmError(RuntimeError):
    """An ARM call failed; the message holds the status and ARM's error code, never a token."""


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


class ArmClient:
    """``observer`` receives one audit line per call (operation, target, status, request id)."""

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        observer: Callable[[dict[str, Any]], None] | None = None,
    ):
        self.endpoint = app_settings(environ).arm_endpoint.rstrip("/")
        self._environ = environ
        self._transport = transport
        self._observer = observer

    async def _call(self, method: str, path: str, *, missing_ok: bool = False) -> dict[str, Any] | None:
        token = await _token(self.endpoint, self._environ)
        async with httpx.AsyncClient(timeout=60, transport=self._transport) as client:
            response = await client.request(
                method,
                f"{self.endpoint}{path}",
                params={"api-version": API_VERSION},
                headers={"Authorization": f"Bearer {token}"},
            )
        if self._observer is not None:
            self._observer(
                {
                    "time": datetime.now(UTC).isoformat(),
                    "operation": f"ARM {method} {'DeletedAccount' if '/deletedAccounts/' in path else 'Account'}",
                    "method": method,
                    "target": path,
                    "status": response.status_code,
                    "apim_request_id": response.headers.get("x-ms-request-id"),
                }
            )
        if response.status_code == 404 and missing_ok:
            return None
        if response.is_error:
            try:
                code = response.json().get("error", {}).get("code")
            except ValueError:
                code = None
            raise ArmError(f"{method} {redact_url(path)}: HTTP {response.status_code} {code or ''}".strip())
        return response.json() if response.content else {}

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

    async def delete_and_purge(self, resource_id: str) -> list[dict[str, Any]]:
        """Soft-delete, then purge. Idempotent: an account already gone (either step) counts as done.
        Returns the read-back checks."""
        parts = parse_resource_id(resource_id)
        account = await self._call("GET", resource_id, missing_ok=True)
        location = (account or {}).get("location")
        await self._call("DELETE", resource_id, missing_ok=True)
        if location is None:  # already soft-deleted earlier: find it among the deleted accounts
            location = app_settings(self._environ).arm_location
        checks = [
            {
                "check": "GetAccount",
                "target": resource_id,
                "expected": "NotFound",
                "passed": await self._call("GET", resource_id, missing_ok=True) is None,
            }
        ]
        if location:
            deleted = (
                f"/subscriptions/{parts['sub']}/providers/Microsoft.CognitiveServices/locations/{location}"
                f"/resourceGroups/{parts['rg']}/deletedAccounts/{parts['name']}"
            )
            await self._call("DELETE", deleted, missing_ok=True)
            checks.append(
                {
                    "check": "GetDeletedAccount",
                    "target": deleted,
                    "expected": "NotFound",
                    "passed": await self._call("GET", deleted, missing_ok=True) is None,
                }
            )
        else:
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
