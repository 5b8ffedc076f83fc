"""The app's settings, read and validated once per process, with their defaults in one place.

- ``AppSettings``: every ``CVDSR_*`` setting (pydantic-settings). A bad value stops the process at
  start (``function_app.py`` reads the settings when it builds the app) with ``SettingsError`` naming
  the setting and the rule, never the value: a queue message then waits in its queue instead of being
  taken under a configuration nobody meant.
- ``load_resources``: the Custom Vision resources. A request names resources (``"contoso_prod"``),
  never endpoints or keys. Each name maps to ``CUSTOMVISION__<NAME>__ENDPOINT`` and
  ``CUSTOMVISION__<NAME>__TRAININGKEY`` (in Azure a Key Vault reference), optionally
  ``CUSTOMVISION__<NAME>__ARMRESOURCEID`` for account-level work and ``CUSTOMVISION__<NAME>__PRIVACY_INFO``
  (a JSON file, ``shared.privacy_info``) for the Art. 15 information of the report. Names are letters, digits and ``_``,
  matched case-insensitively.

Connections (``AzureWebJobsStorage``, ``ServiceBusConnection`` and their identity-based forms) follow
the Functions host's own naming and are read by ``shared.connections``.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, StringConstraints, ValidationError, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from shared.privacy_info import PrivacyInfo, read_privacy_info

PREFIX = "CUSTOMVISION__"
SETTINGS_PREFIX = "CVDSR_"
RESOURCE_NAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")
_SETTING = re.compile(
    r"^CUSTOMVISION__([A-Za-z0-9_]+?)__(ENDPOINT|TRAININGKEY|ARMRESOURCEID|APIVERSION"
    r"|SUBJECT_METADATA_KEY|SUBJECT_TAG|SUBJECT_HASH|SUBJECT_HASH_SECRET|SUBJECT_HASH_ENCODING|PRIVACY_INFO)$",
    re.IGNORECASE,
)
SUBJECT_HASHES = ("none", "sha256", "hmac-sha256")
SUBJECT_ENCODINGS = ("hex", "base64")
MAX_WIDTH = 64  # activities of one orchestration at once: beyond this, history grows faster than work
DEFAULT_PROJECT_WIDTH = {"export": 2, "erase": 4}  # an erase waits on the service more than it reads

# A blob container name, as Azure Storage accepts it.
ContainerName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9](?:-?[a-z0-9])+$", min_length=3, max_length=63)]
Width = Annotated[int, Field(ge=1, le=MAX_WIDTH)]


class SettingsError(ValueError):
    """A resource's settings are missing or malformed. The message names settings, never values."""


@dataclass(frozen=True)
class SubjectMapping:
    """How a privacy platform's identifier of a person finds their images in one resource
    (``shared.connectors.identity``): an image metadata key, or a tag name template with ``{value}``,
    matched with the identifier normalised and optionally hashed. ``repr`` never shows the secret."""

    metadata_key: str | None = None
    tag_template: str | None = None
    hash: str = "none"  # one of SUBJECT_HASHES
    secret: str | None = field(default=None, repr=False)
    encoding: str = "hex"  # one of SUBJECT_ENCODINGS


@dataclass(frozen=True)
class ResourceSettings:
    """One configured Custom Vision training resource. ``repr`` never shows the key."""

    name: str
    endpoint: str
    training_key: str = field(repr=False)
    arm_resource_id: str | None = None
    api_version: str | None = None
    subject: SubjectMapping | None = None
    privacy: PrivacyInfo | None = None  # CUSTOMVISION__<NAME>__PRIVACY_INFO, read and checked at load


RESOURCE_LIST = r"^\s*[A-Za-z0-9_]+(\s*,\s*[A-Za-z0-9_]+)*\s*$"  # comma-separated resource names
HttpsOrLocalUrl = Annotated[str, StringConstraints(pattern=r"^https?://[^\s/?#]+[^\s?#]*$", max_length=2048)]


