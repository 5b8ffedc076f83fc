"""The ``cvdsr bench`` command: its flags, running it (SIGTERM and Ctrl-C stop what it started), and
printing the figures; ``main`` also dispatches the two worker processes (``python -m local.bench``)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import threading
import time
from collections.abc import Iterator
from types import FrameType

from local.bench import report
from local.bench.baseline import WORKER_FLAG, baseline_worker
from local.bench.floor import FLOOR_WORKER_FLAG, copy_floor_worker
from local.bench.options import DATA_KINDS, KINDS, BenchError, BenchOptions, include_kinds
from local.bench.run import run_bench
from local.simulator.config import parse_seed


def _seed(value: str) -> str:
    try:
        spec = parse_seed(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if spec.kind == "none":
        raise argparse.ArgumentTypeError("a benchmark needs data: use demo or synthetic:PROJECTS:IMAGES")
    return value


def _positive(value: str) -> float:
    number = float(value)  # argparse reports a ValueError as "invalid _positive value: ..."
    if not number > 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return number


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", choices=KINDS, help="which request to measure")
    parser.add_argument(
        "--seed", type=_seed, default="synthetic:5:10000", help="the simulated account (default: %(default)s)"
    )
    parser.add_argument(
        "--tps", type=_positive, default=10.0, help="simulator rate limit, calls/s per key (default: %(default)s)"
    )
    parser.add_argument(
        "--latency-ms", type=float, default=20.0, help="simulator latency per API call (default: %(default)s)"
    )
    parser.add_argument(
        "--no-baseline",
        action="store_true",
        help="skip the smaller-account run (memory growth) and the sequential SDK script",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON document")
    parser.add_argument(
        "--timeout", type=_positive, default=3600.0, help="seconds to wait for each run (default: %(default)s)"
    )
    parser.add_argument(
        "--include",
        type=include_kinds,
        default=None,
        help=f"export only these data kinds, comma-separated ({','.join(DATA_KINDS)}; default: all)",
    )
    parser.add_argument(
        "--small-seed",
        type=_seed,
        default=None,
        help="the smaller account for the memory comparison (default: the seed with a fifth of the images)",
    )
    parser.add_argument(
        "--no-copy-floor",
        action="store_true",
        help="skip measuring the copy floor (the run's file copies by a bare loop)",
    )
    parser.add_argument(
        "--app-rate",
        type=_positive,
        default=None,
        help="CVDSR_API_RATE_PER_SECOND for the host (default: the app's own default)",
    )


def run_from_args(args: argparse.Namespace) -> int:
    options = BenchOptions.from_args(args)
    if not getattr(args, "verbose", False):
        # The status polling and the baseline's calls would log every request under `cvdsr`'s INFO level.
        for noisy in ("httpx", "httpcore", "urllib3", "msrest", "azure"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    if options.kind == "erase" and options.include:
        print("cvdsr bench: --include applies to exports only", file=sys.stderr)
        return 2
    with _terminate_as_interrupt():
        try:
            figures = run_bench(options, progress=_stderr)
        except KeyboardInterrupt:
            print("cvdsr bench: interrupted; everything it started was stopped", file=sys.stderr)
            return 130
        except BenchError as error:
            print(f"cvdsr bench: {error}", file=sys.stderr)
            return 1
    print(report.as_json(figures) if args.json else report.render(figures))
    return 0 if figures["result_status"] == "succeeded" else 1


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (and SIGINT) unwind as KeyboardInterrupt, so the ``finally`` blocks stop what was started."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous_term = signal.signal(signal.SIGTERM, handler)
    # Also when started in the background of a script, where SIGINT arrives ignored.
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous_term)
        signal.signal(signal.SIGINT, previous_int)


def _stderr(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """``python -m local.bench``: the benchmark, or one of its worker processes (named by a first flag)."""
    arguments = sys.argv[1:] if argv is None else argv
    if arguments[:1] == [WORKER_FLAG]:
        return baseline_worker(arguments[1:])
    if arguments[:1] == [FLOOR_WORKER_FLAG]:
        return copy_floor_worker(arguments[1:])
    parser = argparse.ArgumentParser(prog="cvdsr bench", description="Benchmark an export or erase.")
    add_arguments(parser)
    return run_from_args(parser.parse_args(arguments))
