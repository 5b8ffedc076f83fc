"""host.json and scale settings against the Training API's limit of 10 calls/s per key.

The app paces itself per Custom Vision resource and per process (CVDSR_API_RATE_PER_SECOND, default
8, a token bucket shared by every activity of the process). Activities run at most
maxConcurrentActivityFunctions at a time per instance, and Flex Consumption runs up to
maximumInstanceCount instances, each with its own bucket. So the worst case per resource is
rate x instances, which must stay within 10; and an instance should not run more activities than its
bucket hands out calls per second, or each activity waits longer for its next call than it works.
docs/deploy.md explains the numbers.
"""

from __future__ import annotations

import pytest

from shared.customvision.throttle import ADAPTIVE
from shared.settings import AppSettings

from . import bicep
from .template import MAIN, app_settings, deploy, host_json, local_settings_sample

DEFAULT_API_RATE = AppSettings.model_fields["api_rate_per_second"].default

API_LIMIT_PER_SECOND = 10  # Custom Vision Training API, per key (shared/specs notes; README)


def durable() -> dict[str, object]:
    extensions = host_json()["extensions"]
    section: dict[str, object] = extensions["durableTask"]
    return section


def test_extension_bundle_is_v4() -> None:
    bundle = host_json()["extensionBundle"]
    assert bundle["id"] == "Microsoft.Azure.Functions.ExtensionBundle"
    assert bundle["version"] == "[4.*, 5.0.0)"  # what Flex Consumption requires for non-.NET apps
    assert host_json()["version"] == "2.0"


def test_task_hub_name_comes_from_a_setting() -> None:
    assert durable()["hubName"] == "%CVDSR_TASK_HUB%"
    assert bicep.text(app_settings(deploy())["CVDSR_TASK_HUB"]) == "cvdsr"
    assert local_settings_sample()["CVDSR_TASK_HUB"]


def test_activity_concurrency_fits_the_per_process_rate() -> None:
    activities = durable()["maxConcurrentActivityFunctions"]
    orchestrators = durable()["maxConcurrentOrchestratorFunctions"]
    assert isinstance(activities, int)
    assert isinstance(orchestrators, int)
    assert 1 <= activities <= DEFAULT_API_RATE, "each running activity should get at least one call/s"
    assert 1 <= orchestrators <= activities
    assert DEFAULT_API_RATE < API_LIMIT_PER_SECOND, "one process alone must leave headroom for retries"


def maximum_instance_count_bounds() -> tuple[int, int]:
    declaration = bicep.parse(MAIN.read_text(encoding="utf-8"))
    (param,) = [d for d in declaration if d.keyword == "param" and d.name == "maximumInstanceCount"]
    bounds = {}
    for decorator in param.decorators:
        if decorator.kind == "call" and decorator.value in ("minValue", "maxValue"):
            bounds[decorator.value] = decorator.children[1].value
    assert param.value is not None
    assert param.value.value == 1, "scale-out should default to one instance"
    return bounds["minValue"], bounds["maxValue"]


def test_default_deployment_is_one_instance_at_the_default_rate() -> None:
    deployment = deploy()
    assert deployment.params["maximumInstanceCount"] == 1  # main.parameters.json's default too
    assert bicep.text(app_settings(deployment)["CVDSR_API_RATE_PER_SECOND"]) == str(int(DEFAULT_API_RATE))


@pytest.mark.parametrize("count", range(maximum_instance_count_bounds()[0], maximum_instance_count_bounds()[1] + 1))
def test_every_allowed_scale_out_stays_under_the_api_limit(count: int) -> None:
    """Up to 8 instances the ceilings alone fit in the key's 10 calls/s; beyond, the adaptive pacing
    does, because every process can shrink to its floor and the floors together still fit."""
    rate = float(bicep.text(app_settings(deploy(maximumInstanceCount=count))["CVDSR_API_RATE_PER_SECOND"]))
    assert rate >= 1
    assert rate <= DEFAULT_API_RATE
    if count <= DEFAULT_API_RATE:
        assert rate * count <= API_LIMIT_PER_SECOND, f"{count} instances x {rate}/s exceed the API's 10 calls/s"
    assert ADAPTIVE.floor * count <= API_LIMIT_PER_SECOND, f"{count} instances at the floor exceed 10 calls/s"
