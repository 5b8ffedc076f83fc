"""What one benchmark is asked to do: the request kinds and data kinds, the seeds, the options of a run,
and the error it reports when it cannot run. Shared by the run, its workers and the command line."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from local.simulator.config import parse_seed

REPO = Path(__file__).resolve().parents[2]
RESOURCE = "bench"
KINDS = ("export", "erase")
DATA_KINDS = ("projects", "iterations", "performance", "tags", "images", "image_files", "exports", "predictions")


class BenchError(RuntimeError):
    """The benchmark could not run (a component did not start, the request did not finish)."""


def include_kinds(value: str) -> list[str]:
    """The ``--include`` value (of ``cvdsr bench`` and of the baseline worker): known data kinds only."""
    kinds = [kind.strip() for kind in value.split(",") if kind.strip()]
    unknown = [kind for kind in kinds if kind not in DATA_KINDS]
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(f"--include takes a comma-separated list of {', '.join(DATA_KINDS)}")
    return kinds


@dataclass(frozen=True)
class BenchOptions:
    kind: str
    seed: str = "synthetic:5:10000"
    tps: float = 10.0
    latency_ms: float = 20.0
    baseline: bool = True
    include: tuple[str, ...] | None = None
    timeout: float = 3600.0
    small_seed: str | None = None
    app_rate: float | None = None
    copy_floor: bool = True

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> BenchOptions:
        return cls(
            kind=args.kind,
            seed=args.seed,
            tps=args.tps,
            latency_ms=args.latency_ms,
            baseline=not args.no_baseline,
            include=tuple(args.include) if args.include else None,
            timeout=args.timeout,
            small_seed=args.small_seed,
            app_rate=args.app_rate,
            copy_floor=not args.no_copy_floor,
        )


def default_small_seed(seed: str) -> str | None:
    """The same projects with a fifth of the images (None when there is nothing smaller to compare)."""
    spec = parse_seed(seed)
    if spec.kind != "synthetic" or spec.images < 5:
        return None
    return f"synthetic:{spec.projects}:{spec.images // 5}"


def seed_images(seed: str) -> int | None:
    spec = parse_seed(seed)
    return spec.projects * spec.images if spec.kind == "synthetic" else None