class ConnectorSettings(BaseModel):
    """What every connector's section has: the Custom Vision resources searched for the person."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    resources: Annotated[str, StringConstraints(pattern=RESOURCE_LIST)]  # comma-separated

    @property
    def resource_names(self) -> list[str]:
        return [name.strip().lower() for name in self.resources.split(",")]


class TranscendSettings(ConnectorSettings):
    """``CVDSR_TRANSCEND__*``: the Transcend "Server Webhook" integration (``shared.connectors.transcend``,
    docs/connectors.md). Present only when ``CVDSR_TRANSCEND__SOMBRA_URL`` (or any of its settings) is set."""

    # Multi-tenant (https://multi-tenant.sombra.transcend.io), Transcend-hosted or self-hosted Sombra.
    sombra_url: HttpsOrLocalUrl
    api_key: SecretStr  # the integration's Transcend API key (Bearer on every Sombra call)
    sombra_api_key: SecretStr | None = None  # self-hosted Sombra only (x-sombra-authorization)
    audience: Annotated[str, StringConstraints(min_length=1, max_length=256)]  # the organization URI: the token's aud
    public_key: str | None = None  # PEM; otherwise fetched from Sombra and kept for an hour
    # Which identifier finds the person: the signed core identifier, or the (unsigned) profile one.
    identifier: Literal["core", "profile"] = "core"
    # How an access request's image files reach Transcend: each file, the export package, or not at all.
    files: Literal["files", "package", "none"] = "files"
    records_datapoint: Annotated[str, StringConstraints(min_length=1, max_length=128)] = "images"
    files_datapoint: Annotated[str, StringConstraints(min_length=1, max_length=128)] = "image_files"
    # A token older than this (by its iat) is refused; replays inside it are refused by their jti.
    max_token_age_seconds: int = Field(3600, ge=60, le=86_400)
    # Older self-hosted Sombra needs profiles[].profileId (deprecated since Sombra 7.182/7.199).
    send_profile_id: bool = False

    @property
    def sombra(self) -> str:
        return self.sombra_url.rstrip("/")


class DataGrailSettings(ConnectorSettings):
    """``CVDSR_DATAGRAIL__*``: DataGrail's webhook integration (``shared.connectors.datagrail``,
    docs/connectors.md). DataGrail's DSR webhook contract is largely unconfirmed, so its recipe and field
    names are settings, with the documented Data Broker recipe and DataGrail's own field names as defaults."""

    secret: SecretStr  # the shared HMAC secret of X-Webhook-Signature
    # What is signed: "<timestamp>:<raw body>" (DataGrail's published recipe), "<timestamp>.<raw body>" or the body.
    signed: Literal["timestamp:body", "timestamp.body", "body"] = "timestamp:body"
    signature_encoding: Literal["base64", "hex"] = "base64"
    max_skew_seconds: int = Field(300, ge=30, le=3600)
    # Where results may be posted: the callback URL arrives in the (signed) body; comma-separated hosts.
    callback_hosts: str = "*.datagrail.io"
    callback_token: SecretStr | None = None  # sent as a Bearer token on the callback, when DataGrail asks for one
    # Dotted paths into the body: the request type and the person's identifiers (several combine).
    type_field: str = "privacy_right"
    identifier_fields: str = "identifiers.email,identifiers.phone_number,email"
    callback_field: str = "callback_url"


class OneTrustSettings(ConnectorSettings):
    """``CVDSR_ONETRUST__*``: a OneTrust workflow's webhook in, the DSAR API out
    (``shared.connectors.onetrust``, docs/connectors.md). OneTrust workflows define their own payload,
    so its field names are settings; the defaults are the names of OneTrust's own API."""

    base_url: HttpsOrLocalUrl  # https://app.onetrust.com, https://app-eu.onetrust.com, ...
    client_id: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    client_secret: SecretStr  # OAuth 2 client credentials (scopes DSAR and ATTACHMENT)
    webhook_secret: SecretStr  # what the workflow sends as "Authorization: Bearer <secret>"
    ref_field: str = "requestQueueRefId"
    subtask_field: str = "subtaskId"
    identifier_fields: str = "email"
    types_field: str = "requestTypes"
    # The tenant's request type names (case-insensitive): which become an export, which an erase.
    export_types: str = "Get My Data,Access,Data Access"
    erase_types: str = "Data Deletion,Delete My Data,Erasure"
    # The file attached to the completed subtask (a CSV of the person's images, or the erasure
    # certificate as text: OneTrust's documents API lists csv and txt), or none.
    attach: Literal["files", "none"] = "files"

    @property
    def api(self) -> str:
        return self.base_url.rstrip("/")


