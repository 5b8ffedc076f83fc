"""Command line of the development host (``cvdsr host``; also ``python -m local.host``)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

from .config import HostConfigError, mask_secrets
from .host import Host, HostConfig


class MaskingFormatter(logging.Formatter):
    """Never let a connection string key, SAS signature or function key reach the log."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_secrets(super().format(record))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--project",
        type=Path,
        default=Path.cwd(),
        help="directory with function_app.py, host.json and local.settings.json (default: current directory)",
    )
    parser.add_argument("--port", type=int, default=7071, help="HTTP port (default 7071; 0 picks a free port)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument(
        "--no-azurite",
        action="store_true",
        help="do not start Azurite even if AzureWebJobsStorage points at a local one that is not running",
    )
    parser.add_argument(
        "--azurite-location", type=Path, default=None, help="Azurite data directory (default <project>/.azurite)"
    )
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="log level (default INFO)"
    )


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(MaskingFormatter("[%(asctime)s] %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("cvdsr").setLevel(level)
    for noisy in ("azure", "uamqp", "uvicorn"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def run_from_args(args: argparse.Namespace) -> int:
    configure_logging(args.log_level)
    log = logging.getLogger("cvdsr.host")
    config = HostConfig(
        project_dir=args.project,
        port=args.port,
        host=args.host,
        start_azurite=not args.no_azurite,
        azurite_location=args.azurite_location,
    )
    host = Host(config)
    try:
        host.prepare()
    except HostConfigError as exc:
        log.error("%s", exc)
        host.stop_azurite()
        return 2
    except Exception as exc:
        log.error("could not load the function app: %s", mask_secrets(f"{type(exc).__name__}: {exc}"))
        host.stop_azurite()
        return 2

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        try:
            await host.start()
        except HostConfigError as exc:
            log.error("%s", exc)
            await host.stop()
            return 2
        log.info("Listening on %s (Ctrl+C to stop)", host.base_url)
        await stop.wait()
        await host.stop()
        return 0

    try:
        return asyncio.run(main())
    finally:
        host.stop_azurite()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cvdsr host", description="Run function_app.py locally on Azurite.")
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))
