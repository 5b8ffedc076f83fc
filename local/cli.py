"""The ``cvdsr`` command: run cvdsr locally, without Azure (README "Local development").

Each subcommand lives with the component it runs; this module only builds the parser and dispatches.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

# subcommand -> (module, its add-arguments function, its run function, help)
_COMMANDS: dict[str, tuple[str, str, str, str]] = {
    "simulate": ("local.simulator.cli", "add_arguments", "run_from_args", "run the Custom Vision simulator"),
    "host": ("local.host.cli", "add_arguments", "run_from_args", "run function_app.py on the development host"),
    "submit": ("local.requests_cli", "add_submit_arguments", "run_submit", "send an export or erase request"),
    "status": ("local.requests_cli", "add_status_arguments", "run_status", "print a request's status"),
    "extend": (
        "local.requests_cli",
        "add_extend_arguments",
        "run_extend",
        "extend a request's due date, with a reason",
    ),
    "register": ("local.register_cli", "add_arguments", "run_from_args", "export the request register"),
    "verify-certificate": (
        "local.certificate_cli",
        "add_arguments",
        "run_from_args",
        "verify an erasure certificate's seal and signature, and print what it proves",
    ),
    "demo": ("local.demo", "add_arguments", "run_from_args", "run an export and an erase end to end, locally"),
    "bench": ("local.bench.cli", "add_arguments", "run_from_args", "benchmark an export or erase against its bound"),
    "selftest": (
        "local.selftest.cli",
        "add_arguments",
        "run_from_args",
        "prove a deployment on a real resource with a scratch project, touching nothing else",
    ),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cvdsr", description="cvdsr: GDPR/CCPA requests for Azure Custom Vision.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging (still never logs secrets)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, adder, runner, help_text) in _COMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text)
        getattr(importlib.import_module(module_name), adder)(sub)
        sub.set_defaults(module=module_name, runner=runner)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # The Azure SDKs log every HTTP exchange at INFO; that is noise for a command line.
    for noisy in ("azure", "httpx", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    result: int = getattr(importlib.import_module(args.module), args.runner)(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
