"""Start and stop Azurite (the pinned npm package) for local runs and tests.

Used by the development host (``cvdsr host`` starts Azurite when ``AzureWebJobsStorage`` points at it and
nothing answers) and by the test suite's ``azurite`` fixture. Azurite is always started through
``node_modules/.bin/azurite`` (never ``npx``: killing npx leaves node running) in its own process group,
so stopping it stops everything it started.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

ACCOUNT_NAME = "devstoreaccount1"
# The well-known development storage key (public, documented by Microsoft; not a secret).
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
DEFAULT_PORTS = (10000, 10001, 10002)
REPO_ROOT = Path(__file__).resolve().parent.parent


class AzuriteError(RuntimeError):
    """Azurite could not be started."""


def connection_string(host: str, blob_port: int, queue_port: int, table_port: int) -> str:
    """The standard development-account connection string with explicit endpoints."""
    return (
        "DefaultEndpointsProtocol=http;"
        f"AccountName={ACCOUNT_NAME};AccountKey={ACCOUNT_KEY};"
        f"BlobEndpoint=http://{host}:{blob_port}/{ACCOUNT_NAME};"
        f"QueueEndpoint=http://{host}:{queue_port}/{ACCOUNT_NAME};"
        f"TableEndpoint=http://{host}:{table_port}/{ACCOUNT_NAME};"
    )


def parse_connection_string(value: str) -> dict[str, str]:
    """Split ``Key=Value;...`` into a dict (keys as written; values may contain '=')."""
    parts: dict[str, str] = {}
    for item in value.split(";"):
        item = item.strip()
        if not item or "=" not in item:
            continue
        key, _, val = item.partition("=")
        parts[key.strip()] = val.strip()
    return parts


def expand_development_storage(value: str) -> str:
    """``UseDevelopmentStorage=true`` → the explicit connection string on the default ports."""
    parts = {k.lower(): v for k, v in parse_connection_string(value).items()}
    if parts.get("usedevelopmentstorage", "").lower() == "true":
        proxy = parts.get("developmentstorageproxyuri", "http://127.0.0.1").rstrip("/")
        host = urlparse(proxy).hostname or "127.0.0.1"
        return connection_string(host, *DEFAULT_PORTS)
    return value


def local_endpoints(conn: str) -> list[tuple[str, int]] | None:
    """(host, port) of blob/queue/table when the connection string points at a loopback Azurite, else None."""
    conn = expand_development_storage(conn)
    parts = {k.lower(): v for k, v in parse_connection_string(conn).items()}
    result: list[tuple[str, int]] = []
    for key in ("blobendpoint", "queueendpoint", "tableendpoint"):
        url = parts.get(key)
        if not url:
            return None
        parsed = urlparse(url)
        if parsed.hostname not in ("127.0.0.1", "localhost") or parsed.port is None:
            return None
        result.append((parsed.hostname, parsed.port))
    return result


def port_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def azurite_executable() -> Path:
    exe = REPO_ROOT / "node_modules" / ".bin" / "azurite"
    if not exe.exists():
        raise AzuriteError(f"{exe} not found: run `npm ci` (or `make install`) first")
    return exe


@dataclass
class AzuriteProcess:
    """A running Azurite started by this process."""

    host: str
    blob_port: int
    queue_port: int
    table_port: int
    location: Path
    process: subprocess.Popen[bytes]
    _owned_location: bool = field(default=False, repr=False)

    @property
    def connection_string(self) -> str:
        return connection_string(self.host, self.blob_port, self.queue_port, self.table_port)

    def stop(self, timeout: float = 15.0, *, graceful: bool = True) -> None:
        """Stop Azurite (its whole process group) and remove a temporary location.

        Graceful: SIGINT (Azurite saves its metadata; it waits for open client connections, up to
        ``timeout``), then SIGKILL. ``graceful=False`` kills at once (for throw-away test data)."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGINT if graceful else signal.SIGKILL)
            try:
                self.process.wait(timeout=timeout if graceful else 10.0)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=timeout)
        if self._owned_location:
            shutil.rmtree(self.location, ignore_errors=True)


def start_azurite(
    location: Path | None = None,
    *,
    host: str = "127.0.0.1",
    ports: tuple[int, int, int] | None = None,
    ready_timeout: float = 30.0,
) -> AzuriteProcess:
    """Start Azurite (blob, queue, table) and wait until all three answer.

    ``ports=None`` picks free ports (retrying if one got taken in the meantime); ``location=None`` uses a
    temporary directory that :meth:`AzuriteProcess.stop` removes.
    """
    owned = location is None
    loc = Path(tempfile.mkdtemp(prefix="azurite-")) if location is None else location
    loc.mkdir(parents=True, exist_ok=True)
    exe = azurite_executable()
    attempts = 1 if ports is not None else 3
    last_error = ""
    for _ in range(attempts):
        chosen = ports if ports is not None else (free_port(host), free_port(host), free_port(host))
        args = [
            str(exe),
            "--silent",
            "--skipApiVersionCheck",
            "--loose",
            "--location",
            str(loc),
            "--blobHost",
            host,
            "--queueHost",
            host,
            "--tableHost",
            host,
            "--blobPort",
            str(chosen[0]),
            "--queuePort",
            str(chosen[1]),
            "--tablePort",
            str(chosen[2]),
        ]
        log_path = loc / "azurite-stderr.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
        azurite = AzuriteProcess(host, *chosen, location=loc, process=proc, _owned_location=owned)
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            if all(port_answers(host, p) for p in chosen):
                return azurite
            time.sleep(0.1)
        last_error = log_path.read_text(errors="replace")[-2000:] if log_path.exists() else ""
        azurite._owned_location = False
        azurite.stop(graceful=False)
    if owned:
        shutil.rmtree(loc, ignore_errors=True)
    raise AzuriteError(f"Azurite did not start: {last_error.strip() or 'no output'}")


@contextlib.contextmanager
def running_azurite(location: Path | None = None) -> Iterator[AzuriteProcess]:
    """Context manager: Azurite on free ports for the duration of the block."""
    azurite = start_azurite(location)
    try:
        yield azurite
    finally:
        azurite.stop(graceful=location is not None)


def ensure_azurite(conn: str, location: Path) -> AzuriteProcess | None:
    """Start Azurite on the ports ``conn`` names when it points at a loopback Azurite that does not answer.

    Returns the started process (the caller stops it) or None when nothing had to be started (Azurite is
    already running, or the connection string points at a real storage account).
    """
    endpoints = local_endpoints(conn)
    if endpoints is None:
        return None
    if all(port_answers(h, p) for h, p in endpoints):
        return None
    hosts = {h for h, _ in endpoints}
    host = "127.0.0.1" if hosts & {"localhost"} else next(iter(hosts))
    ports = (endpoints[0][1], endpoints[1][1], endpoints[2][1])
    return start_azurite(location, host=host, ports=ports)