class FidesSettings(ConnectorSettings):
    """``CVDSR_FIDES__*``: a Fides server drives cvdsr through the SaaS connector shipped in
    ``integrations/fides/`` (``shared.connectors.fides``, docs/connectors.md)."""

    token: SecretStr  # what the Fides connection sends as "Authorization: Bearer <api_key>"
    # The Fides server's base URL: where the callback strategy's results go (its reply-to path is relative).
    url: HttpsOrLocalUrl | None = None
    files: bool = True  # an access request also exports the image files (and a package) into cvdsr's results

    @property
    def server(self) -> str | None:
        return self.url.rstrip("/") if self.url else None


class ServiceNowSettings(BaseModel):
    """``CVDSR_SERVICENOW__*``: the task a request names (``ticket.system: servicenow``) is updated
    through the Table and Attachment APIs (``shared.connectors.servicenow``, docs/connectors.md)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    instance_url: HttpsOrLocalUrl  # https://<instance>.service-now.com
    table: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,80}$")]  # the privacy task table (per instance)
    username: str | None = None  # Basic authentication ...
    password: SecretStr | None = None
    token: SecretStr | None = None  # ... or an OAuth access token
    # The task's state codes (per table; unconfirmed): unset leaves the state alone.
    state_succeeded: str | None = None
    state_failed: str | None = None
    attach: Literal["files", "none"] = "files"  # the package or the erasure certificate

    @model_validator(mode="after")
    def _one_credential(self) -> ServiceNowSettings:
        if (self.token is None) == (self.username is None or self.password is None):
            raise ValueError("set USERNAME and PASSWORD, or TOKEN")
        return self

    @property
    def instance(self) -> str:
        return self.instance_url.rstrip("/")


class SigningSettings(BaseModel):
    """``CVDSR_SIGNING__*``: the key that signs erasure certificates (``shared.signing``): a Key Vault
    key (Azure) or a local PEM file (development), exactly one."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key_file: str | None = None  # an EC P-256 private key, PEM
    key_vault_key_id: HttpsOrLocalUrl | None = None  # https://<vault>.vault.azure.net/keys/<name>/<version>

    @model_validator(mode="after")
    def _one_key(self) -> SigningSettings:
        if (self.key_file is None) == (self.key_vault_key_id is None):
            raise ValueError("set KEY_FILE or KEY_VAULT_KEY_ID, exactly one")
        return self


