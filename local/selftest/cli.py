"""``cvdsr selftest --resource NAME``: the self-test from the command line.

Against the local host by default; against a deployment with ``--url https://APP.azurewebsites.net``
and the function key in ``CVDSR_FUNCTION_KEY`` (or ``--key``, which other users of the machine can see
in the process list). The resource's endpoint and training key, and the results storage, come from the
environment or ``local.settings.json``, named as the app names them (``CUSTOMVISION__<NAME>__ENDPOINT``,
``CUSTOMVISION__<NAME>__TRAININGKEY``, ``AzureWebJobsStorage`` or its ``__blobServiceUri`` form with
``az login``, ``CVDSR_RESULTS_CONTAINER``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from pathlib import Path

from local.requests_cli import DEFAULT_HOST_URL

from .run import CheckFailed, Selftest, Target


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--resource", required=True, help="the configured resource name to test")
    parser.add_argument(
        "--url", default=DEFAULT_HOST_URL, help=f"the app (default: the local host, {DEFAULT_HOST_URL})"
    )
    parser.add_argument("--key", help="the function key (prefer CVDSR_FUNCTION_KEY)")
    parser.add_argument("--train", action="store_true", help="also train the scratch project once")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds each request may take (default 600)")


def settings_environ(directory: Path = Path(".")) -> dict[str, str]:
    """``local.settings.json`` Values under the environment (the environment wins)."""
    values: dict[str, str] = {}
    path = directory / "local.settings.json"
    if path.exists():
        values.update({k: str(v) for k, v in (json.loads(path.read_text()).get("Values") or {}).items()})
    values.update({k: v for k, v in os.environ.items() if v})
    return values


def run_from_args(args: argparse.Namespace) -> int:
    environ = settings_environ()
    target = Target(args.url, args.key or environ.get("CVDSR_FUNCTION_KEY"), environ, args.timeout)
    try:
        selftest = Selftest(target, args.resource, train=args.train, out=lambda line: print(line, flush=True))
    except CheckFailed as error:
        print(f"selftest failed: {error}")
        return 1
    return 0 if asyncio.run(selftest.run()) else 1
