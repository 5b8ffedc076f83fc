"""Clients built from app settings: the results container and a Training API client per resource.

Locally ``AzureWebJobsStorage`` is a connection string (Azurite). In Azure the app uses identity-based
connections (``AzureWebJobsStorage__blobServiceUri`` with ``__credential=managedidentity`` and
``__clientId``), so no account key exists in settings at all.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import ResourceExistsError
from azure.storage.blob.aio import BlobServiceClient, ContainerClient

from shared.customvision import CallObserver, RetryPolicy, TrainingClient, shared_rate_limiter
from shared.settings import ResourceSettings, SettingsError, app_settings, load_resources

# Reads of result blobs (digests, the zip package, the audit log) come in 4 MiB ranges. The SDK's
# default first GET takes up to 32 MiB of a blob at once, so memory would grow with the largest JSONL
# or model file instead of staying flat.
DOWNLOAD_RANGE = 4 * 1024 * 1024


def expand_development_storage(connection: str) -> str:
    """``UseDevelopmentStorage=true`` means the emulator's well-known account, as the Functions host reads it."""
    return AZURITE_CONNECTION_STRING if connection.strip().lower() == "usedevelopmentstorage=true" else connection


def azure_credential(client_id: str | None) -> AsyncTokenCredential:
    """The one credential choice: the user-assigned managed identity named by ``client_id`` (what
    the Bicep deploys), else the default chain (a developer's ``az login``). Imported when used, so
    the local paths, which use connection strings, never load azure-identity."""
    from azure.identity.aio import DefaultAzureCredential, ManagedIdentityCredential

    return ManagedIdentityCredential(client_id=client_id) if client_id else DefaultAzureCredential()


def setting(name: str, default: str | None = None, environ: Mapping[str, str] | None = None) -> str | None:
    """A connection setting, named as the Functions host names it (``AzureWebJobsStorage``,
    ``<prefix>__blobServiceUri``...). cvdsr's own settings are ``shared.settings.AppSettings``."""
    env = os.environ if environ is None else environ
    value = env.get(name)
    return value if value not in (None, "") else default


StorageConfig = tuple[str, str, str | None]  # ("connection", string, None) or ("identity", uri, client id)


def storage_config(environ: Mapping[str, str] | None = None) -> StorageConfig:
    """Which storage account holds results: ``CVDSR_RESULTS_STORAGE``, else ``AzureWebJobsStorage``,
    each a connection string or an identity-based connection (``__blobServiceUri``, ``__clientId``)."""
    for prefix in ("CVDSR_RESULTS_STORAGE", "AzureWebJobsStorage"):
        connection = setting(prefix, environ=environ)
        if connection:
            return ("connection", expand_development_storage(connection), None)
        service_uri = setting(f"{prefix}__blobServiceUri", environ=environ)
        if service_uri:
            return ("identity", service_uri, setting(f"{prefix}__clientId", environ=environ))
    raise SettingsError("no storage configured: set AzureWebJobsStorage (or CVDSR_RESULTS_STORAGE)")


def blob_service(environ: Mapping[str, str] | None = None) -> BlobServiceClient:
    """A new client for the results account; the caller closes it (activities share one: ``shared.clients``)."""
    return build_blob_service(storage_config(environ))


def build_blob_service(config: StorageConfig) -> BlobServiceClient:
    kind, target, client_id = config
    if kind == "connection":
        return BlobServiceClient.from_connection_string(
            target, max_single_get_size=DOWNLOAD_RANGE, max_chunk_get_size=DOWNLOAD_RANGE
        )
    credential = azure_credential(client_id)
    return BlobServiceClient(
        target, credential=credential, max_single_get_size=DOWNLOAD_RANGE, max_chunk_get_size=DOWNLOAD_RANGE
    )


def results_container(service: BlobServiceClient, environ: Mapping[str, str] | None = None) -> ContainerClient:
    return service.get_container_client(app_settings(environ).results_container)


async def created_state_container(
    service: BlobServiceClient, environ: Mapping[str, str] | None = None
) -> ContainerClient:
    """The state container, created if it is not there yet (another process creating it too is no error)."""
    container = state_container(service, environ)
    try:
        await container.create_container()
    except ResourceExistsError:
        pass
    return container


def state_container(service: BlobServiceClient, environ: Mapping[str, str] | None = None) -> ContainerClient:
    """``CVDSR_STATE_CONTAINER``: cvdsr's own state (the fingerprint key), outside the results
    container, whose lifecycle rule deletes everything after the retention period."""
    return service.get_container_client(app_settings(environ).state_container)


def evidence_container(service: BlobServiceClient, environ: Mapping[str, str] | None = None) -> ContainerClient | None:
    """``CVDSR_AUDIT_CONTAINER``: a write-once (time-based retention) container that receives a copy of
    ``audit.jsonl`` and of each erasure certificate. Unset: the copies in ``dsr-results`` are the only ones."""
    name = app_settings(environ).audit_container
    return service.get_container_client(name) if name else None


def training_client(
    resource: str, *, observer: CallObserver | None = None, environ: Mapping[str, str] | None = None
) -> TrainingClient:
    """A new client for one configured resource, paced by the process-wide limiter of that resource."""
    return build_training_client(resource_config(resource, environ), observer=observer)


TrainingConfig = tuple[ResourceSettings, str, float]  # the resource, the API version, calls/s


def resource_config(resource: str, environ: Mapping[str, str] | None = None) -> TrainingConfig:
    settings = load_resources(environ).get(resource.lower())
    if settings is None:
        raise SettingsError(f"Custom Vision resource {resource!r} is not configured")
    app = app_settings(environ)
    return (settings, settings.api_version or app.api_version, app.api_rate_per_second)


def build_training_client(config: TrainingConfig, *, observer: CallObserver | None = None) -> TrainingClient:
    settings, api_version, rate = config
    return TrainingClient(
        settings.endpoint,
        settings.training_key,
        api_version=api_version,
        rate_limiter=shared_rate_limiter(settings.name, rate),
        retry=RetryPolicy(),
        observer=observer,
    )


# The well-known development account of the storage emulator (public, documented by Microsoft).
AZURITE_CONNECTION_STRING = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
    "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
    "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;"
    "TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;"
)
