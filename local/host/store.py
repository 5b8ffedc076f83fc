"""Durable state in Azure Storage (Azurite): tables for instances, history and inboxes; blobs for large
payloads and the host lease.

Layout for task hub ``H`` (see docs in the package ``__init__``):

- table ``HInstances``: one row per instance (PartitionKey = instance id, RowKey = ""): Name,
  RuntimeStatus, Input, Output, CustomStatus, CreatedTime, LastUpdatedTime, ExecutionId, HistoryCount
  (the commit point: history rows beyond it are ignored), Parent (JSON), ParentNotified.
- table ``HHistory``: one row per history event (PartitionKey = instance id,
  RowKey = ``{ExecutionId}-{seq:08d}``): Event (the DTFx-shaped JSON), Source (the inbox message it came
  from, for idempotent redelivery).
- table ``HInbox``: messages waiting for an instance's next episode (PartitionKey = instance id,
  RowKey = a deterministic key such as ``task-{ExecutionId}-{TaskScheduledId}``, so a redelivered
  completion overwrites itself): Message (JSON), Seq (ordering).
- blob container ``h-largemessages``: property values over 60 KB in UTF-16, as the extension's Azure
  Storage provider decides.
- blob container ``h-leases``, blob ``host``: held (leased) by the running host; its metadata names the
  holder (``pid``, ``started``: the process's start time, ``hostname``, ``hostid``).
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import psutil
from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableTransactionError, UpdateMode
from azure.data.tables.aio import TableClient, TableServiceClient
from azure.storage.blob.aio import BlobServiceClient, ContainerClient

from .config import HostConfigError
from .history import Event

# DurableTask.AzureStorage moves a property to the large-messages container when its UTF-16 size is
# over 60 KB (MaxTablePropertySizeInBytes: Azure Tables allows 64 KiB a property, this leaves a buffer).
LARGE_PROPERTY_BYTES = 60 * 1024


def is_large(value: str) -> bool:
    return len(value.encode("utf-16-le")) > LARGE_PROPERTY_BYTES


# Two reads of one process's start time differ by at most this (the boot time they add is whole seconds and
# may be read differently in two processes); a reused pid belongs to a process started well after.
START_TIME_TOLERANCE = 1.0


class ConcurrencyError(RuntimeError):
    """Someone else changed the row (ETag mismatch)."""


class HostLeaseError(HostConfigError):
    """Another host holds the task hub."""


@dataclass
class InstanceRecord:
    instance_id: str
    name: str
    runtime_status: str
    execution_id: str
    input: str | None = None
    output: str | None = None
    custom_status: str | None = None
    created_time: str = ""
    last_updated_time: str = ""
    history_count: int = 0
    parent: dict[str, Any] | None = None
    parent_notified: bool = False
    etag: str | None = field(default=None, repr=False)


_seq_last = 0


def next_seq() -> str:
    """A strictly increasing, sortable sequence string for inbox ordering within this host."""
    global _seq_last
    value = max(time.time_ns(), _seq_last + 1)
    _seq_last = value
    return f"{value:020d}"


def process_start_time(pid: int) -> float:
    """When process ``pid`` started (seconds since the epoch): with the pid, it names one process."""
    return psutil.Process(pid).create_time()


def lease_holder_alive(pid: int, started: str | None) -> bool:
    """Whether the process a host lease names on this machine still runs. A killed host that its parent has
    not reaped yet is a zombie (``os.kill(pid, 0)`` succeeds on it) and counts as dead, and so does a live
    process whose start time is not the one the lease recorded (the pid was reused)."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        if started:
            try:
                recorded = float(started)
            except ValueError:
                return True  # not written by this host: judge by the pid alone
            return abs(process.create_time() - recorded) <= START_TIME_TOLERANCE
    except psutil.NoSuchProcess:  # also psutil.ZombieProcess
        return False
    except psutil.AccessDenied:
        return True
    return True


