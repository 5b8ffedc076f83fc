"""The deployment as ``azd up`` would provision it, evaluated offline, and what the app binds to."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from . import bicep

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
MAIN = INFRA / "main.bicep"
PARAMETERS = INFRA / "main.parameters.json"

# What `azd env new test --location westeurope` plus `azd auth login` give azd to substitute.
AZD_ENVIRONMENT = {"AZURE_ENV_NAME": "test", "AZURE_LOCATION": "westeurope", "AZURE_PRINCIPAL_ID": ""}

CONTOSO = {
    "name": "contoso_prod",
    "endpoint": "https://contoso-prod.cognitiveservices.azure.com",
    "armResourceId": "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-vision"
    "/providers/Microsoft.CognitiveServices/accounts/contoso-prod",
}
FABRIKAM = {"name": "Fabrikam", "endpoint": "https://fabrikam.cognitiveservices.azure.com", "keySecretName": "fab-key"}


def azd_parameters(**overrides: bicep.Value) -> dict[str, bicep.Value]:
    parameters = bicep.azd_parameters(PARAMETERS, AZD_ENVIRONMENT)
    parameters.update(overrides)
    return parameters


@cache
def _deploy(overrides: str) -> bicep.Deployment:
    return bicep.evaluate(MAIN, azd_parameters(**json.loads(overrides)))


def deploy(**overrides: Any) -> bicep.Deployment:
    """``main.bicep`` with main.parameters.json as azd resolves it, plus ``overrides`` (cached)."""
    return _deploy(json.dumps(overrides, sort_keys=True))


def resources(deployment: bicep.Deployment, type_: str) -> list[bicep.ResourceInstance]:
    return [r for r in deployment.all_resources() if r.type.lower() == type_.lower()]


def one(deployment: bicep.Deployment, type_: str) -> bicep.ResourceInstance:
    found = resources(deployment, type_)
    assert len(found) == 1, f"expected one {type_}, found {len(found)}"
    return found[0]


def child_names(deployment: bicep.Deployment, type_: str, parent: bicep.ResourceInstance) -> set[str]:
    """Names of the ``type_`` resources whose full name is ``<parent>/…/<name>``."""
    prefix = bicep.render(parent.full_name) + "/"
    names = set()
    for resource in resources(deployment, type_):
        full = bicep.render(resource.full_name)
        if full.startswith(prefix):
            names.add(full.rsplit("/", 1)[1])
    return names


def function_app(deployment: bicep.Deployment) -> bicep.ResourceInstance:
    return one(deployment, "Microsoft.Web/sites")


def app_settings(deployment: bicep.Deployment) -> dict[str, bicep.Value]:
    site_config = function_app(deployment).properties["siteConfig"]
    assert isinstance(site_config, dict)
    entries = site_config["appSettings"]
    assert isinstance(entries, list), f"appSettings must evaluate to a list, got {bicep.render(entries)[:200]}"
    settings: dict[str, bicep.Value] = {}
    for entry in entries:
        assert isinstance(entry, dict)
        name = entry["name"]
        assert isinstance(name, str), f"setting names must be known when deploying: {bicep.render(name)}"
        assert name.lower() not in {key.lower() for key in settings}, f"setting {name} is set twice"
        settings[name] = entry["value"]
    return settings


def ref_key(resource: bicep.ResourceInstance, path: str) -> str:
    """The opaque key of ``<resource>.<path>`` (e.g. ``properties.primaryEndpoints.queue``)."""
    return f"{bicep.render(bicep.ResourceRef(resource))}.{path}"


def iter_values(value: bicep.Value) -> Iterator[bicep.Value]:
    yield value
    if isinstance(value, list):
        for item in value:
            yield from iter_values(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from iter_values(item)


_BINDINGS_SCRIPT = """
import json, function_app
out = []
for function in function_app.app.get_functions():
    bindings = []
    for binding in function.get_bindings():
        bindings.append({k: (v if isinstance(v, (str, int, bool, type(None))) else str(v))
                         for k, v in binding.get_dict_repr().items()})
    out.append({"name": function.get_function_name(), "bindings": bindings})
print(json.dumps(out))
"""


@cache
def function_bindings() -> list[dict[str, Any]]:
    """Every function's bindings as the worker indexes them (``app.get_functions()``).

    In a subprocess: the Durable app raises if ``get_functions()`` runs twice in one process, and other
    suites may index it too.
    """
    completed = subprocess.run(
        [sys.executable, "-c", _BINDINGS_SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    functions: list[dict[str, Any]] = json.loads(completed.stdout)
    return functions


def local_settings_sample() -> dict[str, str]:
    document = json.loads((ROOT / "local.settings.sample.json").read_text(encoding="utf-8"))
    values: dict[str, str] = document["Values"]
    return values


def host_json() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((ROOT / "host.json").read_text(encoding="utf-8"))
    return document