class AppSettings(BaseSettings):
    """Every ``CVDSR_<FIELD>`` app setting. An empty value counts as unset, as the portal writes it.
    A section of a connector is ``CVDSR_<PLATFORM>__<FIELD>``."""

    model_config = SettingsConfigDict(
        env_prefix=SETTINGS_PREFIX,
        env_nested_delimiter="__",
        case_sensitive=False,
        env_ignore_empty=True,
        extra="ignore",
        frozen=True,
    )

    # Where results, cvdsr's own state and the write-once evidence copies go.
    results_container: ContainerName = "dsr-results"
    state_container: ContainerName = "cvdsr-state"
    audit_container: ContainerName | None = None
    # The request register (CCPA Regulations §7101), kept 24 months: ``shared.register``.
    register_container: ContainerName = "dsr-register"
    # The Training API: version, and calls/s per resource and process (the API allows 10 per key).
    api_version: Literal["3.3", "3.4-preview"] = "3.3"
    api_rate_per_second: float = Field(8.0, gt=0)
    # Fan-out: projects per resource at once (default by request type) and pages per project at once.
    project_parallelism: Width | None = None
    page_parallelism: Width = 8
    # A request still running after this long is ended by the sweeper.
    request_timeout_hours: float = Field(168.0, gt=0)
    export_zip: bool = False
    # Outcome events: the read link to the results, and the channels.
    result_links: Literal["sas", "none"] = "sas"
    result_link_hours: float = Field(72.0, gt=0)
    events_servicebus: str = "ServiceBusConnection"  # the connection's setting prefix
    events_topic: str = "dsr-events"
    events_queue: str = "dsr-events"
    events_queue_encoding: Literal["base64", "none"] = "base64"
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    # Lifecycle events (``shared.events.lifecycle``): acknowledged at intake, and reminders from the
    # sweeper this many days before a request's due date (0: none) and once it is overdue.
    lifecycle_events: bool = True
    due_soon_days: int = Field(7, ge=0, le=90)
    # Which callback hosts a request may name (``shared.events.callbacks``), comma-separated.
    callback_hosts: str = ""
    callback_dev_hosts: str = ""
    # Trust: the HMAC key of fingerprints and bindings, and who may submit what.
    fingerprint_key: SecretStr | None = None
    caller_policy: SecretStr | None = None  # JSON; it names principals, so it is not echoed either
    # Account-level work through Azure Resource Manager.
    arm_endpoint: str = "https://management.azure.com"
    arm_location: str | None = None
    # Privacy platforms (``shared.connectors``).
    transcend: TranscendSettings | None = None
    datagrail: DataGrailSettings | None = None
    onetrust: OneTrustSettings | None = None
    fides: FidesSettings | None = None
    servicenow: ServiceNowSettings | None = None
    # Who signs erasure certificates (unset: certificates carry the SHA-256 seal only).
    signing: SigningSettings | None = None

    def project_width(self, request_type: str) -> int:
        return self.project_parallelism or DEFAULT_PROJECT_WIDTH[request_type]

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """App settings arrive as environment variables (the Functions host sets them), or as a mapping
        in tests and in the local CLI (``local.settings.json``); no dotenv or secrets directory."""
        return (init_settings, _EnvironSource(settings_cls))


# The mapping ``app_settings(environ)`` reads instead of the process environment, while it builds.
_environ: ContextVar[Mapping[str, str] | None] = ContextVar("cvdsr_settings_environ", default=None)


class _EnvironSource(EnvSettingsSource):
    def _load_env_vars(self) -> Mapping[str, str | None]:
        environ = _environ.get()
        if environ is None:
            return super()._load_env_vars()
        return {name.lower(): value for name, value in environ.items() if value != ""}


def app_settings(environ: Mapping[str, str] | None = None) -> AppSettings:
    """The settings of ``environ`` (default: the process environment), validated.

    The process environment is read once per distinct ``CVDSR_*`` configuration (in Azure: once per
    process); a mapping (tests, the local CLI) is validated by the same model."""
    if environ is not None:
        token = _environ.set(environ)
        try:
            return _validated(AppSettings)
        finally:
            _environ.reset(token)
    return _from_process(_own_settings(os.environ))


def _own_settings(environ: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in environ.items() if k.upper().startswith(SETTINGS_PREFIX)))


@functools.lru_cache(maxsize=4)
def _from_process(_key: tuple[tuple[str, str], ...]) -> AppSettings:
    return _validated(AppSettings)


def _validated(build: Callable[[], AppSettings]) -> AppSettings:
    try:
        return build()
    except ValidationError as error:
        # loc and msg only: pydantic's own text would echo the input, and a setting may be a secret.
        problems = "; ".join(
            f"{SETTINGS_PREFIX}{'__'.join(str(part) for part in e['loc']).upper()}: {e['msg']}" for e in error.errors()
        )
        raise SettingsError(f"invalid app settings: {problems}") from None


