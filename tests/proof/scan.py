"""(d) The secret scan: every place the system writes, searched for what must never be there."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient

SIG = re.compile(r"sig=([^&\"'\s\\]+)")


def places(connection_string: str, logs: str, events: Iterable[dict[str, Any]]) -> dict[str, str]:
    """Logs, every table (orchestration history and state), every blob but packages, every event
    (with its one allowed signature, the result link, taken out)."""
    texts = {"logs": logs}
    tables = TableServiceClient.from_connection_string(connection_string)
    for table in tables.list_tables():
        entities = tables.get_table_client(table.name).list_entities()
        texts[f"table {table.name}"] = "\n".join(json.dumps(dict(e), default=str) for e in entities)
    blobs = BlobServiceClient.from_connection_string(connection_string)
    for container in blobs.list_containers():
        client = blobs.get_container_client(container.name)
        for blob in client.list_blobs():
            if blob.name.endswith(".zip"):
                continue  # compressed; its members are scanned as blobs
            body = client.download_blob(blob.name).readall()
            texts[f"blob {container.name}/{blob.name}"] = body.decode("utf-8", errors="replace")
    for index, event in enumerate(events):
        stripped = json.loads(json.dumps(event))
        result = (stripped.get("data") or {}).get("result") or {}
        result.pop("package_url", None)
        texts[f"event {index}"] = json.dumps(stripped)
    return texts


def hits(texts: dict[str, str], needles: Iterable[str]) -> list[str]:
    """``where: what`` for every needle found, and every SAS signature that is not redacted."""
    wanted = [needle for needle in needles if needle]
    found = []
    for where, text in texts.items():
        found += [f"{where}: {needle[:6]}…" for needle in wanted if needle in text]
        found += [f"{where}: a SAS signature" for s in SIG.findall(text) if s != "REDACTED"]
    return found
