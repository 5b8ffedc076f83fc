"""Configuration of the Custom Vision simulator.

`SimulatorConfig` is what callers (tests, the `cvdsr simulate` command, the demo) pass in. It is frozen so
that one object can be shared between threads; the few knobs that may change while the simulator runs
(rate limit, latency, fault rate) are copied into a mutable `RuntimeSettings` owned by the simulator and
changed through `PATCH /_simulator/config`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

DEFAULT_TRAINING_KEY = "local-simulator-training-key"

_SYNTHETIC_SEED = re.compile(r"^synthetic:(\d+):(\d+)$")

#: Upper bounds of the synthetic seed, from the S0 limits (100 projects, 100,000 images per project).
MAX_SYNTHETIC_PROJECTS = 100
MAX_SYNTHETIC_IMAGES = 100_000

TRAINING_VALIDATIONS = ("service", "lenient")


@dataclass(frozen=True)
class SeedSpec:
    """A parsed `--seed` value."""

    kind: Literal["none", "demo", "synthetic"]
    projects: int = 0
    images: int = 0


def parse_seed(value: str) -> SeedSpec:
    """Parse `none`, `demo` or `synthetic:PROJECTS:IMAGES`; raise ValueError with a readable reason."""
    if value in ("none", ""):
        return SeedSpec("none")
    if value == "demo":
        return SeedSpec("demo")
    match = _SYNTHETIC_SEED.match(value)
    if not match:
        raise ValueError(f"seed must be 'none', 'demo' or 'synthetic:PROJECTS:IMAGES', not {value!r}")
    projects, images = int(match.group(1)), int(match.group(2))
    if not 1 <= projects <= MAX_SYNTHETIC_PROJECTS:
        raise ValueError(f"synthetic seed: PROJECTS must be 1..{MAX_SYNTHETIC_PROJECTS}")
    if not 0 <= images <= MAX_SYNTHETIC_IMAGES:
        raise ValueError(f"synthetic seed: IMAGES must be 0..{MAX_SYNTHETIC_IMAGES}")
    return SeedSpec("synthetic", projects, images)


@dataclass(frozen=True)
class SimulatorConfig:
    """Everything that shapes one simulated Custom Vision account.

    Keys are compared in constant time and never logged. `tps`/`burst` describe a token bucket per key
    (None = unlimited). `fault_rate` is the fraction of API requests that fail (500, 503 or a dropped
    connection), chosen deterministically from `random_seed`. URIs of images and exports expire after
    `uri_ttl_seconds`, like SAS URLs. Background deletes (allImages/allIterations) finish
    `background_delete_seconds` after they were accepted; exports finish after `export_seconds`.
    A trained iteration is `Training` for `training_seconds`, then `Completed`. `training_validation`
    chooses TrainProject's rules: `service` (the minimums the service enforces, see
    `training/training_rules.py`) or `lenient` (one tagged image is enough, so small fixtures train).
    """

    training_key: str = DEFAULT_TRAINING_KEY
    prediction_key: str | None = None
    tps: float | None = None
    burst: int | None = None
    latency_ms: float = 0
    fault_rate: float = 0.0
    seed: str = "none"
    uri_ttl_seconds: float = 600
    background_delete_seconds: float = 0.2
    random_seed: int = 0
    export_seconds: float = 0.3
    account_name: str = "cvdsr-sim"
    subscription_id: str = "00000000-0000-4000-8000-00000000c0de"
    resource_group: str = "cvdsr-sim-rg"
    location: str = "westeurope"
    #: The largest QueryPredictions ``maxCount`` accepted (BadRequestPredictionResultsExceededCount above):
    #: the real maximum is not documented, so a client must cope with a lower one.
    prediction_page_cap: int = 256
    #: How long an ARM long-running operation (account delete, purge) runs before it succeeds.
    arm_operation_seconds: float = 0.5
    #: Overrides of the error-code → HTTP status mapping, e.g. (("BadRequestIterationIsPublished", 409),).
    error_status_overrides: tuple[tuple[str, int], ...] = ()
    training_seconds: float = 0.0
    training_validation: Literal["service", "lenient"] = "lenient"

    def __post_init__(self) -> None:
        if not self.training_key:
            raise ValueError("training_key must not be empty")
        if self.prediction_key == "":
            raise ValueError("prediction_key must not be empty (use None for 'same as training key')")
        validate_rate(self.tps, self.burst)
        validate_latency(self.latency_ms)
        validate_fault_rate(self.fault_rate)
        if self.uri_ttl_seconds <= 0:
            raise ValueError("uri_ttl_seconds must be > 0")
        if self.background_delete_seconds < 0 or self.export_seconds < 0:
            raise ValueError("background_delete_seconds and export_seconds must be >= 0")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]{1,62}", self.account_name):
            raise ValueError("account_name must be 2-64 letters, digits or '-'")
        parse_seed(self.seed)
        if self.arm_operation_seconds < 0:
            raise ValueError("arm_operation_seconds must be >= 0")
        if self.training_seconds < 0 or not math.isfinite(self.training_seconds):
            raise ValueError("training_seconds must be >= 0")
        if self.training_validation not in TRAINING_VALIDATIONS:
            raise ValueError(f"training_validation must be one of {', '.join(TRAINING_VALIDATIONS)}")
        if self.prediction_page_cap < 1:
            raise ValueError("prediction_page_cap must be >= 1")

    @property
    def effective_prediction_key(self) -> str:
        """The Prediction-Key the simulator accepts (the training key unless one was given)."""
        return self.prediction_key if self.prediction_key is not None else self.training_key

    @property
    def seed_spec(self) -> SeedSpec:
        return parse_seed(self.seed)


def default_burst(tps: float) -> int:
    """Bucket size when none is given: one second's worth of requests, at least one."""
    return max(1, math.ceil(tps))


def validate_rate(tps: float | None, burst: int | None) -> None:
    if tps is not None and not (tps > 0 and math.isfinite(tps)):
        raise ValueError("tps must be a positive number or None")
    if burst is not None and burst < 1:
        raise ValueError("burst must be >= 1")


def validate_latency(latency_ms: float) -> None:
    if not (latency_ms >= 0 and math.isfinite(latency_ms)):
        raise ValueError("latency_ms must be >= 0")


def validate_fault_rate(fault_rate: float) -> None:
    if not 0.0 <= fault_rate <= 1.0:
        raise ValueError("fault_rate must be between 0 and 1")


@dataclass
class RuntimeSettings:
    """The knobs that `PATCH /_simulator/config` may change while the simulator runs."""

    tps: float | None
    burst: int | None
    latency_ms: float
    fault_rate: float

    @classmethod
    def from_config(cls, config: SimulatorConfig) -> RuntimeSettings:
        return cls(config.tps, config.burst, config.latency_ms, config.fault_rate)

    @property
    def effective_burst(self) -> int | None:
        if self.tps is None:
            return None
        return self.burst if self.burst is not None else default_burst(self.tps)

    def as_json(self) -> dict[str, float | int | None]:
        return {
            "tps": self.tps,
            "burst": self.effective_burst,
            "latency_ms": self.latency_ms,
            "fault_rate": self.fault_rate,
        }
