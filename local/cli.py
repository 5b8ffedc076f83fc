"""The ``cvdsr`` command: run cvdsr locally, without Azure (DESIGN §8).

Each subcommand lives with the component it runs; this module only dispatches, importing lazily so
that ``cvdsr simulate`` does not load the Functions host.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

# subcommand -> (module with add_arguments/run_from_args, help)
_COMMANDS: dict[str, tuple[str, str]] = {
    "simulate": ("local.simulator.cli", "run the Custom Vision simulator"),
    "host": ("local.host.cli", "run function_app.py on the development host (Azurite)"),
}
# Subcommands of the contract that later work delivers; they say so instead of pretending.
_NOT_YET: dict[str, str] = {
    "submit": "enqueue an export or erase request",
    "status": "print a request's status",
    "demo": "run an export and an erase end to end on the embedded default",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cvdsr", description="cvdsr: GDPR/CCPA requests for Azure Custom Vision.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging (still never logs secrets)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in _COMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text)
        importlib.import_module(module_name).add_arguments(sub)
        sub.set_defaults(module=module_name)
    for name, help_text in _NOT_YET.items():
        sub = commands.add_parser(name, help=f"{help_text} (not available yet)")
        sub.add_argument("args", nargs=argparse.REMAINDER)
        sub.set_defaults(module=None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.module is None:
        print(
            f"cvdsr {args.command}: not available yet. It arrives with the export and erase work; "
            "see README.md, 'Status'.",
            file=sys.stderr,
        )
        return 2
    result: int = importlib.import_module(args.module).run_from_args(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
