"""Who may submit what: request types and resources per intake channel and per Entra ID caller.

``CVDSR_CALLER_POLICY`` is a JSON document; unset, every channel may submit every request (the
default of earlier versions). Example::

    {"channels": {"storage-queue": {"types": ["export"]},
                  "http": {"types": ["export", "erase"], "resources": ["contoso_prod"]}},
     "principals": {"00000000-0000-0000-0000-000000000001": {"types": ["export", "erase"]},
                    "00000000-0000-0000-0000-000000000002": {"types": ["export"]}}}

- ``channels``: a channel that is listed may submit only the types and resources its rule names
  (``resources`` omitted or ``["*"]``: any configured resource); a channel not listed is open.
  Channels: ``storage-queue``, ``servicebus``, ``http``.
- ``principals``: when present, an HTTP request must come from one of these callers, identified by
  the App Service authentication header ``X-MS-CLIENT-PRINCIPAL-ID`` (the platform sets it after
  validating the caller's Entra ID token and strips it from what clients send; turn App Service
  authentication on, or the header cannot be trusted), and fit that caller's rule too.

A request outside the policy is rejected like any bad request: a record and a ``cvdsr.request.rejected``
event naming the rule, and no work. A policy that does not parse stops intake with ``SettingsError``
(fail closed: no request is taken under a policy nobody can read).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.dsr_request import DsrRequest
from shared.settings import SettingsError, app_settings

POLICY_SETTING = "CVDSR_CALLER_POLICY"
RequestType = Literal["export", "erase"]
REQUEST_TYPES: tuple[RequestType, ...] = ("export", "erase")
PRINCIPAL_ID_HEADER = "x-ms-client-principal-id"
PRINCIPAL_NAME_HEADER = "x-ms-client-principal-name"


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    types: list[RequestType] = Field(default_factory=lambda: list(REQUEST_TYPES))
    resources: list[str] = Field(default_factory=lambda: ["*"])

    def refusal(self, request: DsrRequest, who: str) -> str | None:
        if request.type not in self.types:
            return f"caller policy: {who} may not submit {request.type} requests"
        allowed = {name.lower() for name in self.resources}
        if "*" not in allowed:
            for index, name in enumerate(request.resource_names):
                if name not in allowed:
                    return f"caller policy: {who} may not submit requests for $.resources[{index}]"
        return None


class _Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    channels: dict[Literal["storage-queue", "servicebus", "http"], _Rule] = Field(default_factory=dict)
    principals: dict[str, _Rule] | None = None


@dataclass(frozen=True)
class Caller:
    """The authenticated HTTP caller, as App Service authentication reports it."""

    principal_id: str | None = None
    principal_name: str | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> Caller:
        lowered = {key.lower(): value for key, value in headers.items()}
        return cls(lowered.get(PRINCIPAL_ID_HEADER) or None, lowered.get(PRINCIPAL_NAME_HEADER) or None)


@dataclass(frozen=True)
class CallerPolicy:
    policy: _Policy

    @classmethod
    def from_settings(cls, environ: Mapping[str, str] | None = None) -> CallerPolicy:
        configured = app_settings(environ).caller_policy
        if configured is None:
            return cls(_Policy())
        try:
            return cls(_Policy.model_validate(json.loads(configured.get_secret_value())))
        except (ValueError, ValidationError) as error:
            problems = error.error_count() if isinstance(error, ValidationError) else 1
            raise SettingsError(f"{POLICY_SETTING} is not a valid caller policy ({problems} problem(s))") from None

    def refusals(self, request: DsrRequest, channel: str, caller: Caller | None) -> list[str]:
        """Why the policy does not allow this request from this caller (empty: it does)."""
        reasons: list[str] = []
        rule = self.policy.channels.get(channel)  # type: ignore[call-overload]
        if rule is not None and (refused := rule.refusal(request, f"the {channel} channel")):
            reasons.append(refused)
        if channel == "http" and self.policy.principals is not None:
            principal = caller.principal_id if caller else None
            allowed = self.policy.principals.get(principal) if principal else None
            if allowed is None:
                reasons.append("caller policy: the caller is not authenticated as an allowed principal")
            elif refused := allowed.refusal(request, "this caller"):
                reasons.append(refused)
        return reasons
