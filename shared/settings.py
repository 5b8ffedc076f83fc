"""Custom Vision resources configured in app settings.

A request names resources (``"contoso_prod"``), never endpoints or keys. Each name maps to settings
``CUSTOMVISION__<NAME>__ENDPOINT`` and ``CUSTOMVISION__<NAME>__TRAININGKEY`` (in Azure a Key Vault
reference), and optionally ``CUSTOMVISION__<NAME>__ARMRESOURCEID`` for account-level work. Names are
letters, digits and ``_``, matched case-insensitively.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

PREFIX = "CUSTOMVISION__"
RESOURCE_NAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")
_SETTING = re.compile(
    r"^CUSTOMVISION__([A-Za-z0-9_]+?)__(ENDPOINT|TRAININGKEY|ARMRESOURCEID|APIVERSION)$", re.IGNORECASE
)


class SettingsError(ValueError):
    """A resource's settings are missing or malformed. The message names settings, never values."""


@dataclass(frozen=True)
class ResourceSettings:
    """One configured Custom Vision training resource. ``repr`` never shows the key."""

    name: str
    endpoint: str
    training_key: str = field(repr=False)
    arm_resource_id: str | None = None
    api_version: str | None = None


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
        )
    return resources
