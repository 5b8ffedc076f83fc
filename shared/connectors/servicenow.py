"""ServiceNow (``../shared/specs/ticketing-platforms.md`` §5, docs/connectors.md): an outbound reporter.

ServiceNow has no machine contract for handing a privacy task to another system, so requests come in
through the generic intake (``POST /api/requests``, from a Flow Designer REST step that maps the task's
fields into a request v1, with ``ticket: {system: "servicenow", id: <number or sys_id>}``). When such a
request ends, cvdsr finds the task in the configured table (by ``sys_id``, or by ``number``), attaches
the export package or the erasure certificate (Attachment API) and writes a work note, and the state
codes the settings name, through the Table API. The table and the state codes vary per instance and are
unconfirmed: they are settings, and no state is changed unless one is configured.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from azure.storage.blob.aio import BlobServiceClient

from shared.connections import results_container
from shared.results import layout
from shared.results.store import ResultStore
from shared.settings import ServiceNowSettings, app_settings

from . import records
from .outbound import PlatformClient, PlatformError

PLATFORM = "servicenow"
_SYS_ID = re.compile(r"^[0-9a-f]{32}$")


def configured(environ: Mapping[str, str] | None = None) -> ServiceNowSettings | None:
    return app_settings(environ).servicenow


def _client(settings: ServiceNowSettings) -> PlatformClient:
    if settings.token is not None:
        authorization = f"Bearer {settings.token.get_secret_value()}"
    else:
        password = settings.password.get_secret_value() if settings.password else ""
        pair = base64.b64encode(f"{settings.username}:{password}".encode()).decode()
        authorization = f"Basic {pair}"
    headers = {"authorization": authorization, "accept": "application/json"}
    return PlatformClient(PLATFORM, settings.instance, headers)


async def _sys_id(client: PlatformClient, settings: ServiceNowSettings, ticket_id: str) -> str:
    """The task's ``sys_id``: the ticket id itself, or the record whose ``number`` it is."""
    if _SYS_ID.fullmatch(ticket_id):
        return ticket_id
    query = {"sysparm_query": f"number={ticket_id}", "sysparm_fields": "sys_id", "sysparm_limit": "1"}
    path = f"/api/now/table/{settings.table}?" + "&".join(f"{k}={quote(v)}" for k, v in query.items())
    found = (await client.send("GET", path, "find task")).json().get("result") or []
    if not found:
        raise PlatformError(PLATFORM, "find task", f"no record of that number in {settings.table}")
    return str(found[0]["sys_id"])


def work_note(request: Mapping[str, Any], outcome: Mapping[str, Any], result: Mapping[str, Any]) -> str:
    status, counts = outcome.get("status"), outcome.get("counts") or {}
    what = "export" if request.get("type") == "export" else "erase"
    note = f"cvdsr {what} {request.get('request_id')} {status}."
    if what == "erase" and status == "succeeded":
        note += f" {counts.get('images', 0)} image(s) deleted and verified gone by reading back; certificate attached."
    elif what == "export" and status == "succeeded":
        note += f" {counts.get('image_files', 0)} image file(s) exported."
        if result.get("package_url"):
            note += f" Package (valid until {result.get('expires_at')}): {result['package_url']}"
    elif outcome.get("errors"):
        note += f" {len(outcome['errors'])} error(s); see the request's manifest in cvdsr."
    return note


async def _attach(
    client: PlatformClient, store: ResultStore, settings: ServiceNowSettings, sys_id: str, path: str, name: str
) -> None:
    data = await store.read_bytes(path)
    query = f"table_name={quote(settings.table)}&table_sys_id={sys_id}&file_name={quote(name)}"
    kind = "application/zip" if name.endswith(".zip") else "application/json"
    await client.send(
        "POST", f"/api/now/attachment/file?{query}", "attach", content=data, headers={"content-type": kind}
    )


async def report(request: Mapping[str, Any], outcome: Mapping[str, Any], result: Mapping[str, Any]) -> str | None:
    """Update the ServiceNow task the request names (``ticket.system`` ``servicenow``), once."""
    settings = configured()
    ticket = request.get("ticket") or {}
    if settings is None or str(ticket.get("system", "")).lower() != PLATFORM or not ticket.get("id"):
        return None
    request_id = str(request.get("request_id", ""))

    async def sending(service: BlobServiceClient, _record: dict[str, Any]) -> None:
        store = ResultStore(results_container(service))
        async with _client(settings) as client:
            sys_id = await _sys_id(client, settings, str(ticket["id"]))
            succeeded = outcome.get("status") == "succeeded" and not request.get("dry_run")
            if settings.attach == "files" and succeeded:
                if request.get("type") == "erase":
                    await _attach(
                        client,
                        store,
                        settings,
                        sys_id,
                        layout.erasure_certificate(request_id),
                        "erasure-certificate.json",
                    )
                elif await store.exists(layout.export_zip(request_id)):
                    await _attach(client, store, settings, sys_id, layout.export_zip(request_id), "export.zip")
            update: dict[str, str] = {"work_notes": work_note(request, outcome, result)}
            state = settings.state_succeeded if succeeded else settings.state_failed
            if state:
                update["state"] = state
            await client.send("PATCH", f"/api/now/table/{settings.table}/{sys_id}", "update task", json=update)

    return await records.report(PLATFORM, request, sending, first={"ticket": str(ticket["id"])})