class DurableStore:
    def __init__(self, connection_string: str, hub: str) -> None:
        self.hub = hub
        self._conn = connection_string
        self._tables = TableServiceClient.from_connection_string(connection_string)
        self._blobs = BlobServiceClient.from_connection_string(connection_string)
        self.instances: TableClient = self._tables.get_table_client(f"{hub}Instances")
        self.history: TableClient = self._tables.get_table_client(f"{hub}History")
        self.inbox: TableClient = self._tables.get_table_client(f"{hub}Inbox")
        self.large: ContainerClient = self._blobs.get_container_client(f"{hub.lower()}-largemessages")
        self.leases: ContainerClient = self._blobs.get_container_client(f"{hub.lower()}-leases")
        self._lease_id: str | None = None

    async def open(self) -> None:
        for table in (self.instances, self.history, self.inbox):
            try:
                await table.create_table()
            except ResourceExistsError:
                pass
        for container in (self.large, self.leases):
            try:
                await container.create_container()
            except ResourceExistsError:
                pass

    async def close(self) -> None:
        for client in (self.instances, self.history, self.inbox):
            await client.close()
        await self.large.close()
        await self.leases.close()
        await self._tables.close()
        await self._blobs.close()

    # --- host lease ---------------------------------------------------------------------------
    async def acquire_host_lease(self, owner: dict[str, Any], lease_seconds: int = 60) -> None:
        """Take the task hub for this host. A lease held by a process that no longer runs on this machine
        (a killed host, even one not reaped yet, see :func:`lease_holder_alive`) is broken at once; a live one
        is refused."""
        blob = self.leases.get_blob_client("host")
        try:
            await blob.upload_blob(b"", overwrite=False)
        except ResourceExistsError:
            pass
        try:
            props = await blob.get_blob_properties()
            meta = props.metadata or {}
            state = props.lease.state
        except ResourceNotFoundError:
            meta, state = {}, "available"
        if state == "leased":
            pid = int(meta.get("pid", "0") or 0)
            same_machine = meta.get("hostname") == socket.gethostname()
            alive = False
            if same_machine and pid > 0 and lease_holder_alive(pid, meta.get("started")):
                # This process's own pid is alive by definition: the lease is live only if this host took it.
                alive = pid != os.getpid() or meta.get("hostid") == owner.get("hostid")
            if alive or not same_machine:
                raise HostLeaseError(
                    f"task hub '{self.hub}' is in use by another host (pid {pid} on {meta.get('hostname')}); "
                    "stop it first or use another hub name"
                )
            await blob.get_blob_properties()
            from azure.storage.blob.aio import BlobLeaseClient

            await BlobLeaseClient(blob).break_lease(lease_break_period=0)
        from azure.storage.blob.aio import BlobLeaseClient

        lease = BlobLeaseClient(blob, lease_id=str(uuid.uuid4()))
        await lease.acquire(lease_duration=lease_seconds)
        self._lease_id = lease.id
        await blob.set_blob_metadata({k: str(v) for k, v in owner.items()}, lease=lease.id)

    async def renew_host_lease(self) -> None:
        from azure.storage.blob.aio import BlobLeaseClient

        if self._lease_id:
            await BlobLeaseClient(self.leases.get_blob_client("host"), lease_id=self._lease_id).renew()

    async def release_host_lease(self) -> None:
        from azure.storage.blob.aio import BlobLeaseClient

        if self._lease_id:
            try:
                await BlobLeaseClient(self.leases.get_blob_client("host"), lease_id=self._lease_id).release()
            except HttpResponseError:
                pass
            self._lease_id = None

    # --- large values -------------------------------------------------------------------------
    async def _put_value(self, entity: dict[str, Any], prop: str, value: str | None, blob_name: str) -> None:
        if value is not None and is_large(value):
            await self.large.upload_blob(blob_name, value.encode("utf-8"), overwrite=True)
            entity[prop] = None
            entity[f"{prop}BlobName"] = blob_name
        else:
            entity[prop] = value
            entity[f"{prop}BlobName"] = ""

    async def _get_value(self, entity: dict[str, Any], prop: str) -> str | None:
        blob_name = entity.get(f"{prop}BlobName")
        if blob_name:
            data = await (await self.large.download_blob(str(blob_name))).readall()
            return data.decode("utf-8")
        value = entity.get(prop)
        return None if value is None else str(value)

    # --- instances ----------------------------------------------------------------------------
    async def _instance_entity(self, rec: InstanceRecord) -> dict[str, Any]:
        entity: dict[str, Any] = {
            "PartitionKey": rec.instance_id,
            "RowKey": "",
            "Name": rec.name,
            "RuntimeStatus": rec.runtime_status,
            "ExecutionId": rec.execution_id,
            "CreatedTime": rec.created_time,
            "LastUpdatedTime": rec.last_updated_time,
            "HistoryCount": rec.history_count,
            "Parent": json.dumps(rec.parent) if rec.parent else "",
            "ParentNotified": rec.parent_notified,
        }
        base = f"{rec.instance_id}/{rec.execution_id}"
        await self._put_value(entity, "Input", rec.input, f"{base}/input.json")
        await self._put_value(entity, "Output", rec.output, f"{base}/output.json")
        await self._put_value(entity, "CustomStatus", rec.custom_status, f"{base}/customstatus.json")
        return entity

    async def _record(self, entity: Any) -> InstanceRecord:
        parent_raw = entity.get("Parent") or ""
        return InstanceRecord(
            instance_id=str(entity["PartitionKey"]),
            name=str(entity.get("Name", "")),
            runtime_status=str(entity.get("RuntimeStatus", "")),
            execution_id=str(entity.get("ExecutionId", "")),
            input=await self._get_value(entity, "Input"),
            output=await self._get_value(entity, "Output"),
            custom_status=await self._get_value(entity, "CustomStatus"),
            created_time=str(entity.get("CreatedTime", "")),
            last_updated_time=str(entity.get("LastUpdatedTime", "")),
            history_count=int(entity.get("HistoryCount", 0) or 0),
            parent=json.loads(parent_raw) if parent_raw else None,
            parent_notified=bool(entity.get("ParentNotified", False)),
            etag=entity.metadata.get("etag") if hasattr(entity, "metadata") else None,
        )

    async def get_instance(self, instance_id: str) -> InstanceRecord | None:
        try:
            entity = await self.instances.get_entity(instance_id, "")
        except ResourceNotFoundError:
            return None
        return await self._record(entity)

    async def list_instances(self) -> list[InstanceRecord]:
        records = []
        async for entity in self.instances.list_entities():
            records.append(await self._record(entity))
        return records

    async def create_instance(self, rec: InstanceRecord) -> bool:
        """Insert; False when a row for the id already exists."""
        try:
            result = await self.instances.create_entity(await self._instance_entity(rec))
        except ResourceExistsError:
            return False
        rec.etag = result.get("etag")
        return True

    async def replace_instance(self, rec: InstanceRecord) -> None:
        """Replace the row if it has not changed since ``rec.etag`` was read (the commit point)."""
        entity = await self._instance_entity(rec)
        try:
            if rec.etag:
                result = await self.instances.update_entity(
                    entity, mode=UpdateMode.REPLACE, etag=rec.etag, match_condition=MatchConditions.IfNotModified
                )
            else:
                result = await self.instances.upsert_entity(entity, mode=UpdateMode.REPLACE)
        except (ResourceNotFoundError, ResourceExistsError) as exc:
            raise ConcurrencyError(str(exc)) from exc
        except HttpResponseError as exc:
            if exc.status_code in (409, 412):
                raise ConcurrencyError(str(exc)) from exc
            raise
        rec.etag = result.get("etag")

    # --- history ------------------------------------------------------------------------------
    async def load_history(self, instance_id: str, execution_id: str, count: int) -> tuple[list[Event], set[str]]:
        """The committed history (first ``count`` events) of an execution, and the inbox keys it consumed."""
        if count <= 0:
            return [], set()
        rows: list[tuple[int, Event, str]] = []
        query = "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi"
        params = {"pk": instance_id, "lo": f"{execution_id}-", "hi": f"{execution_id}."}
        async for entity in self.history.query_entities(query, parameters=params):
            seq = int(str(entity["RowKey"]).rsplit("-", 1)[1])
            if seq >= count:
                continue
            raw = await self._get_value(entity, "Event")
            if raw is None:
                continue
            rows.append((seq, json.loads(raw), str(entity.get("Source", "") or "")))
        rows.sort(key=lambda r: r[0])
        if len(rows) != count or any(r[0] != i for i, r in enumerate(rows)):
            raise RuntimeError(
                f"history of {instance_id} ({execution_id}) is incomplete: {len(rows)} of {count} events"
            )
        sources = {src for _, _, src in rows if src}
        return [r[1] for r in rows], sources

    async def append_history(
        self, instance_id: str, execution_id: str, start: int, events: list[tuple[Event, str]]
    ) -> None:
        """Write events ``start..`` (upsert: rows left by an uncommitted episode are overwritten)."""
        ops: list[tuple[str, dict[str, Any]]] = []
        for offset, (event, source) in enumerate(events):
            seq = start + offset
            entity: dict[str, Any] = {
                "PartitionKey": instance_id,
                "RowKey": f"{execution_id}-{seq:08d}",
                "ExecutionId": execution_id,
                "EventType": int(event["EventType"]),
                "Source": source,
            }
            await self._put_value(
                entity, "Event", json.dumps(event), f"{instance_id}/{execution_id}/history-{seq:08d}.json"
            )
            ops.append(("upsert", entity))
        for i in range(0, len(ops), 50):
            try:
                await self.history.submit_transaction(ops[i : i + 50])
            except TableTransactionError:
                for op in ops[i : i + 50]:
                    await self.history.upsert_entity(op[1], mode=UpdateMode.REPLACE)

    # --- inbox --------------------------------------------------------------------------------
    async def put_inbox(self, instance_id: str, key: str, message: dict[str, Any]) -> None:
        entity: dict[str, Any] = {"PartitionKey": instance_id, "RowKey": key, "Seq": next_seq()}
        await self._put_value(entity, "Message", json.dumps(message), f"{instance_id}/inbox/{key}.json")
        await self.inbox.upsert_entity(entity, mode=UpdateMode.REPLACE)

    async def list_inbox(self, instance_id: str) -> list[tuple[str, dict[str, Any]]]:
        rows: list[tuple[str, str, dict[str, Any]]] = []
        async for entity in self.inbox.query_entities("PartitionKey eq @pk", parameters={"pk": instance_id}):
            raw = await self._get_value(entity, "Message")
            if raw is None:
                continue
            rows.append((str(entity.get("Seq", "")), str(entity["RowKey"]), json.loads(raw)))
        rows.sort(key=lambda r: (r[0], r[1]))
        return [(key, msg) for _, key, msg in rows]

    async def inbox_partitions(self) -> set[str]:
        keys: set[str] = set()
        async for entity in self.inbox.list_entities(select=["PartitionKey"]):
            keys.add(str(entity["PartitionKey"]))
        return keys

    async def delete_inbox(self, instance_id: str, keys: list[str]) -> None:
        for key in keys:
            try:
                await self.inbox.delete_entity(instance_id, key)
            except ResourceNotFoundError:
                pass

    # --- purge --------------------------------------------------------------------------------
    async def purge(self, instance_id: str) -> int:
        """Delete the instance row, its history, inbox and large payloads. Returns 1 if it existed."""
        existed = (await self.get_instance(instance_id)) is not None
        for table in (self.history, self.inbox):
            keys = [
                str(e["RowKey"])
                async for e in table.query_entities(
                    "PartitionKey eq @pk", parameters={"pk": instance_id}, select=["RowKey"]
                )
            ]
            for i in range(0, len(keys), 50):
                ops = [("delete", {"PartitionKey": instance_id, "RowKey": k}) for k in keys[i : i + 50]]
                try:
                    await table.submit_transaction(ops)
                except TableTransactionError:
                    for _, entity in ops:
                        try:
                            await table.delete_entity(instance_id, entity["RowKey"])
                        except ResourceNotFoundError:
                            pass
        async for blob in self.large.list_blobs(name_starts_with=f"{instance_id}/"):
            try:
                await self.large.delete_blob(blob.name)
            except ResourceNotFoundError:
                pass
        try:
            await self.instances.delete_entity(instance_id, "")
        except ResourceNotFoundError:
            pass
        return 1 if existed else 0
