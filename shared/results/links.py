"""Time-limited read links (SAS) to a result file, made when the completion event is sent.

With an account key (Azurite, or a key-based connection) it is a service SAS; with a managed identity
it is a user-delegation SAS, signed by a key that Entra ID issues for the link's lifetime. Links are
created only for the event that carries them: never logged, never stored, never returned to the
orchestration.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from azure.storage.blob import BlobSasPermissions, generate_blob_sas
from azure.storage.blob.aio import BlobServiceClient


async def read_link(service: BlobServiceClient, container: str, blob: str, lifetime: timedelta) -> tuple[str, str]:
    """``(url, expires_at)`` for reading one blob."""
    now = datetime.now(UTC)
    expiry = now + lifetime
    account_name = service.account_name
    assert account_name is not None
    credential = service.credential
    account_key = getattr(credential, "account_key", None)
    signer: dict[str, Any] = (
        {"account_key": account_key}
        if account_key
        else {"user_delegation_key": await service.get_user_delegation_key(now - timedelta(minutes=5), expiry)}
    )
    token = generate_blob_sas(
        account_name,
        container,
        blob,
        permission=BlobSasPermissions(read=True),
        expiry=expiry,
        start=now - timedelta(minutes=5),
        **signer,
    )
    # The blob name is a path: each segment is percent-encoded, as the service decodes it once.
    url = f"{service.url.rstrip('/')}/{container}/{quote(blob, safe='/')}?{token}"
    return url, expiry.isoformat().replace("+00:00", "Z")