def load_resources(environ: Mapping[str, str] | None = None) -> dict[str, ResourceSettings]:
    """Every configured resource, keyed by lower-case name.

    A resource with an endpoint but no key (or the reverse) is a configuration error: it is reported
    here, at load, rather than when a request for it arrives.
    """
    env = os.environ if environ is None else environ
    found: dict[str, dict[str, str]] = {}
    for setting, value in env.items():
        match = _SETTING.match(setting)
        if match:
            found.setdefault(match.group(1).lower(), {})[match.group(2).upper()] = value.strip()
    resources: dict[str, ResourceSettings] = {}
    for name, values in sorted(found.items()):
        missing = [part for part in ("ENDPOINT", "TRAININGKEY") if not values.get(part)]
        if missing:
            settings = ", ".join(f"{PREFIX}{name.upper()}__{part}" for part in missing)
            raise SettingsError(f"Custom Vision resource {name!r} is missing setting(s): {settings}")
        endpoint = values["ENDPOINT"]
        if not endpoint.startswith(("https://", "http://")):
            raise SettingsError(f"{PREFIX}{name.upper()}__ENDPOINT must be an http(s) URL")
        resources[name] = ResourceSettings(
            name=name,
            endpoint=endpoint.rstrip("/"),
            training_key=values["TRAININGKEY"],
            arm_resource_id=values.get("ARMRESOURCEID") or None,
            api_version=values.get("APIVERSION") or None,
            subject=_subject_mapping(name, values),
            privacy=_privacy_info(name, values),
        )
    return resources


def _privacy_info(name: str, values: Mapping[str, str]) -> PrivacyInfo | None:
    """The resource's Art. 15 information file, checked like every other setting: a file that is
    missing or does not match its schema stops here, naming the setting and the rule, not the path."""
    path = values.get("PRIVACY_INFO") or None
    if path is None:
        return None
    try:
        return read_privacy_info(path)
    except ValueError as error:
        raise SettingsError(f"{PREFIX}{name.upper()}__PRIVACY_INFO {error}") from None


def _subject_mapping(name: str, values: Mapping[str, str]) -> SubjectMapping | None:
    """The resource's identity mapping, checked whole: a half-configured mapping would match nobody
    (or, with a forgotten secret, match by a hash anyone can compute)."""

    def named(part: str) -> str:
        return f"{PREFIX}{name.upper()}__{part}"

    key = values.get("SUBJECT_METADATA_KEY") or None
    template = values.get("SUBJECT_TAG") or None
    hashing = (values.get("SUBJECT_HASH") or "none").lower()
    secret = values.get("SUBJECT_HASH_SECRET") or None
    encoding = (values.get("SUBJECT_HASH_ENCODING") or "hex").lower()
    if key is None and template is None:
        if any(values.get(part) for part in ("SUBJECT_HASH", "SUBJECT_HASH_SECRET", "SUBJECT_HASH_ENCODING")):
            raise SettingsError(
                f"{named('SUBJECT_HASH')} needs {named('SUBJECT_METADATA_KEY')} or {named('SUBJECT_TAG')}"
            )
        return None
    if key is not None and template is not None:
        raise SettingsError(f"set one of {named('SUBJECT_METADATA_KEY')} and {named('SUBJECT_TAG')}, not both")
    if template is not None and template.count("{value}") != 1:
        raise SettingsError(f"{named('SUBJECT_TAG')} must hold {{value}} exactly once")
    if hashing not in SUBJECT_HASHES:
        raise SettingsError(f"{named('SUBJECT_HASH')} must be one of {', '.join(SUBJECT_HASHES)}")
    if encoding not in SUBJECT_ENCODINGS:
        raise SettingsError(f"{named('SUBJECT_HASH_ENCODING')} must be one of {', '.join(SUBJECT_ENCODINGS)}")
    if (hashing == "hmac-sha256") != (secret is not None):
        raise SettingsError(f"{named('SUBJECT_HASH_SECRET')} is needed with hmac-sha256, and only then")
    return SubjectMapping(key, template, hashing, secret, encoding)
